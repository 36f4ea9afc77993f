#!/usr/bin/env bash
# `make bench`: Gatehouse against nginx as a plain HTTP reverse proxy to the same demo backend,
# both driven by wrk with the same parameters on this machine, plus a reload-under-load check;
# then tls.sh, the TLS benchmarks, and proxy.sh, HTTPS 1 KiB against nginx and Caddy, memory and
# compile-and-swap of 10,000 VirtualServices; then authz.sh, in-process and gRPC ext_authz Check;
# then opa.sh, the native engine vs the built-in OPA vs OPA run as opa-envoy-plugin runs it; then
# oidc.sh, the in-process cost of a signed-in OIDC request with memory and Redis sessions; then
# ca.sh, the workload CA's CreateCertificate against cfssl's sign API; then mesh.sh, what the sidecar
# adds to a request's latency and its mTLS handshakes per second; then kube.sh, Secret rotation and
# 1,000 AuthorizationPolicies through a real Kubernetes API server.
# Installs its own peers (nginx, wrk) from Debian. Appends the results to RESULTS.md beside it.
#
#   bash test/bench/run.sh bin/gatehouse
#
# BENCH_DURATION (whole seconds, default 20s), BENCH_CONNECTIONS (64) and BENCH_THREADS (2) tune the wrk runs.
set -euo pipefail

bin=$(realpath "${1:-bin/gatehouse}")
here=$(cd "$(dirname "$0")" && pwd)
duration=${BENCH_DURATION:-20s}
conns=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
warmup=3s
[[ $duration =~ ^[0-9]+s$ ]] || { echo "bench: BENCH_DURATION must be whole seconds, like 20s" >&2; exit 2; }
host=bench.local
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

write_config() { # DIR V1PORT V2PORT
  cat >"$1/gateway.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["$host"]
EOF
  cat >"$1/backends.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: bench}
spec:
  hosts: [backend.bench.internal]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: $2}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend-v2, namespace: bench}
spec:
  hosts: [backend-v2.bench.internal]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: $3}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
EOF
  route "$1" backend
}

# route DIR DESTINATION: replaces the VirtualService atomically (write a file the watcher
# ignores, then rename it over the old one), as a config-management tool would.
route() {
  cat >"$1/..route.tmp" <<EOF
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bench, namespace: bench}
spec:
  hosts: [$host]
  gateways: [istio-system/bench]
  http:
  - route:
    - destination: {host: $2.bench.internal}
EOF
  mv "$1/..route.tmp" "$1/route.yaml"
}

# What lib.sh's wrk_to drives here: plain HTTP to /headers, with the benchmark's Host.
wrk_args=(-H "Host: $host")
wrk_url() { echo "http://127.0.0.1:$1/headers"; }

# backend_of PORT: the name of the demo backend that answered through a proxy on PORT.
backend_of() {
  curl -fsS -D - -o /dev/null --max-time 2 -H "Host: $host" "http://127.0.0.1:$1/headers" |
    awk -F': *' 'tolower($1) == "x-backend-name" { sub(/\r$/, "", $2); print $2 }'
}

check_proxy() { # NAME PORT PID
  wait_http "$3" "http://127.0.0.1:$2/headers" -H "Host: $host" || die "$1 does not proxy /headers"
  [ "$(backend_of "$2")" = v1 ] || die "$1 answered, but not from backend v1"
}

reloads_ok() {
  curl -fsS "http://127.0.0.1:$stats_port/stats/prometheus" |
    awk '/^gatehouse_config_reloads_total\{.*result="ok"/ { n += $NF } END { printf "%d\n", n }'
}

install_peers
busy_at_start=$(cpu_busy) # other work on the machine skews every figure
chmod 755 "$tmp" # nginx workers run as an unprivileged user and read their prefix

v1_port=$(free_port) v2_port=$(free_port) gw_port=$(free_port) nginx_port=$(free_port)
status_port=$(free_port) stats_port=$(free_port) admin_port=$(free_port)

start_backend v1 "$v1_port"
start_backend v2 "$v2_port"

cfg="$tmp/config"
mkdir -p "$cfg" "$tmp/data"
write_config "$cfg" "$v1_port" "$v2_port"
"$bin" validate "$cfg" || die "gatehouse validate rejected the bench config"
"$bin" run --config "$cfg" --data "$tmp/data" --bind 127.0.0.1 --port-map "80=$gw_port" \
  --status-port "$status_port" --stats-port "$stats_port" --admin-port "$admin_port" \
  >"$tmp/gatehouse.log" 2>&1 &
gatehouse_pid=$!
pids+=("$gatehouse_pid")
wait_http "$gatehouse_pid" "http://127.0.0.1:$status_port/healthz/ready" || { show_log "$tmp/gatehouse.log"; die "gatehouse not ready"; }

sed -e "s|@PREFIX@|$tmp/nginx|g" -e "s|@LISTEN@|127.0.0.1:$nginx_port|" \
  -e "s|@UPSTREAM@|127.0.0.1:$v1_port|" "$here/nginx.conf.tmpl" >"$tmp/nginx.conf"
mkdir -p "$tmp/nginx"
nginx -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx.conf" -t -q || die "nginx config rejected"
nginx -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
pids+=("$nginx_pid")

# Both proxies must reach backend v1 before anything is measured.
check_proxy gatehouse "$gw_port" "$gatehouse_pid"
check_proxy nginx "$nginx_port" "$nginx_pid"

wrk_run backend "$v1_port"
wrk_run nginx "$nginx_port"
wrk_run gatehouse "$gw_port"

# Reload under load: the VirtualService flips between two equivalent routes every 0.5s.
log "measuring gatehouse under reloads ($duration, route rewritten every 0.5s)"
reloads_before=$(reloads_ok)
(
  end=$((SECONDS + ${duration%s})) dest=backend-v2 n=0
  while [ $SECONDS -lt $end ]; do
    route "$cfg" "$dest"
    n=$((n + 1))
    if [ "$dest" = backend ]; then dest=backend-v2; else dest=backend; fi
    sleep 0.5
  done
  echo "$n" >"$tmp/rewrites"
) &
writer=$!
pids+=("$writer")
wrk_to "$tmp/reload.wrk" "$duration" "$gw_port"
wait "$writer" || true
rewrites=$(cat "$tmp/rewrites" 2>/dev/null || echo 0)
sleep 0.5 # past the watcher's debounce, so the last rewrite is counted
reloads=$(($(reloads_ok) - reloads_before))
# After the load, each direction of the flip must take effect: v1 then v2 answering within 5s.
last_applied=yes
for b in v1 v2; do
  if [ $b = v1 ]; then route "$cfg" backend; else route "$cfg" backend-v2; fi
  deadline=$((SECONDS + 5))
  until [ "$(backend_of "$gw_port" || true)" = $b ]; do
    [ $SECONDS -lt $deadline ] || { last_applied=no; break; }
    sleep 0.1
  done
done

read -r b_rps b_p99 b_non b_err < <(wrk_stats "$tmp/backend.wrk")
read -r n_rps n_p99 n_non n_err < <(wrk_stats "$tmp/nginx.wrk")
read -r g_rps g_p99 g_non g_err < <(wrk_stats "$tmp/gatehouse.wrk")
read -r r_rps r_p99 r_non r_err < <(wrk_stats "$tmp/reload.wrk")
rps_ratio=$(ratio "$g_rps" "$n_rps")
p99_ratio=$(ratio "$g_p99" "$n_p99")

wrk_version=$(wrk -v 2>&1 | head -1 | awk '{print $2}' || true)
report=$(
  cat <<EOF

## $(date -u '+%Y-%m-%d %H:%M UTC')

- command: \`make bench\` (wrk -t$threads -c$conns -d$duration --latency, $warmup warm-up, \`GET /headers\`, \`Host: $host\`)
- machine: $(machine), CPU busy with other work at start $busy_at_start
- versions: $("$bin" version), $(nginx -v 2>&1 | sed 's|nginx version: ||'), wrk $wrk_version, $(go version 2>/dev/null | awk '{print $3}')

| target | requests/s | p99 latency | non-2xx | socket errors |
|---|---:|---:|---:|---:|
| backend direct | $b_rps | $b_p99 ms | $b_non | $b_err |
| nginx → backend | $n_rps | $n_p99 ms | $n_non | $n_err |
| gatehouse → backend | $g_rps | $g_p99 ms | $g_non | $g_err |

gatehouse / nginx: throughput **$rps_ratio**, p99 latency **$p99_ratio** (above 1 means gatehouse is slower).

Reload under load: $r_rps requests/s, p99 $r_p99 ms, **$r_non non-2xx**, **$r_err socket errors**, $rewrites rewrites, $reloads successful reloads (\`gatehouse_config_reloads_total{result="ok"}\`; rewrites that land within the 100ms watch debounce count once), rewrites applied afterwards: $last_applied.
EOF
)
echo "$report"
append_results "$report"

stop_children # the TLS benchmarks get the machine to themselves
tls_ok=yes
bash "$here/tls.sh" "$bin" || tls_ok=no
proxy_ok=yes
bash "$here/proxy.sh" "$bin" || proxy_ok=no
authz_ok=yes
bash "$here/authz.sh" "$bin" || authz_ok=no
opa_ok=yes
bash "$here/opa.sh" "$bin" || opa_ok=no
oidc_ok=yes
bash "$here/oidc.sh" "$bin" || oidc_ok=no
ca_ok=yes
bash "$here/ca.sh" "$bin" || ca_ok=no
mesh_ok=yes
bash "$here/mesh.sh" "$bin" || mesh_ok=no
kube_ok=yes
bash "$here/kube.sh" "$bin" || kube_ok=no

if [ "$r_non" -ne 0 ] || [ "$r_err" -ne 0 ] || [ "$last_applied" != yes ] || [ "$reloads" -eq 0 ]; then
  die "reload under load: $r_non non-2xx, $r_err socket errors, $reloads reloads, last applied: $last_applied"
fi
[ "$tls_ok" = yes ] || die "the TLS benchmarks failed"
[ "$proxy_ok" = yes ] || die "the HTTPS 1 KiB proxy benchmarks against nginx and Caddy failed"
[ "$authz_ok" = yes ] || die "the ext_authz benchmarks (in-process Check, JWT cost, ghz) failed"
[ "$opa_ok" = yes ] || die "the OPA benchmarks (native vs built-in OPA vs plugin style) failed"
[ "$oidc_ok" = yes ] || die "the OIDC login benchmarks (signed-in request, memory and Redis sessions) failed"
[ "$ca_ok" = yes ] || die "the workload CA benchmarks (CreateCertificate vs cfssl serve) failed"
[ "$mesh_ok" = yes ] || die "the mesh benchmarks (sidecar added latency, mTLS handshakes) failed"
[ "$kube_ok" = yes ] || die "the Kubernetes benchmarks (Secret rotation, 1,000 AuthorizationPolicies) failed"
