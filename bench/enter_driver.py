#!/usr/bin/env python3
"""Times one credential request from the moment Enter is pressed at the MFA prompt to the
program's exit with credentials, through a real pseudo-terminal.

Usage: enter_driver.py RUNS TYPING_SECONDS LABEL -- COMMAND...
Each run starts COMMAND on a new pty, waits for "MFA code" on the terminal, waits
TYPING_SECONDS (a person typing six digits), sends "123456" and Enter, and reads until the
program exits. The command must exit 0 and print credentials ("AccessKeyId" in JSON, or access_key=...); between
runs the caller's command must start from an empty cache (the caller's job, e.g. a fresh
ROLEGATE_CACHE_DIR per run through `sh -c`). Prints: LABEL min median max (milliseconds).
"""
import os
import pty
import re
import select
import statistics
import sys
import time


def read_until(fd, pattern, deadline):
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return seen, True
        if not chunk:
            return seen, True
        seen += chunk
        if pattern is not None and re.search(pattern, seen):
            return seen, False
    raise SystemExit(f"timed out; the terminal showed: {seen[-400:]!r}")


def one_run(command, typing):
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    read_until(fd, rb"MFA code", time.monotonic() + 60)
    time.sleep(typing)
    entered = time.monotonic()
    os.write(fd, b"123456\r")
    rest, _ = read_until(fd, None, time.monotonic() + 60)
    _, status = os.waitpid(pid, 0)
    done = time.monotonic()
    os.close(fd)
    if os.waitstatus_to_exitcode(status) != 0 or not re.search(rb'"AccessKeyId"|access_key=\w+', rest):
        raise SystemExit(f"{command[0]} failed: {rest[-600:]!r}")
    return (done - entered) * 1000


def main():
    runs, typing, label = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    command = sys.argv[sys.argv.index("--") + 1 :]
    times = [one_run(command, typing) for _ in range(runs)]
    print(f"{label}\t{min(times):.0f}\t{statistics.median(times):.0f}\t{max(times):.0f}")


main()
