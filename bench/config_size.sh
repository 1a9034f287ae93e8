#!/usr/bin/env bash
# Benchmark of rolegate against a large configuration: 10,000 MFA role profiles (about 1.5 MB of
# ~/.aws/config, written by bench/large_config.py), where every command must stay linear in the
# size of the files.
#
# It builds release, makes a throw-away HOME with the large config, warms the cache for
# `target` once against a local moto_server (STS mock on 127.0.0.1), stops moto, and then
# times, in one hyperfine run:
#   - exec target -- true             a cache hit, plus the generated config (every profile planned);
#   - list                            every profile planned;
#   - doctor                          every profile planned, explained and checked;
#   - setup target --dry-run          the file parsed, the new section verified, the diff;
#   - credential-process target       the cached call (the hot path: no parsing at all);
#   - complete: exec tar              a TAB in a shell: what the completion scripts run
#                                     (`ROLEGATE_COMPLETE=fish rolegate -- rolegate exec tar`),
#                                     profile names from the section headers (target < 100 ms);
#   - complete: exec (every name)     the same with nothing typed yet: all 11,000 names.
# It also measures the peak RSS of one call of each, and prints a summary (see docs/PERFORMANCE.md).
#
# Usage: bench/config_size.sh [--profiles N] [--runs N] [--warmup N] [--update-doc] [--out DIR]
#                             [--no-build] [--rolegate PATH]
#   --profiles N     role profiles in the config (default 10000)
#   --rolegate PATH  time this binary instead of the release build (for a before/after
#                    comparison with an earlier build; implies --no-build)
#
# Needs: cargo, python3, hyperfine, GNU time, moto_server. hyperfine and GNU time are installed
# with apt-get when missing and running as root; moto_server with pip, in a virtualenv under
# ${XDG_CACHE_HOME:-~/.cache}/rolegate-bench/.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

update_doc=0
profiles=10000
runs=10
warmup=2
out=""
build=1
given_rolegate=""
while (($#)); do
    case "$1" in
        --update-doc) update_doc=1 ;;
        --profiles) profiles="${2:?--profiles needs a number}"; shift ;;
        --runs) runs="${2:?--runs needs a number}"; shift ;;
        --warmup) warmup="${2:?--warmup needs a number}"; shift ;;
        --out) out="${2:?--out needs a directory}"; shift ;;
        --no-build) build=0 ;;
        --rolegate) given_rolegate="${2:?--rolegate needs a path}"; build=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "config_size.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ "$profiles" =~ ^[1-9][0-9]*$ ]] || { echo "config_size.sh: --profiles must be a positive integer" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "config_size.sh: --runs must be a positive integer" >&2; exit 2; }
[[ "$warmup" =~ ^[0-9]+$ ]] || { echo "config_size.sh: --warmup must be an integer" >&2; exit 2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

script=config_size.sh
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

# --- Tools -----------------------------------------------------------------------------------
need_timing_tools

need_moto

# --- Build -----------------------------------------------------------------------------------
if [[ -n "$given_rolegate" ]]; then
    [[ -x "$given_rolegate" ]] || die "$given_rolegate is not an executable"
    rolegate="$(cd "$(dirname "$given_rolegate")" && pwd)/$(basename "$given_rolegate")"
    target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
else
    release_build "$build"
fi
out="${out:-$target_dir/bench/config_size}"
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
mkdir -p "$home"
chmod 700 "$home"
python3 "$repo/bench/large_config.py" "$home" --profiles "$profiles"
config_bytes=$(wc -c <"$home/.aws/config")
config_sections=$(grep -c '^\[' "$home/.aws/config")
say "config: $config_sections sections, $config_bytes bytes"

port="$(free_port)"
endpoint="http://127.0.0.1:$port"

# The measured commands (and hyperfine itself) run with this environment only (see cached.sh).
# No XDG_RUNTIME_DIR: exec's generated config goes to the cache directory, on disk.
clean_env=(env -i
    "HOME=$home"
    "PATH=/usr/bin:/bin"
    "LANG=C.UTF-8"
    "AWS_EC2_METADATA_DISABLED=true"
    "AWS_ENDPOINT_URL=$endpoint")

warm_rolegate_cache "$port"

# Each command once, before timing: it must succeed without the network, and print something.
commands=(
    "exec target -- true"
    "list"
    "doctor"
    "setup target --dry-run"
    "credential-process target"
)
for c in "${commands[@]}"; do
    read -r -a words <<<"$c"
    started=$(date +%s.%N)
    "${clean_env[@]}" "$rolegate" "${words[@]}" >"$work/once.out" 2>"$work/once.err" \
        || { cat "$work/once.err" >&2; die "\`rolegate $c\` failed"; }
    say "$(printf '%-28s' "rolegate $c") once: $(python3 -c "print(f'{$(date +%s.%N) - $started:.3f} s')"), $(wc -c <"$work/once.out") bytes of output"
done
"${clean_env[@]}" "$rolegate" credential-process target >"$work/cached.json"
cmp -s "$work/creds.json" "$work/cached.json" || die "the cached call printed other credentials"

# A TAB: the words after `--` are what the shell has typed; the last one is being completed.
completions=("exec tar" "exec ''")
completion_names=("complete: exec tar" "complete: exec (every name)")
complete_env=(env ROLEGATE_COMPLETE=fish)
"${clean_env[@]}" "${complete_env[@]}" "$rolegate" -- rolegate exec tar >"$work/complete.out" \
    || die "completing \`rolegate exec tar\` failed"
grep -qx target "$work/complete.out" || die "completing \`rolegate exec tar\` did not offer target"
"${clean_env[@]}" "${complete_env[@]}" "$rolegate" -- rolegate exec '' >"$work/complete-all.out"
say "complete: exec tar offers $(wc -l <"$work/complete.out") names, exec (nothing typed) $(wc -l <"$work/complete-all.out")"

# --- Time -------------------------------------------------------------------------------------
q() { printf '%q' "$1"; }
hyperfine_args=()
for c in "${commands[@]}"; do
    hyperfine_args+=(-n "$c" "$(q "$rolegate") $c")
done
for i in "${!completions[@]}"; do
    hyperfine_args+=(-n "${completion_names[$i]}" "${complete_env[*]} $(q "$rolegate") -- rolegate ${completions[$i]}")
done
say "hyperfine: $warmup warm-up runs, $runs runs per command"
loadavg_before="$(cut -d' ' -f1-3 /proc/loadavg)"
"${clean_env[@]}" "$hyperfine_bin" -N --style basic --warmup "$warmup" --runs "$runs" \
    --export-json "$out/hyperfine.json" --export-markdown "$out/hyperfine.md" \
    "${hyperfine_args[@]}" >&2
loadavg_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- Peak RSS of one call of each, in KiB ------------------------------------------------------
: >"$work/rss.all"
for c in "${commands[@]}"; do
    read -r -a words <<<"$c"
    "${clean_env[@]}" /usr/bin/time -f %M -o "$work/rss" "$rolegate" "${words[@]}" >/dev/null 2>&1
    printf '%s\t%s\n' "$c" "$(tail -n 1 "$work/rss")" >>"$work/rss.all"
done
for i in "${!completions[@]}"; do
    eval "words=(${completions[$i]})"
    "${clean_env[@]}" "${complete_env[@]}" /usr/bin/time -f %M -o "$work/rss" "$rolegate" -- rolegate "${words[@]}" >/dev/null 2>&1
    printf '%s\t%s\n' "${completion_names[$i]}" "$(tail -n 1 "$work/rss")" >>"$work/rss.all"
done

# --- Summary -----------------------------------------------------------------------------------
BENCH_OUT="$out" BENCH_RUNS="$runs" BENCH_WARMUP="$warmup" BENCH_MACHINE="$(machine_line)" \
BENCH_RUSTC="$(rustc -V)" BENCH_HYPERFINE="$("$hyperfine_bin" --version)" \
BENCH_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" BENCH_LOAD="$loadavg_before / $loadavg_after" \
BENCH_PROFILES="$profiles" BENCH_SECTIONS="$config_sections" BENCH_BYTES="$config_bytes" \
BENCH_RSS="$work/rss.all" \
    python3 - <<'EOF'
import json, os
e = os.environ
out = e["BENCH_OUT"]
results = json.load(open(f"{out}/hyperfine.json"))["results"]
rss = dict(line.rstrip("\n").split("\t") for line in open(e["BENCH_RSS"]))
limit = 1.0  # seconds, for every command but the cached call and completion
complete_limit = 0.1  # seconds, for a TAB
runs = f"{e['BENCH_RUNS']} runs per command after {e['BENCH_WARMUP']} warm-up runs"
size = f"{int(e['BENCH_PROFILES']):,} role profiles, {int(e['BENCH_SECTIONS']):,} sections, {int(e['BENCH_BYTES']) / 1e6:.2f} MB"


def ms(seconds):
    return seconds * 1000


def cpu(r):
    """Mean user + system time: on a busy machine, steadier than the wall time."""
    return r["user"] + r["system"]


def label(r):
    c = r["command"]
    return f"TAB: rolegate {c.removeprefix('complete: ')}" if c.startswith("complete:") else f"rolegate {c}"


def verdict(r):
    if r["command"] == "credential-process target":
        return "hot path"
    if r["command"].startswith("complete:"):
        return "met (< 100 ms)" if r["median"] < complete_limit else "MISSED (< 100 ms)"
    return "met" if r["median"] <= limit else "MISSED"


text = [
    "",
    "rolegate: configuration-size benchmark",
    f"  config: {size}",
    f"  {runs} (hyperfine -N)",
    f"  {'command':<28}{'median':>12}{'mean':>12}{'stddev':>12}{'min':>12}{'CPU':>12}{'peak RSS':>13}  target <= 1 s",
]
for r in results:
    text.append(
        f"  {r['command']:<28}{ms(r['median']):>10.1f}ms{ms(r['mean']):>10.1f}ms{ms(r['stddev']):>10.1f}ms"
        f"{ms(r['min']):>10.1f}ms{ms(cpu(r)):>10.1f}ms{rss[r['command']]:>9} KiB  {verdict(r)}"
    )
text += [
    f"  machine: {e['BENCH_MACHINE']}",
    f"  {e['BENCH_RUSTC']}; {e['BENCH_HYPERFINE']}",
    f"  load average before / after: {e['BENCH_LOAD']}",
    f"  date: {e['BENCH_DATE']}",
    f"  raw results: {out}/hyperfine.json",
]
print("\n".join(text))

md = [
    f"Measured on {e['BENCH_DATE']} with `bench/config_size.sh` ({size}; {runs}).",
    "",
    f"- Machine: `{e['BENCH_MACHINE']}`",
    f"- Toolchain: `{e['BENCH_RUSTC']}`, `{e['BENCH_HYPERFINE']}`",
    f"- Load average before / after the timing: {e['BENCH_LOAD']}",
    "",
    "| Command | Median | Mean ± σ | Min | CPU (user + sys) | Peak RSS | Target ≤ 1 s (a TAB: < 100 ms) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
]
for r in results:
    md.append(
        f"| `{label(r)}` | {ms(r['median']):.1f} ms | {ms(r['mean']):.1f} ± {ms(r['stddev']):.1f} ms "
        f"| {ms(r['min']):.1f} ms | {ms(cpu(r)):.1f} ms | {rss[r['command']]} KiB | {verdict(r)} |"
    )
with open(f"{out}/results.md", "w") as fh:
    fh.write("\n".join(md) + "\n")
EOF

if ((update_doc)); then
    update_doc_block config-size "$out/results.md"
    say "updated the configuration-size section of docs/PERFORMANCE.md"
fi
