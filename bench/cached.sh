#!/usr/bin/env bash
# Benchmark of rolegate's hot path: `rolegate credential-process PROFILE` served from the cache.
#
# It builds release, makes a throw-away HOME with an MFA role profile, warms the cache once
# against a local moto_server (STS mock on 127.0.0.1), stops moto, and then times, in one
# hyperfine run:
#   - /bin/true                     the cost of starting a process at all;
#   - the floor (examples/floor.rs) read + parse + check + print of the same JSON, nothing else;
#   - rolegate credential-process   the cached call, with the STS endpoint pointing at the dead port.
# It also measures the peak RSS of one call, and prints a summary (see docs/PERFORMANCE.md).
#
# Usage: bench/cached.sh [--update-doc] [--runs N] [--warmup N] [--out DIR] [--no-build]
#
# Needs: cargo, python3, hyperfine, GNU time, moto_server. hyperfine and GNU time are installed
# with apt-get when missing and running as root; moto_server with pip, in a virtualenv under
# ${XDG_CACHE_HOME:-~/.cache}/rolegate-bench/.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

update_doc=0
runs=1000
warmup=50
out=""
build=1
while (($#)); do
    case "$1" in
        --update-doc) update_doc=1 ;;
        --runs) runs="${2:?--runs needs a number}"; shift ;;
        --warmup) warmup="${2:?--warmup needs a number}"; shift ;;
        --out) out="${2:?--out needs a directory}"; shift ;;
        --no-build) build=0 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "cached.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "cached.sh: --runs must be a positive integer" >&2; exit 2; }
[[ "$warmup" =~ ^[0-9]+$ ]] || { echo "cached.sh: --warmup must be an integer" >&2; exit 2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

script=cached.sh
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

# --- Tools -----------------------------------------------------------------------------------
need_timing_tools

need_moto

# --- Build -----------------------------------------------------------------------------------
release_build "$build"
out="${out:-$target_dir/bench/cached}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# --- A throw-away HOME, and cleanup of everything this script starts -------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/rolegate-bench.XXXXXX")"
cleanup() {
    stop_all_moto
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

home="$work/home"
write_aws_files "$home"

port="$(free_port)"
endpoint="http://127.0.0.1:$port"

# The measured commands (and hyperfine itself) run with this environment only: no AWS_PROFILE,
# AWS_ACCESS_KEY_ID, proxy or XDG variables from the caller. The STS endpoint stays set because
# it is part of the cache key; after the warm-up nothing listens on it.
clean_env=(env -i
    "HOME=$home"
    "PATH=/usr/bin:/bin"
    "LANG=C.UTF-8"
    "AWS_EC2_METADATA_DISABLED=true"
    "AWS_ENDPOINT_URL=$endpoint")

warm_rolegate_cache "$port"

# The floor's input is rolegate's own output; both must print it exactly, with nothing listening.
check_cached_and_floor
if have strace; then
    "${clean_env[@]}" "$(command -v strace)" -f -qq -e trace=socket,connect -o "$work/net.trace" \
        "$rolegate" credential-process target >/dev/null
    if grep -Eq 'AF_INET|AF_INET6' "$work/net.trace"; then
        cat "$work/net.trace" >&2
        die "the cached call opened a network socket"
    fi
    say "strace: the cached call opens no network socket"
fi

# --- Time -------------------------------------------------------------------------------------
q() { printf '%q' "$1"; }
say "hyperfine: $warmup warm-up runs, $runs runs per command"
loadavg_before="$(cut -d' ' -f1-3 /proc/loadavg)"
"${clean_env[@]}" "$hyperfine_bin" -N --style basic --warmup "$warmup" --runs "$runs" \
    --export-json "$out/hyperfine.json" --export-markdown "$out/hyperfine.md" \
    -n 'true' '/bin/true' \
    -n 'floor' "$(q "$floor") $(q "$work/creds.json")" \
    -n 'rolegate (cached)' "$(q "$rolegate") credential-process target" >&2
loadavg_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- Peak RSS: the largest of 5 calls, in KiB --------------------------------------------------
peak_rss() {
    local max=0 kib
    for _ in 1 2 3 4 5; do
        "${clean_env[@]}" /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null
        kib=$(tail -n 1 "$work/rss")
        if ((kib > max)); then max=$kib; fi
    done
    echo "$max"
}
rss_true=$(peak_rss /bin/true)
rss_floor=$(peak_rss "$floor" "$work/creds.json")
rss_rolegate=$(peak_rss "$rolegate" credential-process target)

# --- Summary -----------------------------------------------------------------------------------
machine="$(machine_line)"
rustc_version="$(rustc -V)"
hyperfine_version="$("$hyperfine_bin" --version)"
date_utc="$(date -u '+%Y-%m-%d %H:%M UTC')"

BENCH_OUT="$out" BENCH_RUNS="$runs" BENCH_WARMUP="$warmup" BENCH_MACHINE="$machine" \
BENCH_RUSTC="$rustc_version" BENCH_HYPERFINE="$hyperfine_version" BENCH_DATE="$date_utc" \
BENCH_LOAD="$loadavg_before / $loadavg_after" \
BENCH_RSS_TRUE="$rss_true" BENCH_RSS_FLOOR="$rss_floor" BENCH_RSS_ROLEGATE="$rss_rolegate" \
    python3 - <<'EOF'
import json, os
e = os.environ
out = e["BENCH_OUT"]
results = {r["command"]: r for r in json.load(open(f"{out}/hyperfine.json"))["results"]}
t, f, r = results["true"], results["floor"], results["rolegate (cached)"]
rss = {"true": int(e["BENCH_RSS_TRUE"]), "floor": int(e["BENCH_RSS_FLOOR"]),
       "rolegate (cached)": int(e["BENCH_RSS_ROLEGATE"])}


def ms(seconds):
    return seconds * 1000


def verdict(ok):
    return "met" if ok else "MISSED"


ratio = r["median"] / f["median"]
ratio_min = r["min"] / f["min"]
above_r, above_f = r["median"] - t["median"], f["median"] - t["median"]
net = f"{above_r / above_f:.2f}x" if above_f > 0 else "n/a"
time_ok = ratio <= 1.4
rss_ok = rss["rolegate (cached)"] <= 4096
runs = f"{e['BENCH_RUNS']} runs per command after {e['BENCH_WARMUP']} warm-up runs"

text = [
    "",
    "rolegate: cached credential-process benchmark",
    f"  {runs} (hyperfine -N)",
    f"  {'command':<20}{'median':>11}{'mean':>11}{'stddev':>11}{'min':>11}{'peak RSS':>13}",
]
for name, x in results.items():
    text.append(
        f"  {name:<20}{ms(x['median']):>9.3f}ms{ms(x['mean']):>9.3f}ms{ms(x['stddev']):>9.3f}ms"
        f"{ms(x['min']):>9.3f}ms{rss[name]:>9} KiB"
    )
text += [
    f"  ratio rolegate/floor (medians): {ratio:.2f}x (target <= 1.4x: {verdict(time_ok)})",
    f"  ratio of the minimums (less sensitive to a busy machine): {ratio_min:.2f}x",
    f"  above /bin/true: rolegate {ms(above_r):.3f} ms, floor {ms(above_f):.3f} ms ({net})",
    f"  peak RSS of rolegate: {rss['rolegate (cached)']} KiB (target <= 4096 KiB: {verdict(rss_ok)})",
    f"  machine: {e['BENCH_MACHINE']}",
    f"  {e['BENCH_RUSTC']}; {e['BENCH_HYPERFINE']}",
    f"  load average before / after: {e['BENCH_LOAD']}",
    f"  date: {e['BENCH_DATE']}",
    f"  raw results: {out}/hyperfine.json",
]
print("\n".join(text))

md = [
    f"Measured on {e['BENCH_DATE']} with `bench/cached.sh` ({runs}).",
    "",
    f"- Machine: `{e['BENCH_MACHINE']}`",
    f"- Toolchain: `{e['BENCH_RUSTC']}`, `{e['BENCH_HYPERFINE']}`",
    f"- Load average before / after the timing: {e['BENCH_LOAD']}",
    "",
    "| Command | Median | Mean ± σ | Min | Peak RSS |",
    "| --- | ---: | ---: | ---: | ---: |",
]
for name, x in results.items():
    md.append(
        f"| `{name}` | {ms(x['median']):.3f} ms | {ms(x['mean']):.3f} ± {ms(x['stddev']):.3f} ms "
        f"| {ms(x['min']):.3f} ms | {rss[name]} KiB |"
    )
md += [
    "",
    f"- Cached median / floor median: **{ratio:.2f}x** (target ≤ 1.4x: **{verdict(time_ok)}**).",
    f"- Ratio of the minimums, less sensitive to other load on the machine: {ratio_min:.2f}x.",
    f"- Above the cost of starting a process (`/bin/true`): rolegate {ms(above_r):.3f} ms, "
    f"floor {ms(above_f):.3f} ms ({net}).",
    f"- Peak RSS of one cached call: **{rss['rolegate (cached)']} KiB** "
    f"(target ≤ 4096 KiB: **{verdict(rss_ok)}**).",
]
with open(f"{out}/results.md", "w") as fh:
    fh.write("\n".join(md) + "\n")
EOF

if ((update_doc)); then
    update_doc_block results "$out/results.md"
    say "updated the results section of docs/PERFORMANCE.md"
fi
