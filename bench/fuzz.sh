#!/usr/bin/env bash
# Builds the fuzz targets of fuzz/ and runs each for a while (60 s by default) from the committed
# seeds and the working corpus; exits non-zero if any target finds a crash, a hang or an OOM.
# See docs/FUZZING.md.
#
#   bench/fuzz.sh                      every target, 60 s each, two at a time
#   bench/fuzz.sh --seconds 600        longer
#   bench/fuzz.sh --jobs 1 resolver    one target, alone
#   bench/fuzz.sh --sanitizer address  with AddressSanitizer (2.5-4x fewer executions)
#   bench/fuzz.sh --replay             run the whole corpus once through the AddressSanitizer build
#   bench/fuzz.sh --build-only         build, run nothing
#
# Needs cargo-fuzz (installed from crates.io when missing) and a C++ compiler (libFuzzer). No
# sanitizer by default: plain stable Rust, no unstable flag (see docs/FUZZING.md).
# Crash inputs: fuzz/artifacts/TARGET/; logs: fuzz/target/logs/TARGET.log; working corpus:
# fuzz/corpus/TARGET/ (kept between runs, not committed); committed seeds: fuzz/seeds/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(cache_entry sts_xml resolver endpoint_request endpoint_reader export_quoting)
seconds=60
jobs=2
sanitizer=none
replay=false
build_only=false
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --sanitizer) sanitizer="$2"; shift 2 ;;
    --replay) replay=true; sanitizer=address; shift ;;
    --build-only) build_only=true; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi

# cargo-fuzz passes `-Zsanitizer=...` for every sanitizer but `none`; stable rustc takes -Z
# flags only with RUSTC_BOOTSTRAP=1 (set for this script's builds only).
[ "$sanitizer" = none ] || export RUSTC_BOOTSTRAP=1
# One target directory per sanitizer (fuzz/target/none, fuzz/target/address): switching does
# not rebuild everything.
target_dir="target/$sanitizer"
echo "== building ${targets[*]} (sanitizer: $sanitizer)"
start=$(date +%s)
if [ ${#targets[@]} -eq ${#all_targets[@]} ]; then
  (cd fuzz && cargo fuzz build --sanitizer "$sanitizer" --target-dir "$target_dir")
else
  for t in "${targets[@]}"; do
    (cd fuzz && cargo fuzz build --sanitizer "$sanitizer" --target-dir "$target_dir" "$t")
  done
fi
echo "built in $(($(date +%s) - start)) s"
$build_only && exit 0

host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="fuzz/$target_dir/$host/release"
logs=fuzz/target/logs
mkdir -p "$logs"

# The resolver's seeds also include every case of the profile-resolution test vectors, written
# here rather than committed twice: CONFIG \0 CREDENTIALS \0 ENV \0 PROFILE.
vectors=fuzz/target/seeds/resolver-vectors
if [ -f tests/data/resolve-cases.json ] && command -v python3 >/dev/null 2>&1; then
  rm -rf "$vectors" && mkdir -p "$vectors"
  python3 - "$vectors" <<'EOF'
import json, sys
cases = json.load(open("tests/data/resolve-cases.json"))["cases"]
for i, c in enumerate(cases):
    env = "".join(f"{k}={v}\n" for k, v in c.get("env", {}).items())
    text = f"{c.get('config', '')}\0{c.get('credentials', '')}\0{env}\0{c['profile']}"
    open(f"{sys.argv[1]}/case-{i:03d}", "w").write(text)
EOF
fi

run() {
  local t=$1
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t" "fuzz/seeds/$t"
  local dirs=("fuzz/corpus/$t" "fuzz/seeds/$t")
  [ "$t" = resolver ] && [ -d "$vectors" ] && dirs+=("$vectors")
  local mode=(-max_total_time="$seconds")
  $replay && mode=(-runs=0)
  # -timeout: one input running 10 s is a hang; -rss_limit_mb: a leak or a blow-up is an OOM.
  "$bin_dir/$t" "${mode[@]}" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$t/" "${dirs[@]}" >"$logs/$t.log" 2>&1
}

failed=()
summary() {
  local t=$1 status=$2 log="$logs/$1.log"
  local execs cov ft corp
  # The last figures libFuzzer printed (a crashed run has no final stats).
  last() { { grep -oE "$1" "$log" || true; } | tail -1 | grep -oE '[0-9]+$' || true; }
  execs=$(last 'stat::number_of_executed_units: *[0-9]+')
  [ -n "$execs" ] || execs=$(last '^#[0-9]+')
  cov=$(last 'cov: [0-9]+')
  ft=$(last 'ft: [0-9]+')
  corp=$(last 'corp: [0-9]+')
  printf '%-17s %-16s execs %-10s cov %-6s ft %-6s corpus %s\n' "$t" \
    "$([ "$status" -eq 0 ] && echo ok || echo "FAILED (exit $status)")" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
  if [ "$status" -ne 0 ]; then
    failed+=("$t")
    { grep -E "panicked at|ERROR: libFuzzer|SUMMARY|Test unit written" "$log" || true; } | head -5 | sed 's/^/    /'
    echo "    reproduce: (cd fuzz && cargo fuzz run --sanitizer $sanitizer $t artifacts/$t/FILE)"
  fi
}

declare -A pids=()
wait_one() {
  local done_pid status=0
  wait -n -p done_pid || status=$?
  local t=${pids[$done_pid]}
  unset "pids[$done_pid]"
  summary "$t" "$status"
}

if $replay; then
  echo "== replaying the corpus of ${targets[*]} under AddressSanitizer (logs in $logs/)"
else
  echo "== fuzzing ${targets[*]}: $seconds s each, $jobs at a time (logs in $logs/)"
fi
for t in "${targets[@]}"; do
  while [ ${#pids[@]} -ge "$jobs" ]; do wait_one; done
  run "$t" &
  pids[$!]=$t
done
while [ ${#pids[@]} -gt 0 ]; do wait_one; done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
echo "no crash"
