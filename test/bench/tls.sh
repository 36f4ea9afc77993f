#!/usr/bin/env bash
# The TLS part of `make bench` (run.sh calls it last; it also runs alone). On this machine, in one
# run, with one ECDSA P-256 certificate and one demo backend for both proxies:
#   1. full TLS 1.3 handshakes per second and their p99: Gatehouse's SIMPLE server vs nginx;
#   2. HTTPS keep-alive requests per second and p99 under wrk: Gatehouse vs nginx;
#   3. bulk download throughput through Gatehouse's PASSTHROUGH server vs straight to the TLS
#      upstream (nginx serving a large file);
#   4. the Secret behind the SIMPLE server replaced BENCH_ROTATIONS (5) times under two wrk loads,
#      one on kept-alive connections and one with a new handshake per request: errors, and how
#      long each new certificate took to reach new handshakes.
# Appends the results to RESULTS.md beside it.
#
#   bash test/bench/tls.sh bin/gatehouse
#
# BENCH_DURATION (whole seconds, default 20s), BENCH_CONNECTIONS (64) and BENCH_THREADS (2) tune
# the wrk runs as in run.sh; BENCH_HANDSHAKE_DURATION (8s) and BENCH_HANDSHAKE_WORKERS (32) the
# handshake runs; BENCH_BULK_MIB (512) and BENCH_BULK_RUNS (3) the downloads.
set -euo pipefail

bin=$(realpath "${1:-bin/gatehouse}")
here=$(cd "$(dirname "$0")" && pwd)
duration=${BENCH_DURATION:-20s}
conns=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
hs_duration=${BENCH_HANDSHAKE_DURATION:-8s}
hs_workers=${BENCH_HANDSHAKE_WORKERS:-32}
bulk_mib=${BENCH_BULK_MIB:-512}
bulk_runs=${BENCH_BULK_RUNS:-3}
warmup=3s
hs_warmup=2s
[[ $duration =~ ^[0-9]+s$ && $hs_duration =~ ^[0-9]+s$ ]] ||
  { echo "bench: BENCH_DURATION and BENCH_HANDSHAKE_DURATION must be whole seconds, like 20s" >&2; exit 2; }
[[ $hs_workers =~ ^[1-9][0-9]*$ && $bulk_mib =~ ^[1-9][0-9]*$ && $bulk_runs =~ ^[1-9][0-9]?$ ]] ||
  { echo "bench: BENCH_HANDSHAKE_WORKERS, BENCH_BULK_MIB and BENCH_BULK_RUNS (1-99) must be positive integers" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

# write_config DIR BACKEND_PORT BULK_PORT: one Gateway port 443 shared by a PASSTHROUGH server for
# bulk.local and a SIMPLE server for every other SNI. The SIMPLE server's host is "*" because the
# clients must ask for localhost (wrk sends its URL's host as SNI, and only localhost resolves
# without editing /etc/hosts), and Istio does not allow that short name in Gateway hosts.
write_config() {
  cat >"$1/gateway.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench-tls, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: bench-cert}
  - port: {number: 443, name: tls-bulk, protocol: TLS}
    hosts: [bulk.local]
    tls: {mode: PASSTHROUGH}
EOF
  write_secret "$1" "$tmp/cert.pem" "$tmp/key.pem"
  cat >"$1/routes.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bench-https, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [bench-tls]
  http:
  - route:
    - destination: {host: backend.bench.internal}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bench-bulk, namespace: istio-system}
spec:
  hosts: [bulk.local]
  gateways: [bench-tls]
  tls:
  - match:
    - sniHosts: [bulk.local]
      port: 443
    route:
    - destination: {host: bulk.bench.internal, port: {number: 443}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: istio-system}
spec:
  hosts: [backend.bench.internal]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: $2}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bulk, namespace: istio-system}
spec:
  hosts: [bulk.bench.internal]
  ports: [{number: 443, name: tls, protocol: TLS, targetPort: $3}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
EOF
}

# write_secret DIR CERT KEY: the Secret bench-cert, replaced atomically (written beside, renamed
# over) as an editor or a ConfigMap update would.
write_secret() {
  {
    printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: bench-cert, namespace: istio-system}\nstringData:\n'
    printf '  tls.crt: |\n'; sed 's/^/    /' "$2"
    printf '  tls.key: |\n'; sed 's/^/    /' "$3"
  } >"$1/.secret.yaml.tmp"
  mv "$1/.secret.yaml.tmp" "$1/secret.yaml"
}

# served_serial PORT: the serial of the certificate a new handshake to localhost:PORT gets.
served_serial() {
  openssl s_client -connect "127.0.0.1:$1" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}

# rotations PORT: BENCH_ROTATIONS Secret replacements under two wrk loads (kept-alive, and
# `Connection: close` so that every request is a new handshake); the worst time from a
# replacement to the new serial on a new handshake goes to $rot_worst_ms.
rotations() {
  local n=${BENCH_ROTATIONS:-5} i t0 ms want keep fresh
  local secs=$((n * 2 + 3))
  rot_worst_ms=0
  log "rotating the certificate $n times under wrk (${secs}s)"
  wrk -t1 -c16 -d"${secs}s" "https://localhost:$1/headers" >"$tmp/rot-keep.wrk" &
  keep=$!
  wrk -t1 -c16 -d"${secs}s" -H 'Connection: close' "https://localhost:$1/headers" >"$tmp/rot-new.wrk" &
  fresh=$!
  pids+=("$keep" "$fresh")
  sleep 1
  for i in $(seq 1 "$n"); do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -subj /CN=localhost -addext 'subjectAltName=DNS:localhost,DNS:bulk.local' \
      -keyout "$tmp/rot-key.pem" -out "$tmp/rot-cert.pem" 2>/dev/null || die "openssl could not make a rotation certificate"
    want=$(openssl x509 -in "$tmp/rot-cert.pem" -noout -serial | cut -d= -f2)
    t0=$(date +%s%N)
    write_secret "$cfg" "$tmp/rot-cert.pem" "$tmp/rot-key.pem"
    until [ "$(served_serial "$1")" = "$want" ]; do
      (($(date +%s%N) - t0 < 10000000000)) || die "rotation $i: the new certificate was not served within 10s"
      sleep 0.01
    done
    ms=$((($(date +%s%N) - t0) / 1000000))
    ((ms > rot_worst_ms)) && rot_worst_ms=$ms
    log "rotation $i: new handshakes got the new certificate after ${ms} ms"
    sleep 1
  done
  wait "$keep" || die "wrk (kept-alive) failed during rotations"
  wait "$fresh" || die "wrk (new connections) failed during rotations"
}

# https PORT PATH [curl args...]: curl to localhost:PORT over TLS, verifying the bench certificate.
https() {
  local port=$1 path=$2; shift 2
  curl -fsS --max-time 5 --cacert "$tmp/cert.pem" "$@" "https://localhost:$port$path"
}

# check_proxy NAME PORT: the proxy must answer /headers from backend v1.
check_proxy() {
  local out
  out=$(https "$2" /headers -D - -o /dev/null) || die "$1 does not serve https://localhost:$2/headers"
  grep -qi '^x-backend-name: v1' <<<"$out" || die "$1 answered, but not from backend v1"
}

# bulk_args PORT: curl's arguments for the large file, as bulk.local on PORT (resolved to loopback).
bulk_args() { echo "--resolve bulk.local:$1:127.0.0.1 https://bulk.local:$1/big"; }

# check_bulk NAME PORT: the first bytes of the large file, served by nginx itself.
check_bulk() {
  local out
  # shellcheck disable=SC2046 # bulk_args is two words on purpose
  out=$(curl -fsS --max-time 5 --cacert "$tmp/cert.pem" -r 0-15 -D - -o /dev/null $(bulk_args "$2")) ||
    die "$1 does not serve https://bulk.local:$2/big"
  grep -qi '^server: nginx' <<<"$out" || die "$1: https://bulk.local:$2/big was not answered by nginx"
}

# handshakes NAME PORT: a warm-up, then the measured handshake run; tlsload's line
# ("handshakes/s p50-ms p99-ms errors count") goes to $tmp/NAME.hs.
handshakes() {
  log "measuring full TLS 1.3 handshakes against $1 ($hs_duration, $hs_workers workers)"
  "$tmp/tlsload" -addr "127.0.0.1:$2" -servername localhost -cacert "$tmp/cert.pem" \
    -c "$hs_workers" -d "$hs_duration" -warmup "$hs_warmup" >"$tmp/$1.hs" &
  pids+=($!)
  wait $! || die "handshakes against $1 failed"
}

# What lib.sh's wrk_to drives here: HTTPS keep-alive to /headers (SNI localhost).
wrk_args=()
wrk_url() { echo "https://localhost:$1/headers"; }

# download NAME PORT: one download of the large file through PORT; appends its speed to
# $tmp/NAME.speeds.
download() {
  local line speed size code
  # shellcheck disable=SC2046 # bulk_args is two words on purpose
  line=$(curl -sS --max-time 120 --cacert "$tmp/cert.pem" -o /dev/null \
    -w '%{speed_download} %{size_download} %{http_code}' $(bulk_args "$2")) || die "download through $1 failed"
  read -r speed size code <<<"$line"
  if [ "$code" != 200 ] || [ "$size" -ne $((bulk_mib << 20)) ]; then
    die "download through $1: status $code, $size bytes"
  fi
  echo "$speed" >>"$tmp/$1.speeds"
}

# bulk_runs DIRECT_PORT PASSTHROUGH_PORT: one warm-up download each way, then BENCH_BULK_RUNS
# measured pairs, alternating so that other load on the machine falls on both alike.
bulk_runs() {
  local i
  log "measuring bulk downloads, direct and through PASSTHROUGH ($bulk_runs x $bulk_mib MiB each)"
  for ((i = 0; i <= bulk_runs; i++)); do
    download direct "$1"
    download passthrough "$2"
  done
}

# median_mbs NAME: the median of NAME's measured downloads (the first is the warm-up), in MB/s
# (10^6 bytes per second).
median_mbs() {
  tail -n +2 "$tmp/$1.speeds" | sort -n | awk '{ s[NR] = $1 } END { printf "%.0f\n", s[int((NR + 1) / 2)] / 1e6 }'
}

install_peers
busy_at_start=$(cpu_busy) # other work on the machine skews every figure
chmod 755 "$tmp" # nginx workers run as an unprivileged user and read their prefix

log "building the handshake load tool"
(cd "$here/../.." && "${GO:-go}" build -o "$tmp/tlsload" ./test/bench/tlsload) || die "building test/bench/tlsload failed"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext 'subjectAltName=DNS:localhost,DNS:bulk.local' \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null || die "openssl could not make the bench certificate"
mkdir -p "$tmp/www"
truncate -s "${bulk_mib}M" "$tmp/www/big" # sparse: the page cache serves it, the disk never does
chmod 644 "$tmp/www/big" # nginx's workers serve it; only its root master reads the key

backend_port=$(free_port) gw_port=$(free_port) nginx_port=$(free_port) bulk_port=$(free_port)
status_port=$(free_port) stats_port=$(free_port) admin_port=$(free_port)

start_backend v1 "$backend_port"

sed -e "s|@PREFIX@|$tmp/nginx|g" -e "s|@LISTEN@|127.0.0.1:$nginx_port|" -e "s|@BULK_LISTEN@|127.0.0.1:$bulk_port|" \
  -e "s|@UPSTREAM@|127.0.0.1:$backend_port|" -e "s|@CERT@|$tmp/cert.pem|" -e "s|@KEY@|$tmp/key.pem|" \
  -e "s|@WWW@|$tmp/www|" "$here/nginx-tls.conf.tmpl" >"$tmp/nginx.conf"
mkdir -p "$tmp/nginx"
nginx -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx.conf" -t -q || die "nginx config rejected"
nginx -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
pids+=("$nginx_pid")

cfg="$tmp/config"
mkdir -p "$cfg" "$tmp/data"
write_config "$cfg" "$backend_port" "$bulk_port"
"$bin" validate "$cfg" || die "gatehouse validate rejected the TLS bench config"
"$bin" run --config "$cfg" --data "$tmp/data" --bind 127.0.0.1 --port-map "443=$gw_port" \
  --status-port "$status_port" --stats-port "$stats_port" --admin-port "$admin_port" \
  >"$tmp/gatehouse.log" 2>&1 &
gatehouse_pid=$!
pids+=("$gatehouse_pid")
wait_http "$gatehouse_pid" "http://127.0.0.1:$status_port/healthz/ready" || { show_log "$tmp/gatehouse.log"; die "gatehouse not ready"; }

# Every path must work before anything is measured.
wait_http "$nginx_pid" "https://localhost:$nginx_port/headers" --cacert "$tmp/cert.pem" || { show_log "$tmp/nginx/error.log"; die "nginx not up"; }
check_proxy nginx "$nginx_port"
wait_http "$gatehouse_pid" "https://localhost:$gw_port/headers" --cacert "$tmp/cert.pem" || { show_log "$tmp/gatehouse.log"; die "gatehouse does not serve HTTPS"; }
check_proxy gatehouse "$gw_port"
check_bulk "nginx direct" "$bulk_port"
check_bulk "gatehouse PASSTHROUGH" "$gw_port"

handshakes nginx "$nginx_port"
handshakes gatehouse "$gw_port"
wrk_run nginx "$nginx_port"
wrk_run gatehouse "$gw_port"
bulk_runs "$bulk_port" "$gw_port"
bulk_direct=$(median_mbs direct) bulk_pass=$(median_mbs passthrough)
rotations "$gw_port"
read -r rk_rps _ rk_non rk_err < <(wrk_stats "$tmp/rot-keep.wrk")
read -r rn_rps _ rn_non rn_err < <(wrk_stats "$tmp/rot-new.wrk")

read -r n_hs n_hs50 n_hs99 n_hserr _ <"$tmp/nginx.hs"
read -r g_hs g_hs50 g_hs99 g_hserr _ <"$tmp/gatehouse.hs"
read -r n_rps n_p99 n_non n_err < <(wrk_stats "$tmp/nginx.wrk")
read -r g_rps g_p99 g_non g_err < <(wrk_stats "$tmp/gatehouse.wrk")

wrk_version=$(wrk -v 2>&1 | head -1 | awk '{print $2}' || true)
report=$(
  cat <<EOF

## $(date -u '+%Y-%m-%d %H:%M UTC') — TLS

- command: \`make bench\`, its TLS part (\`bash test/bench/tls.sh bin/gatehouse\` alone): handshakes with \`tlsload -c $hs_workers -d $hs_duration\` after $hs_warmup warm-up; keep-alive with wrk -t$threads -c$conns -d$duration --latency \`https://localhost/headers\` after $warmup warm-up; $bulk_runs downloads each way of a $bulk_mib MiB file with curl, alternating, after one warm-up each, median
- machine: $(machine), CPU busy with other work at start $busy_at_start
- versions: $("$bin" version), $(nginx -v 2>&1 | sed 's|nginx version: ||'), $(openssl version | cut -d' ' -f1-2), wrk $wrk_version, curl $(curl --version | head -1 | cut -d' ' -f2), $(go version 2>/dev/null | awk '{print $3}')
- certificate: one self-signed ECDSA P-256 certificate for both servers; nginx \`ssl_protocols TLSv1.3\`, session cache and tickets off; Gatehouse at its defaults (TLS 1.2–1.3, session tickets on)

| measure | nginx | gatehouse | gatehouse / nginx |
|---|---:|---:|---:|
| full TLS 1.3 handshakes/s | $n_hs | $g_hs | **$(ratio "$g_hs" "$n_hs")** |
| handshake p99 (p50) | $n_hs99 ms ($n_hs50 ms) | $g_hs99 ms ($g_hs50 ms) | $(ratio "$g_hs99" "$n_hs99") |
| HTTPS keep-alive requests/s | $n_rps | $g_rps | **$(ratio "$g_rps" "$n_rps")** |
| HTTPS keep-alive p99 | $n_p99 ms | $g_p99 ms | $(ratio "$g_p99" "$n_p99") |

| bulk download | direct to nginx | through gatehouse PASSTHROUGH | passthrough / direct |
|---|---:|---:|---:|
| MB/s (median) | $bulk_direct | $bulk_pass | **$(ratio "$bulk_pass" "$bulk_direct")** |

Failed handshakes: nginx $n_hserr, gatehouse $g_hserr. Keep-alive non-2xx / socket errors: nginx $n_non / $n_err, gatehouse $g_non / $g_err.

Secret rotated ${BENCH_ROTATIONS:-5} times under wrk: kept-alive $rk_rps req/s with **$rk_non non-2xx, $rk_err socket errors**; a new handshake per request $rn_rps req/s with **$rn_non non-2xx, $rn_err socket errors**; the new certificate reached new handshakes at worst **$rot_worst_ms ms** after the Secret file was replaced.

- **Handshakes** measure the cost of a new client: each of $hs_workers Go workers dials, completes a
  full TLS 1.3 handshake (X25519 key share, certificate verified, no session cache so nothing
  resumes) and closes, over and over; latency runs from the TCP dial to the client's Finished.
- **HTTPS keep-alive** measures the steady state of a busy edge: TLS record encryption plus proxying
  to the demo backend on warm connections, nothing but the first handshakes.
- **PASSTHROUGH** measures what the SNI peek and the byte splice cost a large download that the
  upstream encrypts itself; 1.00 means the splice is free.
EOF
)
echo "$report"
append_results "$report"
if [ "$n_hserr" -ne 0 ] || [ "$g_hserr" -ne 0 ] || [ "$n_non" -ne 0 ] || [ "$g_non" -ne 0 ] ||
  [ "$rk_non" -ne 0 ] || [ "$rk_err" -ne 0 ] || [ "$rn_non" -ne 0 ] || [ "$rn_err" -ne 0 ]; then
  die "failed handshakes, non-2xx responses or errors during rotation (see the table)"
fi
