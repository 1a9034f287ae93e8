#!/usr/bin/env python3
"""Launchers for bench/compare.sh: concurrent bursts and the cold path to the first STS byte.

Both modes run in one process that launches the commands itself (posix_spawn) and reads one
clock, CLOCK_MONOTONIC (time.monotonic_ns), for every timestamp. Python's own start-up is
outside every measured interval. Results are written as JSON.

  compare_driver.py burst --out FILE --concurrency N --rounds R --warmup W \
      --expect FILE [--check NAME ...] NAME=JSON_ARGV [NAME=JSON_ARGV ...]
      Per round and command: start N copies at once (stdout to /dev/null), wait for all, and
      record the wall time from the first launch to the last exit. The commands take turns
      round by round, so load that comes and goes hits all of them alike. Before timing, one
      burst of each --check command writes its outputs to files; every one must equal --expect.

  compare_driver.py cold --out FILE --runs R --botocore-runs B --home DIR \
      --rolegate-argv JSON --true-argv JSON --botocore-argv JSON
      A listener on 127.0.0.1 (a free port) stands in for STS; AWS_ENDPOINT_URL points at it.
      Per run: empty the caches under DIR, note the time, launch the command, and note when the
      connection is accepted and when its first byte arrives; then kill the command. /bin/true
      runs take turns with them: launch to exit is the cost of starting any process.

Every launched command gets this process's environment (compare.sh runs it under env -i), with
HOME and AWS_ENDPOINT_URL replaced in cold mode.
"""

import argparse
import json
import os
import re
import select
import shutil
import signal
import socket
import sys
import time


def spawn(argv, env, stdout_path="/dev/null", stderr_path="/dev/null"):
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        (os.POSIX_SPAWN_OPEN, 2, stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
    ]
    return os.posix_spawn(argv[0], argv, env, file_actions=actions)


def wait_ok(pid, what):
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"compare_driver: {what} exited with {code}")


def burst(args):
    commands = []
    for spec in args.command:
        name, _, argv = spec.partition("=")
        commands.append((name, json.loads(argv)))
    env = dict(os.environ)
    expect = open(args.expect, "rb").read()
    work = args.scratch or os.path.dirname(os.path.abspath(args.out))

    # Check: one burst of each checked command, outputs kept; every copy must print --expect.
    for name, argv in commands:
        if name not in args.check:
            continue
        d = os.path.join(work, "burst-check-" + re.sub(r"\W", "_", name))
        os.makedirs(d, exist_ok=True)
        err = os.path.join(d, "stderr")
        pids = [spawn(argv, env, os.path.join(d, f"{i}.out"), err) for i in range(args.concurrency)]
        for pid in pids:
            wait_ok(pid, f"{name} (check burst; stderr in {err})")
        for i in range(args.concurrency):
            if open(os.path.join(d, f"{i}.out"), "rb").read() != expect:
                sys.exit(f"compare_driver: copy {i} of {name} printed something else")

    walls = {name: [] for name, _ in commands}
    # The launcher's own CPU time (user + system) for launching and reaping the copies: the part
    # of the wall time that is the launcher's and not the commands'.
    launcher_cpu = {name: [] for name, _ in commands}
    for r in range(args.warmup + args.rounds):
        for name, argv in commands:
            c0 = time.process_time_ns()
            t0 = time.monotonic_ns()
            pids = [spawn(argv, env) for _ in range(args.concurrency)]
            for pid in pids:
                wait_ok(pid, name)
            t1 = time.monotonic_ns()
            c1 = time.process_time_ns()
            if r >= args.warmup:
                walls[name].append(t1 - t0)
                launcher_cpu[name].append(c1 - c0)
    json.dump(
        {"concurrency": args.concurrency, "rounds": args.rounds, "warmup": args.warmup,
         "wall_ns": walls, "launcher_cpu_ns": launcher_cpu},
        open(args.out, "w"),
    )


def reset_caches(home):
    for sub in (".cache", os.path.join(".aws", "cli")):
        shutil.rmtree(os.path.join(home, sub), ignore_errors=True)


def first_request(listener, pid, deadline_s, stderr_path, what):
    """Wait for a connection from pid; return (accept_ns, first_byte_ns, first bytes)."""
    deadline = time.monotonic() + deadline_s
    while True:
        ready, _, _ = select.select([listener], [], [], 0.1)
        if ready:
            conn, _ = listener.accept()
            t_accept = time.monotonic_ns()
            break
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            err = open(stderr_path, errors="replace").read()[-2000:]
            sys.exit(f"compare_driver: {what} exited ({os.waitstatus_to_exitcode(status)}) "
                     f"before connecting:\n{err}")
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            sys.exit(f"compare_driver: {what} did not connect within {deadline_s} s")
    conn.settimeout(deadline_s)
    data = conn.recv(65536)
    t_first = time.monotonic_ns()
    # Read a little more (not timed) to see which STS action it is.
    conn.settimeout(0.3)
    try:
        while b"Action=" not in data and len(data) < 65536:
            more = conn.recv(65536)
            if not more:
                break
            data += more
    except OSError:
        pass
    return conn, t_accept, t_first, data


def cold(args):
    base_env = dict(os.environ)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    env = dict(base_env, HOME=args.home, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}")
    work = args.scratch or os.path.dirname(os.path.abspath(args.out))

    def one_request(name, argv):
        reset_caches(args.home)
        err = os.path.join(work, f"cold-{name}.stderr")
        open(err, "w").close()
        t0 = time.monotonic_ns()
        pid = spawn(argv, env, "/dev/null", err)
        conn, t_accept, t_first, data = first_request(listener, pid, 30, err, name)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        conn.close()
        m = re.search(rb"Action=(\w+)", data)
        line = data.split(b"\r\n", 1)[0].decode(errors="replace")
        return t_accept - t0, t_first - t0, line, m.group(1).decode() if m else None

    def one_true(argv):
        t0 = time.monotonic_ns()
        pid = spawn(argv, env)
        _, status = os.waitpid(pid, 0)
        t1 = time.monotonic_ns()
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit("compare_driver: /bin/true failed")
        return t1 - t0

    rolegate = json.loads(args.rolegate_argv)
    true = json.loads(args.true_argv)
    botocore = json.loads(args.botocore_argv)
    res = {"runs": args.runs, "botocore_runs": args.botocore_runs,
           "rolegate_accept_ns": [], "rolegate_first_byte_ns": [],
           "botocore_accept_ns": [], "botocore_first_byte_ns": [], "true_exit_ns": []}
    for i in range(args.warmup):
        one_request("rolegate", rolegate)
        one_true(true)
    for i in range(args.runs):
        acc, first, line, action = one_request("rolegate", rolegate)
        if not line.startswith("POST "):
            sys.exit(f"compare_driver: rolegate's first request is not a POST: {line!r}")
        res["rolegate_accept_ns"].append(acc)
        res["rolegate_first_byte_ns"].append(first)
        res.setdefault("rolegate_request", f"{line} Action={action}")
        res["true_exit_ns"].append(one_true(true))
        if i < args.botocore_runs:
            acc, first, line, action = one_request("botocore", botocore)
            res["botocore_accept_ns"].append(acc)
            res["botocore_first_byte_ns"].append(first)
            res.setdefault("botocore_request", f"{line} Action={action}")
    reset_caches(args.home)
    json.dump(res, open(args.out, "w"))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    b = sub.add_parser("burst")
    b.add_argument("--out", required=True)
    b.add_argument("--scratch", help="directory for outputs and logs (default: beside --out)")
    b.add_argument("--concurrency", type=int, default=64)
    b.add_argument("--rounds", type=int, default=30)
    b.add_argument("--warmup", type=int, default=3)
    b.add_argument("--expect", required=True)
    b.add_argument("--check", action="append", default=[], help="NAME whose output must be --expect")
    b.add_argument("command", nargs="+", help="NAME=JSON argv")
    c = sub.add_parser("cold")
    c.add_argument("--out", required=True)
    c.add_argument("--scratch", help="directory for logs (default: beside --out)")
    c.add_argument("--runs", type=int, default=50)
    c.add_argument("--botocore-runs", type=int, default=10)
    c.add_argument("--warmup", type=int, default=3)
    c.add_argument("--home", required=True)
    c.add_argument("--rolegate-argv", required=True)
    c.add_argument("--true-argv", required=True)
    c.add_argument("--botocore-argv", required=True)
    args = p.parse_args()
    if args.mode == "burst":
        burst(args)
    else:
        cold(args)


if __name__ == "__main__":
    main()
