#!/usr/bin/env bash
# `make bench`, its peer part: HTTPS reverse-proxy throughput and p99 for 1 KiB responses over
# keep-alive connections, Gatehouse against nginx and Caddy with the same certificate and the
# same upstream, in one run; the memory each proxy holds; and the compile-and-swap time of
# 10,000 VirtualServices (BenchmarkCompileAndApply10kVirtualServices in package gateway).
# Caddy is built from the Go module proxy once per version and cached. Appends to RESULTS.md.
#
#   bash test/bench/proxy.sh bin/gatehouse
#
# BENCH_DURATION (whole seconds, default 20s), BENCH_CONNECTIONS (64) and BENCH_THREADS (2) tune
# the wrk runs; CADDY_VERSION picks the Caddy release.
set -euo pipefail

bin=$(realpath "${1:-bin/gatehouse}")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
duration=${BENCH_DURATION:-20s}
conns=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
caddy_version=${CADDY_VERSION:-v2.11.9}
warmup=3s
path=/1k
[[ $duration =~ ^[0-9]+s$ ]] || { echo "bench: BENCH_DURATION must be whole seconds, like 20s" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

# write_config DIR UPSTREAM_PORT: one Gateway port 443, SIMPLE with the bench certificate, every
# request routed to the 1 KiB upstream. The host is "*" for the reason tls.sh gives.
write_config() {
  cat >"$1/gateway.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench-1k, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: bench-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bench-1k, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [bench-1k]
  http:
  - route:
    - destination: {host: upstream.bench.internal}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: upstream, namespace: istio-system}
spec:
  hosts: [upstream.bench.internal]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: $2}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
EOF
  {
    printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: bench-cert, namespace: istio-system}\nstringData:\n'
    printf '  tls.crt: |\n'; sed 's/^/    /' "$tmp/cert.pem"
    printf '  tls.key: |\n'; sed 's/^/    /' "$tmp/key.pem"
  } >"$1/secret.yaml"
}

# check_1k NAME PORT: the proxy must answer over verified TLS with the upstream's 1024 bytes.
check_1k() {
  local out
  out=$(curl -sS --max-time 5 --cacert "$tmp/cert.pem" -o /dev/null -w '%{http_code} %{size_download}' \
    "https://localhost:$2$path") || die "$1 does not serve https://localhost:$2$path"
  [ "$out" = "200 1024" ] || die "$1 answered $out (status, bytes), want 200 1024"
}

# What lib.sh's wrk_to drives here: HTTPS keep-alive to the 1 KiB path (SNI localhost).
wrk_args=()
wrk_url() { echo "https://localhost:$1$path"; }

# mem PID...: "RSS-MiB HWM-MiB", VmRSS and VmHWM summed over the processes, in MiB.
mem() {
  local p
  for p in "$@"; do cat "/proc/$p/status"; done |
    awk '/^VmRSS:/ { r += $2 } /^VmHWM:/ { h += $2 } END { printf "%.1f %.1f\n", r / 1024, h / 1024 }'
}

# nginx_mem: mem of the peer nginx's master and its workers together.
nginx_mem() {
  local workers
  mapfile -t workers < <(ps -o pid= --ppid "$nginx_pid" | tr -d ' ')
  mem "$nginx_pid" "${workers[@]}"
}

install_peers
caddy=$(go_install_cached caddy github.com/caddyserver/caddy/v2/cmd/caddy "$caddy_version")
busy_at_start=$(cpu_busy) # other work on the machine skews every figure
chmod 755 "$tmp" # nginx workers run as an unprivileged user and read their prefix

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext 'subjectAltName=DNS:localhost' \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null || die "openssl could not make the bench certificate"
chmod 644 "$tmp/key.pem" # Caddy runs as this user; nginx's root master reads it too

up_port=$(free_port) gw_port=$(free_port) nginx_port=$(free_port) caddy_port=$(free_port)
status_port=$(free_port) stats_port=$(free_port) admin_port=$(free_port)

# start_nginx NAME TEMPLATE SED-ARGS...: an nginx in the foreground with prefix $tmp/NAME; its
# pid goes to $started.
start_nginx() {
  local name=$1 tmpl=$2; shift 2
  mkdir -p "$tmp/$name"
  sed -e "s|@PREFIX@|$tmp/$name|g" "$@" "$here/$tmpl" >"$tmp/$name.conf"
  nginx -p "$tmp/$name" -e "$tmp/$name/error.log" -c "$tmp/$name.conf" -t -q || die "$name: nginx config rejected"
  nginx -p "$tmp/$name" -e "$tmp/$name/error.log" -c "$tmp/$name.conf" -g 'daemon off;' &
  started=$!
  pids+=("$started")
}

body=$(head -c 1024 /dev/zero | tr '\0' x)
start_nginx upstream upstream-1k.conf.tmpl -e "s|@LISTEN@|127.0.0.1:$up_port|" -e "s|@BODY@|$body|"
up_pid=$started
wait_http "$up_pid" "http://127.0.0.1:$up_port$path" || { show_log "$tmp/upstream/error.log"; die "upstream not up"; }

start_nginx nginx nginx-proxy-1k.conf.tmpl -e "s|@LISTEN@|127.0.0.1:$nginx_port|" \
  -e "s|@UPSTREAM@|127.0.0.1:$up_port|" -e "s|@CERT@|$tmp/cert.pem|" -e "s|@KEY@|$tmp/key.pem|"
nginx_pid=$started

sed -e "s|@LISTEN_PORT@|$caddy_port|" -e "s|@UPSTREAM@|127.0.0.1:$up_port|" \
  -e "s|@CERT@|$tmp/cert.pem|" -e "s|@KEY@|$tmp/key.pem|" "$here/Caddyfile.tmpl" >"$tmp/Caddyfile"
# Caddy's data and config directories go to the scratch directory, never the user's home.
XDG_DATA_HOME="$tmp/caddy-data" XDG_CONFIG_HOME="$tmp/caddy-config" \
  "$caddy" run --adapter caddyfile --config "$tmp/Caddyfile" >"$tmp/caddy.log" 2>&1 &
caddy_pid=$!
pids+=("$caddy_pid")

cfg="$tmp/config"
mkdir -p "$cfg" "$tmp/data"
write_config "$cfg" "$up_port"
"$bin" validate "$cfg" || die "gatehouse validate rejected the 1 KiB bench config"
"$bin" run --config "$cfg" --data "$tmp/data" --bind 127.0.0.1 --port-map "443=$gw_port" \
  --status-port "$status_port" --stats-port "$stats_port" --admin-port "$admin_port" \
  >"$tmp/gatehouse.log" 2>&1 &
gatehouse_pid=$!
pids+=("$gatehouse_pid")

wait_http "$gatehouse_pid" "http://127.0.0.1:$status_port/healthz/ready" || { show_log "$tmp/gatehouse.log"; die "gatehouse not ready"; }
wait_http "$gatehouse_pid" "https://localhost:$gw_port$path" --cacert "$tmp/cert.pem" || { show_log "$tmp/gatehouse.log"; die "gatehouse does not serve HTTPS"; }
wait_http "$nginx_pid" "https://localhost:$nginx_port$path" --cacert "$tmp/cert.pem" || { show_log "$tmp/nginx/error.log"; die "nginx not up"; }
wait_http "$caddy_pid" "https://localhost:$caddy_port$path" --cacert "$tmp/cert.pem" || { show_log "$tmp/caddy.log"; die "caddy not up"; }
check_1k gatehouse "$gw_port"
check_1k nginx "$nginx_port"
check_1k caddy "$caddy_port"

# Idle: config loaded and one request served by each, before any load.
read -r g_idle _ < <(mem "$gatehouse_pid")
read -r n_idle _ < <(nginx_mem)
read -r c_idle _ < <(mem "$caddy_pid")

mapfile -t nginx_workers < <(ps -o pid= --ppid "$nginx_pid" | tr -d ' ')
wrk_run nginx "$nginx_port" "$nginx_pid" "${nginx_workers[@]}"
read -r n_rss n_hwm < <(nginx_mem)
wrk_run caddy "$caddy_port" "$caddy_pid"
read -r c_rss c_hwm < <(mem "$caddy_pid")
wrk_run gatehouse "$gw_port" "$gatehouse_pid"
read -r g_rss g_hwm < <(mem "$gatehouse_pid")
n_cpu=$(us_per_request "$(cat "$tmp/nginx.ticks")" "$tmp/nginx.wrk")
c_cpu=$(us_per_request "$(cat "$tmp/caddy.ticks")" "$tmp/caddy.wrk")
g_cpu=$(us_per_request "$(cat "$tmp/gatehouse.ticks")" "$tmp/gatehouse.wrk")

# Where Gatehouse's time goes: a CPU profile under the same load, in a run of its own so that
# sampling does not touch the measured one.
log "profiling gatehouse under the same load (10s, not measured)"
wrk -t"$threads" -c"$conns" -d12s "https://localhost:$gw_port$path" >/dev/null &
profiled=$!
pids+=("$profiled")
curl -fsS --max-time 30 -o "$tmp/gatehouse.pprof" "http://127.0.0.1:$admin_port/debug/pprof/profile?seconds=10" ||
  die "gatehouse's CPU profile could not be fetched"
wait "$profiled" || die "wrk failed during the profile"
profile_flat=$("${GO:-go}" tool pprof -top -nodecount=12 "$bin" "$tmp/gatehouse.pprof" 2>/dev/null | sed -n '/flat%/,$p')
profile_cum=$("${GO:-go}" tool pprof -top -cum -nodecount=30 "$bin" "$tmp/gatehouse.pprof" 2>/dev/null | sed -n '/flat%/,$p')

read -r n_rps n_p99 n_non n_err < <(wrk_stats "$tmp/nginx.wrk")
read -r c_rps c_p99 c_non c_err < <(wrk_stats "$tmp/caddy.wrk")
read -r g_rps g_p99 g_non g_err < <(wrk_stats "$tmp/gatehouse.wrk")

stop_children # the Go benchmark gets the machine to itself
busy_after=$(cpu_busy) # other work that started during the runs skews them too
log "measuring compile-and-swap of 10,000 VirtualServices"
(cd "$root" && "${GO:-go}" test ./gateway -run '^$' -bench CompileAndApply10k -benchtime 5x -benchmem) >"$tmp/compile.bench" 2>&1 ||
  { show_log "$tmp/compile.bench"; die "BenchmarkCompileAndApply10kVirtualServices failed"; }
# bench_line NAME: "ms/op MB/op allocs/op" of one sub-benchmark.
bench_line() {
  awk -v name="/$1-" 'index($1, name) { printf "%.0f %.1f %d\n", $3 / 1e6, $5 / 1048576, $7 }' "$tmp/compile.bench"
}
read -r cc_ms cc_mb cc_allocs < <(bench_line Compile)
read -r ca_ms ca_mb ca_allocs < <(bench_line Apply)

wrk_version=$(wrk -v 2>&1 | head -1 | awk '{print $2}' || true)
report=$(
  cat <<EOF

## $(date -u '+%Y-%m-%d %H:%M UTC') — HTTPS proxy, 1 KiB, against nginx and Caddy

- command: \`make bench\`, its peer part (\`bash test/bench/proxy.sh bin/gatehouse\` alone): wrk -t$threads -c$conns -d$duration --latency \`https://localhost$path\` after $warmup warm-up, one proxy after the other, all three up throughout
- machine: $(machine), CPU busy with other work at start $busy_at_start, right after the runs $busy_after
- versions: $("$bin" version), $(nginx -v 2>&1 | sed 's|nginx version: ||'), caddy $("$caddy" build-info | awk '$1 == "mod" { print $3 }'), wrk $wrk_version, $(go version 2>/dev/null | awk '{print $3}')
- the same self-signed ECDSA P-256 certificate for all three, each at its TLS defaults; the same upstream for all three: one nginx worker answering every path with the same 1024-byte body, over HTTP/1.1 keep-alive; nginx and Caddy add X-Forwarded-For/-Proto and a request id, as Gatehouse does

| proxy | requests/s | p99 latency | CPU per request | non-2xx | socket errors | RSS idle | RSS after load | peak RSS |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
| nginx (master + workers) | $n_rps | $n_p99 ms | $n_cpu µs | $n_non | $n_err | $n_idle MiB | $n_rss MiB | $n_hwm MiB |
| caddy $caddy_version | $c_rps | $c_p99 ms | $c_cpu µs | $c_non | $c_err | $c_idle MiB | $c_rss MiB | $c_hwm MiB |
| gatehouse | $g_rps | $g_p99 ms | $g_cpu µs | $g_non | $g_err | $g_idle MiB | $g_rss MiB | $g_hwm MiB |

gatehouse / nginx: throughput **$(ratio "$g_rps" "$n_rps")**, p99 **$(ratio "$g_p99" "$n_p99")** (above 1 is slower). gatehouse / caddy: throughput **$(ratio "$g_rps" "$c_rps")**, p99 **$(ratio "$g_p99" "$c_p99")**. caddy / nginx throughput $(ratio "$c_rps" "$n_rps").

CPU per request is the user and system time the proxy's processes used during its measured run
(/proc/PID/stat, all threads), divided by the requests wrk completed; wrk and the upstream share
the same cores, so this, not requests/s, is the proxy's own cost.
Memory is VmRSS (and VmHWM for the peak) from /proc: idle is after the config loaded and one
request, the rest right after that proxy's run. Gatehouse's figure is the whole \`gatehouse run\`
process (gateway, authz, SDS and CA in one), nginx's is its master and workers summed.

Gatehouse's CPU profile over 10s of the same load (a separate run), by flat time and by
cumulative time:

\`\`\`
$profile_flat

$profile_cum
\`\`\`

Compile-and-swap, 1 Gateway and 10,000 VirtualServices (2 routes each) to 100 ServiceEntries
(\`go test ./gateway -run '^\$' -bench CompileAndApply10k -benchtime 5x -benchmem\`):

| step | time | allocated | allocations |
|---|---:|---:|---:|
| Compile (snapshot → Table) | $cc_ms ms | $cc_mb MiB | $cc_allocs |
| Apply (Compile + swap on a live listener) | $ca_ms ms | $ca_mb MiB | $ca_allocs |
EOF
)
echo "$report"
append_results "$report"
if [ "$n_non" -ne 0 ] || [ "$c_non" -ne 0 ] || [ "$g_non" -ne 0 ] || [ "$n_err" -ne 0 ] || [ "$c_err" -ne 0 ] || [ "$g_err" -ne 0 ]; then
  die "non-2xx responses or socket errors in the 1 KiB runs (see the table)"
fi
