#!/usr/bin/env bash
# rolegate against the credential helpers people use today, in one run (see docs/PERFORMANCE.md,
# "Compared with other helpers").
#
# It builds release, makes a throw-away HOME with an MFA role profile, warms every tool's cache
# once against moto_server (an STS mock on 127.0.0.1), and measures:
#   1. one cached call, in ONE hyperfine run (-N: no shell in between):
#        /bin/true, the floor (examples/floor.rs), rolegate credential-process target,
#        bench/botocore_cached.py (botocore + the AWS CLI's JSON file cache, what the AWS CLI
#        does for an MFA role profile on a cache hit), and bench/seed_helper.sh (the
#        credential_process shell script of the original report: 5 AWS CLI calls);
#   2. 64 concurrent cached calls: wall time from the first launch to the last exit, rolegate
#      against the floor (bench/compare_driver.py burst);
#   3. peak RSS of one cached call (GNU time);
#   4. the cold path: process launch to the first byte of the STS request, against a listener
#      on 127.0.0.1, next to launch-to-exit of /bin/true (bench/compare_driver.py cold).
# and prints a summary.
#
# moto: one moto_server warms rolegate's and botocore's caches and is stopped before any timing,
# so those two are served from their caches with nothing listening on their endpoint. A second
# moto_server stays up during the timing for the seed script only: that script calls
# `aws sts get-caller-identity` on every call, cache hit or not.
#
# Usage: bench/compare.sh [--update-doc] [--no-build] [--out DIR] [--min-runs N] [--max-runs N]
#                         [--warmup N] [--concurrency N] [--rounds N] [--cold-runs N]
#   --update-doc      also rewrite the block between <!-- compare:begin --> and
#                     <!-- compare:end --> in docs/PERFORMANCE.md
#   --min-runs N      hyperfine --min-runs (default 20; the slow tools get this many runs)
#   --max-runs N      hyperfine --max-runs (default 1000; the fast ones get this many)
#   --warmup N        hyperfine --warmup, per command (default 3)
#   --concurrency N   copies started at once (default 64)
#   --rounds N        timed bursts per command (default 30)
#   --cold-runs N     cold calls of rolegate (default 50; botocore gets a fifth of them)
#
# Needs: cargo, python3, hyperfine, GNU time, jq, moto_server, the AWS CLI (v1) and botocore.
# hyperfine, GNU time and jq are installed with apt-get when missing and running as root; moto
# and the AWS CLI with pip, in a virtualenv under ${XDG_CACHE_HOME:-~/.cache}/rolegate-bench/.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

update_doc=0
build=1
out=""
min_runs=20
max_runs=1000
warmup=3
concurrency=64
rounds=30
cold_runs=50
while (($#)); do
    case "$1" in
        --update-doc) update_doc=1 ;;
        --no-build) build=0 ;;
        --out) out="${2:?--out needs a directory}"; shift ;;
        --min-runs) min_runs="${2:?--min-runs needs a number}"; shift ;;
        --max-runs) max_runs="${2:?--max-runs needs a number}"; shift ;;
        --warmup) warmup="${2:?--warmup needs a number}"; shift ;;
        --concurrency) concurrency="${2:?--concurrency needs a number}"; shift ;;
        --rounds) rounds="${2:?--rounds needs a number}"; shift ;;
        --cold-runs) cold_runs="${2:?--cold-runs needs a number}"; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "compare.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
for v in min_runs max_runs concurrency rounds cold_runs; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --${v//_/-} must be a positive integer" >&2; exit 2; }
done
[[ "$warmup" =~ ^[0-9]+$ ]] || { echo "compare.sh: --warmup must be an integer" >&2; exit 2; }
((min_runs <= max_runs)) || { echo "compare.sh: --min-runs is above --max-runs" >&2; exit 2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bench="$repo/bench"

script=compare.sh
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

# --- Tools -----------------------------------------------------------------------------------
need_timing_tools
have jq || apt_install jq

# The Python tools: a python3 that imports botocore and awscli and has `aws` and `moto_server`
# beside it. The interpreter is resolved to its real path (a version manager's shim would add a
# shell script to every call of the AWS CLI); else a virtualenv with both.
tools_py() {
    local py
    py="$(python3 -c 'import sys; print(sys.executable)')"
    if "$py" -c 'import botocore, awscli' 2>/dev/null; then
        local dir
        dir="$("$py" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
        if [[ -x "$dir/aws" && -x "$dir/moto_server" ]]; then
            echo "$py"
            return
        fi
    fi
    bench_venv compare-venv awscli 'moto[server]'
}
py="$(tools_py)"
py_bin_dir="$("$py" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
aws_bin="$py_bin_dir/aws"
moto_bin="$py_bin_dir/moto_server"
[[ -x "$aws_bin" && -x "$moto_bin" ]] || die "no aws or moto_server beside $py"
tool_versions="$("$py" -c 'import sys, botocore, awscli; print(f"Python {sys.version.split()[0]}, botocore {botocore.__version__}, AWS CLI {awscli.__version__}")')"

# --- Build -----------------------------------------------------------------------------------
release_build "$build"
out="${out:-$target_dir/bench/compare}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -f "$out"/*.json "$out"/*.md

# --- A throw-away HOME, and cleanup of everything this script starts -------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/rolegate-compare.XXXXXX")"
cleanup() {
    stop_all_moto
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
home="$work/home"
write_aws_files "$home"
role_arn="arn:aws:iam::123456789012:role/hc-master"
mfa_arn="arn:aws:iam::123456789012:mfa/username"

port_a="$(free_port)"
port_b="$(free_port)"
while [[ "$port_b" == "$port_a" ]]; do port_b="$(free_port)"; done
endpoint_a="http://127.0.0.1:$port_a"
endpoint_b="http://127.0.0.1:$port_b"

# Every measured command (and hyperfine and the drivers themselves) runs with this environment
# only. AWS_DEFAULT_REGION: the seed script's temporary profile has no region, and current
# botocore needs one for STS. AWS_ENDPOINT_URL points at moto A, which is stopped before timing.
# PATH starts with the directory of the real `aws` (the seed script runs `aws` and `jq`).
clean_env=(env -i
    "HOME=$home"
    "PATH=$py_bin_dir:/usr/bin:/bin"
    "LANG=C.UTF-8"
    "AWS_EC2_METADATA_DISABLED=true"
    "AWS_DEFAULT_REGION=us-west-2"
    "AWS_ENDPOINT_URL=$endpoint_a")


# --- Warm every cache --------------------------------------------------------------------------
# The seed script first: its `aws configure set` calls edit ~/.aws/config and ~/.aws/credentials
# (a [tf_temp] profile), and the other tools must see the files as they will be during timing.
start_moto b "$port_b"
say "warming the seed script's tf_temp profile (MFA code on stdin)"
echo 123456 | "${clean_env[@]}" "AWS_ENDPOINT_URL=$endpoint_b" \
    "$bench/seed_helper.sh" "$role_arn" "$mfa_arn" base >"$work/seed-warm.json" 2>"$work/seed-warm.err" \
    || { cat "$work/seed-warm.err" "$work/moto-b.log" >&2; die "the seed script's warm-up failed"; }

start_moto a "$port_a"
say "warming rolegate: rolegate credential-process target --mfa-token 123456"
"${clean_env[@]}" "$rolegate" credential-process target --mfa-token 123456 >"$work/creds.json" \
    || { cat "$work/moto-a.log" >&2; die "rolegate's warm-up failed"; }
say "warming botocore_cached.py (its MFA prompter answers 123456)"
"${clean_env[@]}" "$py" "$bench/botocore_cached.py" target --mfa-code 123456 >"$work/boto-warm.json" \
    || { cat "$work/moto-a.log" >&2; die "botocore_cached.py's warm-up failed"; }
stop_moto a
say "moto_server a stopped: rolegate and botocore must now be served from their caches"

# --- Every tool must answer from its cache, correctly --------------------------------------------
check_cached_and_floor
"${clean_env[@]}" "$py" "$bench/botocore_cached.py" target >"$work/boto.json" \
    || die "botocore_cached.py's cached call failed (was it not served from the cache?)"
seed_b_before="$(moto_requests b)"
"${clean_env[@]}" "AWS_ENDPOINT_URL=$endpoint_b" \
    "$bench/seed_helper.sh" "$role_arn" "$mfa_arn" base >"$work/seed.json" </dev/null \
    || die "the seed script's cached call failed"
python3 - "$work" <<'EOF' || die "a tool printed unexpected credentials"
import json, sys
w = sys.argv[1]
def load(name):
    return json.load(open(f"{w}/{name}"))
boto_warm, boto = load("boto-warm.json"), load("boto.json")
seed_warm, seed = load("seed-warm.json"), load("seed.json")
for name, a, b in (("botocore", boto_warm, boto), ("seed", seed_warm, seed)):
    for k in ("AccessKeyId", "SecretAccessKey", "SessionToken"):
        if not a.get(k) or a.get(k) != b.get(k):
            sys.exit(f"{name}: {k} of the cached call differs from the warm-up")
    if b.get("Version") != 1 or not b.get("Expiration"):
        sys.exit(f"{name}: not credential_process JSON")
EOF
[[ "$(moto_requests b)" == $((seed_b_before + 1)) ]] || die "the seed script's cached call did not make exactly one STS call"
if have strace; then
    for what in rolegate botocore; do
        if [[ "$what" == rolegate ]]; then cmd=("$rolegate" credential-process target); else cmd=("$py" "$bench/botocore_cached.py" target); fi
        "${clean_env[@]}" "$(command -v strace)" -f -qq -e trace=connect -o "$work/net-$what.trace" "${cmd[@]}" >/dev/null
        if grep -Eq 'AF_INET|AF_INET6' "$work/net-$what.trace"; then
            cat "$work/net-$what.trace" >&2
            die "$what's cached call connected to the network"
        fi
    done
    say "strace: the cached calls of rolegate and botocore connect to nothing"
fi

# --- 1. One cached call, one hyperfine run ------------------------------------------------------
busy() { # cargo/rustc processes of others on the machine, a hint of overlapping builds
    local n
    n=$( { pgrep -x cargo; pgrep -x rustc; true; } 2>/dev/null | wc -l)
    echo "$n"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
q() { printf '%q' "$1"; }
say "hyperfine: $warmup warm-up runs, then between $min_runs and $max_runs runs per command (slow tools get $min_runs)"
load_1_before="$(load)"; busy_1="$(busy)"
"${clean_env[@]}" "$hyperfine_bin" -N --style basic --warmup "$warmup" \
    --min-runs "$min_runs" --max-runs "$max_runs" \
    --export-json "$out/hyperfine.json" --export-markdown "$out/hyperfine.md" \
    -n 'true' '/bin/true' \
    -n 'floor' "$(q "$floor") $(q "$work/creds.json")" \
    -n 'rolegate (cached)' "$(q "$rolegate") credential-process target" \
    -n 'botocore + AWS CLI cache' "$(q "$py") $(q "$bench/botocore_cached.py") target" \
    -n 'seed script (5 aws calls)' \
    "env AWS_ENDPOINT_URL=$endpoint_b $(q "$bench/seed_helper.sh") $role_arn $mfa_arn base" >&2
load_1_after="$(load)"; busy_1="$busy_1/$(busy)"
seed_b_calls=$(($(moto_requests b) - seed_b_before - 1))

# --- 2. 64 concurrent cached calls ----------------------------------------------------------------
say "$concurrency concurrent calls: $rounds rounds per command, taking turns"
json_argv() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@"; }
load_2_before="$(load)"; busy_2="$(busy)"
"${clean_env[@]}" "$py" "$bench/compare_driver.py" burst --out "$out/burst.json" --scratch "$work" \
    --concurrency "$concurrency" --rounds "$rounds" --warmup 3 \
    --expect "$work/creds.json" --check rolegate --check floor \
    "rolegate=$(json_argv "$rolegate" credential-process target)" \
    "floor=$(json_argv "$floor" "$work/creds.json")" \
    "true=$(json_argv /bin/true)"
load_2_after="$(load)"; busy_2="$busy_2/$(busy)"

# --- 3. Peak RSS of one call: the largest of 5, in KiB ---------------------------------------------
peak_rss() { # N COMMAND...
    local n=$1 max=0 kib
    shift
    for _ in $(seq "$n"); do
        "${clean_env[@]}" /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null </dev/null
        kib=$(tail -n 1 "$work/rss")
        if ((kib > max)); then max=$kib; fi
    done
    echo "$max"
}
say "peak RSS (GNU time)"
rss_true=$(peak_rss 5 /bin/true)
rss_floor=$(peak_rss 5 "$floor" "$work/creds.json")
rss_rolegate=$(peak_rss 5 "$rolegate" credential-process target)
rss_boto=$(peak_rss 5 "$py" "$bench/botocore_cached.py" target)
# The seed script is a tree of processes: GNU time reports the largest one (an `aws` call).
rss_seed=$(peak_rss 3 env "AWS_ENDPOINT_URL=$endpoint_b" "$bench/seed_helper.sh" "$role_arn" "$mfa_arn" base)
stop_moto b

# --- 4. The cold path: launch to the first byte of the STS request ---------------------------------
cold_home="$work/cold-home"
write_aws_files "$cold_home"
boto_cold_runs=$(((cold_runs + 4) / 5))
say "cold path: $cold_runs rolegate calls, $boto_cold_runs botocore calls, against a listener on 127.0.0.1"
load_4_before="$(load)"; busy_4="$(busy)"
"${clean_env[@]}" "$py" "$bench/compare_driver.py" cold --out "$out/cold.json" --scratch "$work" \
    --runs "$cold_runs" --botocore-runs "$boto_cold_runs" --warmup 3 --home "$cold_home" \
    --rolegate-argv "$(json_argv "$rolegate" credential-process target --mfa-token 123456)" \
    --true-argv "$(json_argv /bin/true)" \
    --botocore-argv "$(json_argv "$py" "$bench/botocore_cached.py" target --mfa-code 123456)"
load_4_after="$(load)"; busy_4="$busy_4/$(busy)"

# --- Summary -----------------------------------------------------------------------------------------
machine="$(machine_line)"
rev="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$repo" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
    rev="$rev + uncommitted changes in src/"
fi
rev="binary built $(date -u -r "$rolegate" '+%Y-%m-%d %H:%M UTC'), work tree at $rev"

BENCH_OUT="$out" BENCH_MACHINE="$machine" BENCH_RUSTC="$(rustc -V)" \
BENCH_HYPERFINE="$("$hyperfine_bin" --version)" BENCH_TOOLS="$tool_versions" \
BENCH_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" BENCH_REV="$rev" \
BENCH_WARMUP="$warmup" BENCH_MIN_RUNS="$min_runs" BENCH_MAX_RUNS="$max_runs" \
BENCH_SEED_CALLS="$seed_b_calls" \
BENCH_LOAD1="$load_1_before / $load_1_after" BENCH_LOAD2="$load_2_before / $load_2_after" \
BENCH_LOAD4="$load_4_before / $load_4_after" BENCH_BUSY="$busy_1, $busy_2, $busy_4" \
BENCH_RSS="$rss_true $rss_floor $rss_rolegate $rss_boto $rss_seed" \
    python3 - <<'EOF'
import json, os, statistics
e = os.environ
out = e["BENCH_OUT"]
hf = {r["command"]: r for r in json.load(open(f"{out}/hyperfine.json"))["results"]}
burst = json.load(open(f"{out}/burst.json"))
cold = json.load(open(f"{out}/cold.json"))
names = ["true", "floor", "rolegate (cached)", "botocore + AWS CLI cache", "seed script (5 aws calls)"]
rss = dict(zip(names, map(int, e["BENCH_RSS"].split())))
seed_runs = len(hf[names[4]]["times"])
seed_calls_expected = seed_runs + int(e["BENCH_WARMUP"])
seed_calls = int(e["BENCH_SEED_CALLS"])


def verdict(ok):
    return "met" if ok else "MISSED"


def fmt(seconds):
    ms = seconds * 1000
    if ms >= 1000:
        return f"{seconds:.2f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def ratio(x):
    return f"{x:.0f}x" if x >= 100 else f"{x:.1f}x"


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


rg = hf["rolegate (cached)"]["median"]
fl = hf["floor"]["median"]
rows = []
for n in names:
    r = hf[n]
    rows.append((n, fmt(r["median"]), f"{fmt(r['mean'])} ± {fmt(r['stddev'])}", fmt(r["min"]),
                 str(len(r["times"])), ratio(r["median"] / fl), ratio(r["median"] / rg),
                 f"{rss[n]} KiB"))

b = {k: statistics.median(v) / 1e9 for k, v in burst["wall_ns"].items()}
bmin = {k: min(v) / 1e9 for k, v in burst["wall_ns"].items()}
blaunch = {k: statistics.median(v) / 1e9 for k, v in burst["launcher_cpu_ns"].items()}
n_conc = burst["concurrency"]
burst_ratio = b["rolegate"] / b["floor"]
burst_ok = burst_ratio <= 2.0

rfb = [x / 1e9 for x in cold["rolegate_first_byte_ns"]]
racc = [x / 1e9 for x in cold["rolegate_accept_ns"]]
tex = [x / 1e9 for x in cold["true_exit_ns"]]
bfb = [x / 1e9 for x in cold["botocore_first_byte_ns"]]
overhead = statistics.median(rfb) - statistics.median(tex)
cold_ok = overhead <= 0.010
boto_over = statistics.median(bfb) - statistics.median(tex)

hf_runs = (f"one hyperfine -N run: {e['BENCH_WARMUP']} warm-up runs per command, then "
           f"{e['BENCH_MIN_RUNS']} to {e['BENCH_MAX_RUNS']} runs, as many as fit in 3 s")
machine = [
    ("machine", e["BENCH_MACHINE"]),
    ("toolchain", f"{e['BENCH_RUSTC']}; {e['BENCH_HYPERFINE']}; {e['BENCH_TOOLS']}"),
    ("rolegate", e["BENCH_REV"]),
    ("load average before / after", f"single call {e['BENCH_LOAD1']}; concurrent "
     f"{e['BENCH_LOAD2']}; cold {e['BENCH_LOAD4']}"),
    ("cargo/rustc processes of other work at start/end of each phase", e["BENCH_BUSY"]),
]

text = ["", "rolegate compared with other credential helpers", f"  1. one cached call ({hf_runs})"]
hdr = ("command", "median", "mean ± σ", "min", "runs", "× floor", "× rolegate", "peak RSS")
widths = [27, 11, 22, 11, 6, 9, 11, 11]
text.append("  " + "".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(hdr, widths))))
for row in rows:
    text.append("  " + "".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
text += [
    f"     seed script: {seed_calls} calls reached moto b during timing ({seed_calls_expected} runs incl. warm-up)",
    f"  2. {n_conc} concurrent cached calls, first launch to last exit, median of {burst['rounds']} rounds:",
    f"     rolegate {fmt(b['rolegate'])}, floor {fmt(b['floor'])}, /bin/true {fmt(b['true'])}; "
    f"rolegate/floor {burst_ratio:.2f}x (target <= 2x: {verdict(burst_ok)}); minimums "
    f"{fmt(bmin['rolegate'])} / {fmt(bmin['floor'])} = {bmin['rolegate'] / bmin['floor']:.2f}x",
    f"     (the launcher's own CPU time in a round: {fmt(blaunch['rolegate'])} / {fmt(blaunch['floor'])} / "
    f"{fmt(blaunch['true'])})",
    f"  3. peak RSS of one call: rolegate {rss[names[2]]} KiB, floor {rss[names[1]]} KiB, "
    f"botocore {rss[names[3]]} KiB, seed script (largest process) {rss[names[4]]} KiB",
    f"  4. cold path, launch to first byte of the STS request (median of {len(rfb)}; p90):",
    f"     rolegate {fmt(statistics.median(rfb))} ({fmt(pct(rfb, 90))}), connect at {fmt(statistics.median(racc))}; "
    f"/bin/true launch to exit {fmt(statistics.median(tex))} ({fmt(pct(tex, 90))})",
    f"     overhead before the STS request (difference of the medians): {fmt(overhead)} (target <= 10 ms: {verdict(cold_ok)})",
    f"     botocore, same measure (median of {len(bfb)}): {fmt(statistics.median(bfb))}, "
    f"{fmt(boto_over)} above /bin/true",
    f"     first request: rolegate {cold.get('rolegate_request')}; botocore {cold.get('botocore_request')}",
] + [f"  {k}: {v}" for k, v in machine] + [f"  date: {e['BENCH_DATE']}", f"  raw results: {out}/"]
print("\n".join(text))

md = [
    f"Measured on {e['BENCH_DATE']} with `bench/compare.sh`.",
    "",
] + [f"- {k if k == 'rolegate' else k[0].upper() + k[1:]}: {v}" for k, v in machine] + [
    "",
    f"**One cached call** ({hf_runs}):",
    "",
    "| Command | Median | Mean ± σ | Min | Runs | × floor | × rolegate | Peak RSS |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
]
for row in rows:
    md.append(f"| `{row[0]}` | " + " | ".join(row[1:]) + " |")
md += [
    "",
    f"The seed script made {seed_calls} STS calls during the timing, one per run "
    f"({seed_calls_expected} runs with the warm-up).",
    "",
    f"**{n_conc} concurrent cached calls**, first launch to last exit, median of "
    f"{burst['rounds']} rounds (minimum in brackets):",
    "",
    "| Command | Wall time | Per call | Launcher's CPU time |",
    "| --- | ---: | ---: | ---: |",
]
for k, label in (("rolegate", "rolegate (cached)"), ("floor", "floor"), ("true", "true")):
    md.append(f"| `{n_conc} × {label}` | {fmt(b[k])} ({fmt(bmin[k])}) | {fmt(b[k] / n_conc)} "
              f"| {fmt(blaunch[k])} |")
md += [
    "",
    f"- rolegate / floor: **{burst_ratio:.2f}x** (target ≤ 2x: **{verdict(burst_ok)}**); "
    f"minimums {bmin['rolegate'] / bmin['floor']:.2f}x.",
    "",
    f"**Cold path**, launch to the first byte of the STS request ({len(rfb)} rolegate calls, "
    f"{len(bfb)} botocore calls, taking turns with `/bin/true`):",
    "",
    "| Measure | Median | p90 |",
    "| --- | ---: | ---: |",
    f"| `/bin/true`: launch to exit | {fmt(statistics.median(tex))} | {fmt(pct(tex, 90))} |",
    f"| rolegate: launch to TCP accept | {fmt(statistics.median(racc))} | {fmt(pct(racc, 90))} |",
    f"| rolegate: launch to first request byte | {fmt(statistics.median(rfb))} | {fmt(pct(rfb, 90))} |",
    f"| botocore + AWS CLI cache: launch to first request byte | {fmt(statistics.median(bfb))} | {fmt(pct(bfb, 90))} |",
    "",
    f"- rolegate's overhead before the STS request (median first byte − median `/bin/true`): "
    f"**{fmt(overhead)}** (target ≤ 10 ms: **{verdict(cold_ok)}**); botocore's: {fmt(boto_over)}.",
    f"- First request seen: rolegate `{cold.get('rolegate_request')}`, botocore "
    f"`{cold.get('botocore_request')}`.",
]
with open(f"{out}/results.md", "w") as fh:
    fh.write("\n".join(md) + "\n")
EOF

if ((update_doc)); then
    update_doc_block compare "$out/results.md"
    say "updated the comparison section of docs/PERFORMANCE.md"
fi
