#!/usr/bin/env bash
# The first call of the day: the time from Enter at the MFA prompt to credentials, with STS a
# 100 ms round trip away (see docs/PERFORMANCE.md, "The first call").
#
# STS is moto_server behind nginx, which speaks TLS (a throw-away CA made with openssl, trusted
# through AWS_CA_BUNDLE) and keeps connections open between requests as STS does (moto alone
# closes each one), behind bench/latency_proxy.py, which delays every chunk 50 ms each way. Each
# run starts from an empty cache, waits for the prompt on a pseudo-terminal, waits as long as a
# person takes to type six digits (--typing), presses Enter and times until the program exits
# with credentials (bench/enter_driver.py). Measured in one run, for the seed's profile:
#   rolegate credential-process target  (GetSessionToken, then AssumeRole from the session)
#   --baseline BIN, the same with another rolegate build (e.g. one that connects after Enter)
#   botocore's own prompt for the same profile: what the AWS CLI runs before a command
#     (AssumeRole with the code; the credentials only)
#   aws sts get-caller-identity --profile target  (the AWS CLI: credentials, then its call)
#
# Usage: bench/first_call.sh [--update-doc] [--no-build] [--runs N] [--typing SECONDS]
#                            [--delay-ms N] [--baseline BIN]
#   --update-doc   rewrite the block between <!-- first-call:begin --> and
#                  <!-- first-call:end --> in docs/PERFORMANCE.md
#   --runs N       runs per command (default 15)
#   --typing S     seconds between the prompt and Enter (default 1.5)
#   --delay-ms N   delay each way (default 50: a 100 ms round trip)
#
# Needs: cargo, python3 with botocore and the AWS CLI, moto_server, openssl, nginx (installed
# with apt-get when missing and running as root; the script runs its own nginx with a private
# configuration on 127.0.0.1, and leaves the system's nginx service alone).
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

update_doc=0
build=1
runs=15
typing=1.5
delay_ms=50
baseline=""
while (($#)); do
    case "$1" in
        --update-doc) update_doc=1 ;;
        --no-build) build=0 ;;
        --runs) runs="${2:?--runs needs a number}"; shift ;;
        --typing) typing="${2:?--typing needs seconds}"; shift ;;
        --delay-ms) delay_ms="${2:?--delay-ms needs a number}"; shift ;;
        --baseline) baseline="${2:?--baseline needs a rolegate binary}"; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "first_call.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "first_call.sh: --runs must be a positive integer" >&2; exit 2; }
[[ "$delay_ms" =~ ^[0-9]+$ ]] || { echo "first_call.sh: --delay-ms must be an integer" >&2; exit 2; }
[[ -z "$baseline" || -x "$baseline" ]] || { echo "first_call.sh: --baseline $baseline is not executable" >&2; exit 2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bench="$repo/bench"
script=first_call.sh
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

have cargo || die "cargo is not on PATH"
have openssl || apt_install openssl
have nginx || [[ -x /usr/sbin/nginx ]] || apt_install nginx
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
need_moto
py="$(python3 -c 'import sys; print(sys.executable)')"
"$py" -c 'import botocore' 2>/dev/null || die "python3 cannot import botocore (pip install awscli)"
have aws || die "the AWS CLI is not on PATH (pip install awscli)"
release_build "$build"

work="$(mktemp -d "${TMPDIR:-/tmp}/rolegate-first-call.XXXXXX")"
proxy_pid=""
nginx_pid=""
cleanup() {
    [[ -z "$proxy_pid" ]] || kill "$proxy_pid" 2>/dev/null || true
    [[ -z "$nginx_pid" ]] || kill "$nginx_pid" 2>/dev/null || true
    stop_all_moto
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
home="$work/home"
write_aws_files "$home"
mkdir -m 700 "$work/tmp"

say "a throw-away CA and a certificate for 127.0.0.1"
(
    cd "$work"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -keyout ca.key -out ca.pem -subj /CN=first-call-bench-ca \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout sts.key -out sts.csr -subj /CN=127.0.0.1 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
    openssl x509 -req -in sts.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
        -extfile ext.cnf -out sts.pem 2>/dev/null
)

moto_port="$(free_port)"
start_moto sts "$moto_port"
# TLS and kept-alive connections in front of moto; the access log names each request's
# connection, so that the summary can show how many connections each call opened.
tls_port="$(free_port)"
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
events { worker_connections 256; }
http {
    log_format bench '\$connection \$connection_requests \$request';
    access_log $work/nginx/access.log bench;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$tls_port ssl;
        ssl_certificate $work/sts.pem;
        ssl_certificate_key $work/sts.key;
        location / {
            proxy_pass http://127.0.0.1:$moto_port;
            proxy_set_header Host \$http_host;
        }
    }
}
NGINX
"$nginx_bin" -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" &
nginx_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$tls_port") 2>/dev/null && break; sleep 0.1; done
(exec 3<>"/dev/tcp/127.0.0.1/$tls_port") 2>/dev/null || { cat "$work/nginx/error.log" >&2; die "nginx did not start"; }
proxy_port="$(free_port)"
"$py" "$bench/latency_proxy.py" "$proxy_port" "$tls_port" "$delay_ms" >"$work/proxy.out" &
proxy_pid=$!
for _ in $(seq 100); do grep -q ready "$work/proxy.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$work/proxy.out" || die "the latency proxy did not start"

# AWS_DEFAULT_REGION: the seed's role profile has no region, and botocore needs one.
clean_env=(env -i
    HOME="$home" PATH="$PATH" TERM=dumb TMPDIR="$work/tmp" AWS_DEFAULT_REGION=us-west-2
    AWS_CONFIG_FILE="$home/.aws/config" AWS_SHARED_CREDENTIALS_FILE="$home/.aws/credentials"
    AWS_ENDPOINT_URL_STS="https://127.0.0.1:$proxy_port" AWS_CA_BUNDLE="$work/ca.pem")

# Each command starts from an empty cache (rolegate: a new cache directory; the AWS CLI: its
# cache removed; botocore alone keeps none).
# shellcheck disable=SC2016  # expanded by the inner shell
rolegate_cmd=(sh -c 'export ROLEGATE_CACHE_DIR="$(mktemp -d)"; exec "$0" credential-process target')
# shellcheck disable=SC2016  # expanded by the inner shell
botocore_cmd=(sh -c 'exec "$0" -c "import botocore.session as s; c = s.Session(profile=\"target\").get_credentials().get_frozen_credentials(); print(\"access_key=\" + c.access_key)"' "$py")
# shellcheck disable=SC2016
cli_cmd=(sh -c 'rm -rf "$HOME/.aws/cli/cache"; aws sts get-caller-identity --profile target --query Arn --output text && echo access_key=cli')

results="$work/results.tsv"
measure() { # LABEL COMMAND...
    local label="$1" before line connections requests
    shift
    say "timing: $label ($runs runs)"
    before=$(wc -l <"$work/nginx/access.log" 2>/dev/null || echo 0)
    line="$("${clean_env[@]}" "$py" "$bench/enter_driver.py" "$runs" "$typing" "$label" -- "$@")"
    # Connections and requests per call, from nginx's log of this command's runs.
    connections=$(tail -n +"$((before + 1))" "$work/nginx/access.log" | awk '{print $1}' | sort -u | wc -l)
    requests=$(tail -n +"$((before + 1))" "$work/nginx/access.log" | wc -l)
    printf '%s\t%s\t%s\n' "$line" "$(awk -v c="$connections" -v r="$runs" 'BEGIN { printf "%g", c / r }')" \
        "$(awk -v q="$requests" -v r="$runs" 'BEGIN { printf "%g", q / r }')" | tee -a "$results" >&2
}
measure "rolegate credential-process target" "${rolegate_cmd[@]}" "$rolegate"
if [[ -n "$baseline" ]]; then
    measure "rolegate, baseline build" "${rolegate_cmd[@]}" "$baseline"
fi
measure "botocore: credentials for the profile" "${botocore_cmd[@]}"
measure "aws sts get-caller-identity --profile target" "${cli_cmd[@]}"

table="$work/table.md"
{
    echo "Machine: $(machine_line); STS: moto behind nginx (TLS, kept-alive connections), ${delay_ms} ms each way ($((2 * delay_ms)) ms per round trip); $runs runs each; $(date -u +%Y-%m-%d)."
    echo
    echo "| from Enter to credentials | min | median | max | connections per call | requests per call |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    while IFS=$'\t' read -r label min median max connections requests; do
        echo "| $label | $min ms | $median ms | $max ms | $connections | $requests |"
    done <"$results"
} >"$table"
cat "$table"
if ((update_doc)); then
    update_doc_block first-call "$table"
    say "docs/PERFORMANCE.md updated"
fi
