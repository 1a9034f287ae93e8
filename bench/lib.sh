# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # sets variables for the sourcing script, reads its `script` and `work`
# Shared by the benchmark scripts (sourced, not run): messages, installing missing tools, the
# release build, the throw-away AWS files, moto_server on loopback, and the update of a marked
# block of docs/PERFORMANCE.md.
#
# The sourcing script sets `script` (its name, for messages) and `work` (its temporary
# directory, where moto logs go) before it calls these.

say() { printf '==> %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$script" "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

apt_updated=0
apt_install() {
    if [[ "$(id -u)" != 0 ]] || ! have apt-get; then
        die "missing $*: install it (Debian/Ubuntu: sudo apt-get install $*) and run again"
    fi
    say "installing $* with apt-get"
    if ((!apt_updated)); then
        apt-get update -qq >&2
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# cargo, python3, hyperfine (its path in $hyperfine_bin) and GNU time.
need_timing_tools() {
    have cargo || die "cargo is not on PATH"
    have python3 || apt_install python3
    have hyperfine || apt_install hyperfine
    hyperfine_bin="$(command -v hyperfine)"
    [[ -x /usr/bin/time ]] || apt_install time
    /usr/bin/time -f %M -o /dev/null /bin/true 2>/dev/null || die "/usr/bin/time is not GNU time (needs -f %M)"
}

# A virtualenv under the user's cache with `pip install ARGS...` done once: prints its python.
bench_venv() { # NAME PIP-ARGS...
    local venv="${XDG_CACHE_HOME:-$HOME/.cache}/rolegate-bench/$1"
    shift
    if [[ ! -x "$venv/bin/python" || ! -f "$venv/.installed" ]]; then
        say "installing $* with pip into $venv"
        rm -rf "$venv"
        if ! python3 -m venv "$venv" >&2; then
            rm -rf "$venv"
            apt_install python3-venv
            python3 -m venv "$venv" >&2
        fi
        "$venv/bin/python" -m pip install -q "$@" >&2
        touch "$venv/.installed"
    fi
    echo "$venv/bin/python"
}

# Builds (unless $1 is 0) and sets $target_dir, $rolegate and $floor.
release_build() { # BUILD
    if (($1)); then
        say "cargo build --release --examples --bins"
        cargo build --release --examples --bins >&2
    fi
    target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
    rolegate="$target_dir/release/rolegate"
    floor="$target_dir/release/examples/floor"
    [[ -x "$rolegate" && -x "$floor" ]] || die "no release build in $target_dir/release (run without --no-build)"
}

# The seed's shape: a base profile with keys and an MFA-protected role assumed from it.
write_aws_files() { # HOME
    mkdir -p "$1/.aws"
    chmod 700 "$1"
    cat >"$1/.aws/config" <<'CONFIG'
[profile base]
region = us-west-2

[profile target]
source_profile = base
role_arn = arn:aws:iam::123456789012:role/hc-master
mfa_serial = arn:aws:iam::123456789012:mfa/username
external_id = something
CONFIG
    cat >"$1/.aws/credentials" <<'CREDENTIALS'
[base]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
CREDENTIALS
    chmod 600 "$1/.aws/config" "$1/.aws/credentials"
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Sets `moto_bin`: moto_server from PATH, else installed with pip in a virtualenv of ours.
need_moto() {
    if have moto_server; then
        moto_bin="$(command -v moto_server)"
    else
        moto_bin="$(dirname "$(bench_venv moto-venv 'moto[server]')")/moto_server"
    fi
}

# moto_server instances by name, each in a process group of its own (setsid) so that stopping
# it ends its children too. INITIAL_NO_AUTH_ACTION_COUNT unset: moto checks no signatures.
declare -A moto_pgid=()
start_moto() { # NAME PORT [MOTO-ARGS...] (uses $moto_bin; logs to $work/moto-NAME.log)
    say "starting moto_server $1 on 127.0.0.1:$2"
    (cd "$work" && exec env -u INITIAL_NO_AUTH_ACTION_COUNT -u AWS_PROFILE HOME="$work" \
        setsid "$moto_bin" -H 127.0.0.1 -p "$2" "${@:3}" >"$work/moto-$1.log" 2>&1) &
    moto_pgid[$1]=$!
    python3 - "$2" "${moto_pgid[$1]}" <<'WAIT' || { cat "$work/moto-$1.log" >&2; die "moto_server $1 did not start"; }
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
WAIT
}
stop_moto() { # NAME
    local pgid="${moto_pgid[$1]:-}"
    [[ -n "$pgid" ]] || return 0
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 -- "-$pgid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pgid" 2>/dev/null || true
    wait "$pgid" 2>/dev/null || true
    unset "moto_pgid[$1]"
}
stop_all_moto() {
    local name
    for name in "${!moto_pgid[@]}"; do stop_moto "$name"; done
}
moto_requests() { grep -c '"POST / HTTP' "$work/moto-$1.log" || true; }

# Warms rolegate's cache for `target` against a moto_server on 127.0.0.1:PORT, then stops it:
# from then on a call that needs the network fails. Runs $rolegate with the script's
# `clean_env`; the answer is kept in $work/creds.json.
warm_rolegate_cache() { # PORT
    start_moto sts "$1"
    say "warming the cache: rolegate credential-process target --mfa-token 123456"
    "${clean_env[@]}" "$rolegate" credential-process target --mfa-token 123456 >"$work/creds.json" \
        || { cat "$work/moto-sts.log" >&2; die "the warm-up call failed"; }
    stop_moto sts
    say "moto_server stopped: from here on a call that needs the network fails"
}

# rolegate's cached call and the floor must both print exactly rolegate's warm-up output
# ($work/creds.json), run with the script's `clean_env`.
check_cached_and_floor() {
    local bytes
    bytes=$(wc -c <"$work/creds.json")
    ((bytes >= 300)) || die "unexpected rolegate warm-up output ($bytes bytes)"
    "${clean_env[@]}" "$rolegate" credential-process target >"$work/cached.json" \
        || die "rolegate's cached call failed (was it not served from the cache?)"
    cmp -s "$work/creds.json" "$work/cached.json" || die "rolegate's cached call printed other credentials"
    "${clean_env[@]}" "$floor" "$work/creds.json" >"$work/floor.json" || die "the floor failed"
    cmp -s "$work/creds.json" "$work/floor.json" || die "the floor printed something else"
}

# The machine line of every results table.
machine_line() {
    local cpu
    cpu="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"
    echo "$(uname -srm), ${cpu:-unknown CPU}, $(nproc) CPUs"
}

# Replaces the block between <!-- NAME:begin --> and <!-- NAME:end --> of docs/PERFORMANCE.md
# with FILE.
update_doc_block() { # NAME FILE
    local doc="$repo/docs/PERFORMANCE.md"
    [[ -f "$doc" ]] || die "$doc does not exist"
    if ! grep -q "^<!-- $1:begin -->\$" "$doc" || ! grep -q "^<!-- $1:end -->\$" "$doc"; then
        die "$doc has no <!-- $1:begin --> / <!-- $1:end --> markers"
    fi
    python3 - "$doc" "$2" "$1" <<'UPDATE'
import sys
doc, results, name = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(doc).read()
head, rest = text.split(f"<!-- {name}:begin -->\n", 1)
_, tail = rest.split(f"<!-- {name}:end -->\n", 1)
block = open(results).read()
open(doc, "w").write(f"{head}<!-- {name}:begin -->\n{block}<!-- {name}:end -->\n{tail}")
UPDATE
}
