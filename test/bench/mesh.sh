#!/usr/bin/env bash
# `make bench`, its mesh part (issue 10): what the sidecar costs. One `gatehouse run` (gateway and
# CA), one `gatehouse sidecar` (STRICT, from the namespace's PeerAuthentication over xDS, with an
# AuthorizationPolicy) in front of one `gatehouse demo-backend`, on this machine in one run:
#   plain   client → gateway → backend, plaintext (Host plain.bench.local);
#   mesh    client → gateway → sidecar over ISTIO_MUTUAL → backend on loopback (Host
#           mesh.bench.local; the gateway originates mTLS because the endpoint is labelled
#           security.istio.io/tlsMode: istio, and checks the sidecar's SPIFFE ID);
#   1. latency p50/p99 of both, and the difference, under wrk with the same connections, and at a
#      fixed moderate rate under hey; the CPU per request of the gateway and of the sidecar;
#   2. new mTLS connections per second into the sidecar with a mesh client certificate and Istio's
#      ALPN, beside new TLS connections to the gateway's own SIMPLE server (tls.sh's method):
#      handshakes alone, and handshakes each carrying one request answered 200.
# Appends the results to RESULTS.md beside it.
#
#   bash test/bench/mesh.sh bin/gatehouse
#
# BENCH_DURATION (whole seconds, default 20s), BENCH_CONNECTIONS (64) and BENCH_THREADS (2) tune
# the wrk runs as in run.sh; BENCH_MESH_RPS (500) and BENCH_MESH_RATE_CONCURRENCY (5) the hey
# runs; BENCH_HANDSHAKE_DURATION (8s) and BENCH_HANDSHAKE_WORKERS (32) the handshake runs as in
# tls.sh; HEY_VERSION hey's release.
set -euo pipefail

bin=$(realpath "${1:-bin/gatehouse}")
here=$(cd "$(dirname "$0")" && pwd)
duration=${BENCH_DURATION:-20s}
conns=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
rps=${BENCH_MESH_RPS:-500}
rate_concurrency=${BENCH_MESH_RATE_CONCURRENCY:-5}
hs_duration=${BENCH_HANDSHAKE_DURATION:-8s}
hs_workers=${BENCH_HANDSHAKE_WORKERS:-32}
hey_version=${HEY_VERSION:-v0.1.4} # as ca.sh
warmup=3s
hs_warmup=2s
path=/status/200 # the same small body both ways; /headers would grow by the XFCC the sidecar adds
[[ $duration =~ ^[0-9]+s$ && $hs_duration =~ ^[0-9]+s$ ]] ||
  { echo "bench: BENCH_DURATION and BENCH_HANDSHAKE_DURATION must be whole seconds, like 20s" >&2; exit 2; }
[[ $rps =~ ^[1-9][0-9]*$ && $rate_concurrency =~ ^[1-9][0-9]*$ && $((rps % rate_concurrency)) -eq 0 ]] ||
  { echo "bench: BENCH_MESH_RPS must be a multiple of BENCH_MESH_RATE_CONCURRENCY (hey's rate is per worker)" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

gateway_id=spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account
web_id=spiffe://cluster.local/ns/apps/sa/web
load_id=spiffe://cluster.local/ns/bench/sa/load
token=mesh-bench-sidecar-token-0123456789

# write_config DIR BACKEND_PORT INBOUND_PORT: the full chain of the issue-10 walkthrough with a
# plain HTTP front: Gateway port 80 for plain.bench.local (to the backend directly) and
# mesh.bench.local (to web.apps, the sidecar), a SIMPLE port 443 for the handshake comparison,
# the apps namespace STRICT, and a policy at the sidecar allowing the gateway and the load client.
write_config() {
  cat >"$1/gateway.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench-http, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [plain.bench.local, mesh.bench.local]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench-https, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: bench-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: plain, namespace: istio-system}
spec:
  hosts: [plain.bench.local]
  gateways: [bench-http]
  http: [{route: [{destination: {host: backend.bench.internal}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mesh, namespace: istio-system}
spec:
  hosts: [mesh.bench.local]
  gateways: [bench-http]
  http: [{route: [{destination: {host: web.apps.svc.cluster.local, port: {number: 8080}}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: https, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [bench-https]
  http: [{route: [{destination: {host: backend.bench.internal}}]}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: istio-system}
spec:
  hosts: [backend.bench.internal]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: $2}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
EOF
  {
    printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: bench-cert, namespace: istio-system}\nstringData:\n'
    printf '  tls.crt: |\n'; sed 's/^/    /' "$tmp/cert.pem"
    printf '  tls.key: |\n'; sed 's/^/    /' "$tmp/key.pem"
  } >"$1/secret.yaml"
  cat >"$1/apps.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web, namespace: apps}
spec:
  hosts: [web.apps.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
    ports: {http: $3}
    serviceAccount: web
    labels: {security.istio.io/tlsMode: istio}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web-workload, namespace: apps}
spec:
  hosts: [web-workload.apps.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: $3, name: http, protocol: HTTP, targetPort: $2}]
  resolution: STATIC
  workloadSelector: {labels: {app: web}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: apps}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: gateway-and-load, namespace: apps}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules: [{from: [{source: {principals: ["${gateway_id#spiffe://}", "${load_id#spiffe://}"]}}]}]
---
apiVersion: v1
kind: Secret
metadata: {name: web-token, namespace: apps}
stringData: {token: $token}
---
apiVersion: gatehouse.dev/v1alpha1
kind: BootstrapToken
metadata: {name: web, namespace: apps}
spec:
  serviceAccount: web
  token: {name: web-token, key: token}
  maxUses: 10
EOF
}

# load_cert: a workload certificate for $load_id signed by the mesh root in $tmp/load.{crt,key},
# as ca.sh makes its renewal certificate; the handshake load presents it to the sidecar.
load_cert() {
  local ca="$tmp/data/ca"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj / \
    -keyout "$tmp/load.key" -out "$tmp/load.csr" 2>/dev/null || die "openssl could not make the load client's CSR"
  printf 'subjectAltName=URI:%s\nextendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n' "$load_id" >"$tmp/load.ext"
  openssl x509 -req -in "$tmp/load.csr" -CA "$ca/root-cert.pem" -CAkey "$ca/root-key.pem" -CAcreateserial \
    -days 2 -extfile "$tmp/load.ext" -out "$tmp/load.crt" 2>/dev/null || die "openssl could not sign the load client's certificate"
}

# front HOST: curl to the gateway's HTTP port as HOST; prints the status, or 000 when none came.
front() { curl -sS -o /dev/null -w '%{http_code}' --max-time 2 -H "Host: $1" "http://127.0.0.1:$gw_port$path" 2>/dev/null || true; }

# wait_strict: until the sidecar's xDS answers it is PERMISSIVE (Istio's default), which would
# answer plaintext with the policy's 403; STRICT closes it. Polls for at most 15s.
wait_strict() {
  local deadline=$((SECONDS + 15)) code
  while :; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$inbound_port$path" 2>/dev/null || true)
    [ "$code" = 000 ] && return
    [ $SECONDS -lt $deadline ] || die "the sidecar still answers plaintext ($code) 15s after start: not STRICT"
    sleep 0.1
  done
}

# What lib.sh's wrk_to drives here: plain HTTP to the gateway, with the Host wrk_measure sets.
wrk_args=()
wrk_url() { echo "http://127.0.0.1:$1$path"; }

# hey_rate OUT HOST: one hey run at BENCH_MESH_RPS through the gateway as HOST, after a warm-up.
hey_rate() {
  "$hey" -z "$warmup" -c "$rate_concurrency" -q $((rps / rate_concurrency)) -host "$2" "http://127.0.0.1:$gw_port$path" >/dev/null &
  pids+=($!)
  wait $! || die "hey (warm-up) failed"
  log "measuring $2 at $rps requests/s ($duration, $rate_concurrency workers)"
  "$hey" -z "$duration" -c "$rate_concurrency" -q $((rps / rate_concurrency)) -host "$2" "http://127.0.0.1:$gw_port$path" >"$1" &
  pids+=($!)
  wait $! || { show_log "$1"; die "hey failed"; }
}

# handshakes NAME PORT [TLSLOAD ARGS...]: a warm-up, then the measured run; tlsload's line
# ("handshakes/s p50-ms p99-ms errors count") goes to $tmp/NAME.hs.
handshakes() {
  local name=$1 port=$2; shift 2
  log "measuring new TLS connections: $name ($hs_duration, $hs_workers workers)"
  "$tmp/tlsload" -addr "127.0.0.1:$port" -c "$hs_workers" -d "$hs_duration" -warmup "$hs_warmup" "$@" >"$tmp/$name.hs" &
  pids+=($!)
  wait $! || die "new connections ($name) failed"
}

# wrk_measure NAME HOST: a warm-up, then the measured wrk run through the gateway as HOST into
# $tmp/NAME.wrk; the CPU ticks the gateway, the backend and the sidecar used during the measured
# run go to $tmp/NAME.ticks, in that order, each process on its own.
wrk_measure() {
  local name=$1 before after
  wrk_args=(-H "Host: $2")
  wrk_to /dev/null "$warmup" "$gw_port"
  log "measuring $name ($duration, $threads threads, $conns connections)"
  before=$(ticks_each)
  sidecar_handshakes >"$tmp/$name.hs-before"
  wrk_to "$tmp/$name.wrk" "$duration" "$gw_port"
  after=$(ticks_each)
  echo $(($(sidecar_handshakes) - $(cat "$tmp/$name.hs-before"))) >"$tmp/$name.sidecar-handshakes"
  paste -d' ' <(tr ' ' '\n' <<<"$before") <(tr ' ' '\n' <<<"$after") | awk '{ printf "%s%d", (NR > 1 ? " " : ""), $2 - $1 } END { print "" }' >"$tmp/$name.ticks"
}

# sidecar_handshakes: the TLS handshakes the sidecar has completed so far.
sidecar_handshakes() {
  curl -fsS --max-time 2 "http://127.0.0.1:$sc_stats/stats/prometheus" |
    awk '/^gatehouse_tls_handshakes_total\{/ { n += $NF } END { printf "%d\n", n }'
}

# ticks_each: cpu_ticks of the gateway, the backend and the sidecar, space-separated.
ticks_each() { echo "$(cpu_ticks "$gatehouse_pid") $(cpu_ticks "$backend_pid") $(cpu_ticks "$sidecar_pid")"; }

# diff_ms A B: A - B in ms to three decimals.
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f", a - b }'; }

install_peers
hey=$(go_install_cached hey github.com/rakyll/hey "$hey_version")
busy_at_start=$(cpu_busy) # other work on the machine skews every figure

log "building the handshake load tool"
(cd "$here/../.." && "${GO:-go}" build -o "$tmp/tlsload" ./test/bench/tlsload) || die "building test/bench/tlsload failed"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext 'subjectAltName=DNS:localhost' \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null || die "openssl could not make the bench certificate"

backend_port=$(free_port) gw_port=$(free_port) gw_tls_port=$(free_port) inbound_port=$(free_port)
ca_port=$(free_port) xds_port=$(free_port) status_port=$(free_port) stats_port=$(free_port) admin_port=$(free_port)
sc_status=$(free_port) sc_stats=$(free_port) sc_admin=$(free_port)

start_backend web "$backend_port"
backend_pid=${pids[-1]}

cfg="$tmp/config"
mkdir -p "$cfg" "$tmp/data"
write_config "$cfg" "$backend_port" "$inbound_port"
"$bin" validate "$cfg" >"$tmp/validate.log" 2>&1 || { show_log "$tmp/validate.log"; die "gatehouse validate rejected the mesh bench config"; }
"$bin" run --config "$cfg" --data "$tmp/data" --bind 127.0.0.1 --port-map "80=$gw_port,443=$gw_tls_port" \
  --ca-listen "127.0.0.1:$ca_port" --xds-listen "127.0.0.1:$xds_port" --authz-listen "" --authz-http-listen "" \
  --status-port "$status_port" --stats-port "$stats_port" --admin-port "$admin_port" \
  >"$tmp/gatehouse.log" 2>&1 &
gatehouse_pid=$!
pids+=("$gatehouse_pid")
wait_http "$gatehouse_pid" "http://127.0.0.1:$status_port/healthz/ready" || { show_log "$tmp/gatehouse.log"; die "gatehouse not ready"; }

printf '%s' "$token" >"$tmp/token"
"$bin" sidecar --config "$cfg" --namespace apps --service-account web --labels app=web --name web-1 \
  --inbound "$inbound_port=$backend_port" --ca-address "127.0.0.1:$ca_port" --xds-address "127.0.0.1:$ca_port" \
  --ca-root "$tmp/data/ca/root-cert.pem" --ca-token-file "$tmp/token" \
  --status-port "$sc_status" --stats-port "$sc_stats" --admin-port "$sc_admin" >"$tmp/sidecar.log" 2>&1 &
sidecar_pid=$!
pids+=("$sidecar_pid")
wait_http "$sidecar_pid" "http://127.0.0.1:$sc_status/healthz/ready" || { show_log "$tmp/sidecar.log"; die "sidecar not ready"; }

# Every path must work before anything is measured: plain, the chain (whose backend must see the
# gateway's SPIFFE ID in XFCC, proof that the hop was mesh mTLS), and the gateway's HTTPS.
[ "$(front plain.bench.local)" = 200 ] || { show_log "$tmp/gatehouse.log"; die "gateway → backend does not answer 200"; }
wait_http "$sidecar_pid" "http://127.0.0.1:$gw_port$path" -H "Host: mesh.bench.local" ||
  { show_log "$tmp/gatehouse.log"; show_log "$tmp/sidecar.log"; die "gateway → sidecar → backend does not answer 200"; }
curl -fsS --max-time 2 -H "Host: mesh.bench.local" "http://127.0.0.1:$gw_port/headers" | grep -q "URI=$gateway_id" ||
  die "the backend behind the sidecar does not see the gateway's SPIFFE ID in x-forwarded-client-cert"
wait_strict # after the chain answered, so that a refusal is STRICT and not a listener not yet up
wait_http "$gatehouse_pid" "https://localhost:$gw_tls_port$path" --cacert "$tmp/cert.pem" || die "gatehouse does not serve HTTPS"
load_cert

wrk_measure plain plain.bench.local
wrk_measure mesh mesh.bench.local
hey_rate "$tmp/plain.hey" plain.bench.local
hey_rate "$tmp/mesh.hey" mesh.bench.local

mesh_args=(-cacert "$tmp/data/ca/root-cert.pem" -spiffe "$web_id" -cert "$tmp/load.crt" -key "$tmp/load.key" -alpn "istio-http/1.1,istio,http/1.1")
simple_args=(-cacert "$tmp/cert.pem" -servername localhost)
handshakes simple "$gw_tls_port" "${simple_args[@]}"
hs_before=$(sidecar_handshakes)
handshakes mtls "$inbound_port" "${mesh_args[@]}"
hs_counted=$(($(sidecar_handshakes) - hs_before)) # proves the counter wrk_measure reads counts
handshakes simple-req "$gw_tls_port" "${simple_args[@]}" -get "$path"
handshakes mtls-req "$inbound_port" "${mesh_args[@]}" -get "$path"
busy_after=$(cpu_busy)

read -r p_rps p_p50 p_p99 p_non p_err < <(wrk_lat "$tmp/plain.wrk")
read -r m_rps m_p50 m_p99 m_non m_err < <(wrk_lat "$tmp/mesh.wrk")
read -r hp_rps hp_p50 hp_p99 _ hp_err < <(hey_stats "$tmp/plain.hey")
read -r hm_rps hm_p50 hm_p99 _ hm_err < <(hey_stats "$tmp/mesh.hey")
# CPU µs per request of each process during its path's measured wrk run.
cpu_of() { us_per_request "$(awk -v f="$2" '{ print $f }' "$tmp/$1.ticks")" "$tmp/$1.wrk"; }
p_gw=$(cpu_of plain 1) p_be=$(cpu_of plain 2)
m_gw=$(cpu_of mesh 1) m_be=$(cpu_of mesh 2) m_sc=$(cpu_of mesh 3)
m_gwsc=$(awk -v a="$m_gw" -v b="$m_sc" 'BEGIN { printf "%.1f", a + b }')
read -r s_hs s_hs50 s_hs99 s_hserr _ <"$tmp/simple.hs"
read -r t_hs t_hs50 t_hs99 t_hserr _ <"$tmp/mtls.hs"
read -r sr_hs sr_hs50 sr_hs99 sr_hserr _ <"$tmp/simple-req.hs"
read -r tr_hs tr_hs50 tr_hs99 tr_hserr _ <"$tmp/mtls-req.hs"

wrk_version=$(wrk -v 2>&1 | head -1 | awk '{print $2}' || true)
report=$(
  cat <<EOF

## $(date -u '+%Y-%m-%d %H:%M UTC') — mesh: the sidecar's cost

- command: \`make bench\`, its mesh part (\`bash test/bench/mesh.sh bin/gatehouse\` alone): wrk -t$threads -c$conns -d$duration --latency \`GET $path\` after $warmup warm-up; hey -z $duration -c $rate_concurrency -q $((rps / rate_concurrency)) ($rps requests/s) after $warmup warm-up; new connections with \`tlsload -c $hs_workers -d $hs_duration\` after $hs_warmup warm-up
- machine: $(machine), CPU busy with other work at start $busy_at_start, right after the runs $busy_after
- versions: $("$bin" version), wrk $wrk_version, hey $hey_version, $(go version 2>/dev/null | awk '{print $3}')
- one \`gatehouse run\` (gateway and CA), one \`gatehouse sidecar\` (STRICT from the namespace's PeerAuthentication over xDS; an AuthorizationPolicy allowing the gateway's and the load client's principals), one \`gatehouse demo-backend\`, all on loopback; **plain** is gateway → backend in plaintext, **mesh** is gateway → sidecar over ISTIO_MUTUAL (auto mTLS from the endpoint's \`security.istio.io/tlsMode: istio\`, secure naming on $web_id) → backend, the backend seeing the gateway's SPIFFE ID in XFCC

| path | wrk requests/s | wrk p50 | wrk p99 | hey p50 at $rps/s | hey p99 at $rps/s |
|---|---:|---:|---:|---:|---:|
| plain | $p_rps | $p_p50 ms | $p_p99 ms | $hp_p50 ms | $hp_p99 ms |
| mesh | $m_rps | $m_p50 ms | $m_p99 ms | $hm_p50 ms | $hm_p99 ms |
| added (mesh − plain) | | **$(diff_ms "$m_p50" "$p_p50") ms** | **$(diff_ms "$m_p99" "$p_p99") ms** | **$(diff_ms "$hm_p50" "$hp_p50") ms** | **$(diff_ms "$hm_p99" "$hp_p99") ms** |
| mesh / plain | $(ratio "$m_rps" "$p_rps") | $(ratio "$m_p50" "$p_p50") | $(ratio "$m_p99" "$p_p99") | $(ratio "$hm_p50" "$hp_p50") | $(ratio "$hm_p99" "$hp_p99") |

| CPU per request (wrk runs) | gateway | sidecar | gateway + sidecar | backend |
|---|---:|---:|---:|---:|
| plain | $p_gw µs | — | $p_gw µs | $p_be µs |
| mesh | $m_gw µs | $m_sc µs | $m_gwsc µs | $m_be µs |
| mesh / plain | $(ratio "$m_gw" "$p_gw") | | **$(ratio "$m_gwsc" "$p_gw")** | |

wrk non-2xx / socket errors: plain $p_non / $p_err, mesh $m_non / $m_err. hey at $rps/s: plain $hp_rps requests/s, $hp_err errors; mesh $hm_rps requests/s, $hm_err errors.

| new connections | gateway SIMPLE (server TLS) | sidecar STRICT (mesh mTLS) | sidecar / gateway |
|---|---:|---:|---:|
| full TLS 1.3 handshakes/s | $s_hs | $t_hs | **$(ratio "$t_hs" "$s_hs")** |
| handshake p50 (p99) | $s_hs50 ms ($s_hs99 ms) | $t_hs50 ms ($t_hs99 ms) | |
| handshake + one \`GET $path\` per connection, /s | $sr_hs | $tr_hs | **$(ratio "$tr_hs" "$sr_hs")** |
| its p50 (p99) | $sr_hs50 ms ($sr_hs99 ms) | $tr_hs50 ms ($tr_hs99 ms) | |

Failed: handshakes gateway $s_hserr, sidecar $t_hserr; with a request gateway $sr_hserr, sidecar $tr_hserr.

- **wrk** keeps $conns connections busy: the machine is saturated, so its latency is mostly queueing
  and the added latency is the sidecar's extra work as the saturated machine sees it. **hey** sends
  a fixed $rps requests/s, far below saturation, from $rate_concurrency workers: its latency is
  one request's path through an idle chain (hey prints 0.1 ms steps).
- The gateway keeps its connections to the sidecar alive: the sidecar completed
  $(cat "$tmp/mesh.sidecar-handshakes") TLS handshakes during the measured mesh run of $(awk '/requests in/ { print $1 }' "$tmp/mesh.wrk") requests
  (\`gatehouse_tls_handshakes_total\` on its stats port, which counted $hs_counted during the
  mTLS handshake run below, warm-up included), so the mesh hop costs TLS records on both
  sides and one more proxy, not a handshake per request.
- **CPU per request** is each process's user and system time (/proc/PID/stat, all threads) during
  the measured wrk run divided by the requests it completed: the gateway is the whole
  \`gatehouse run\` (gateway and CA), the sidecar \`gatehouse sidecar\`; wrk shares the cores, so
  this, not requests/s, is each proxy's own cost.
- **New connections** are what a new peer costs: into the sidecar each presents a mesh client
  certificate ($load_id, signed by the mesh root) and offers \`istio-http/1.1\`, and checks the
  sidecar's SPIFFE ID; into the gateway's SIMPLE server it verifies a P-256 certificate for
  localhost (tls.sh's method). A TLS 1.3 client finishes before the server has checked its
  certificate, so the second pair of rows, where every connection must also be answered 200
  (through the sidecar's policy to the backend), is the one that proves each mTLS handshake was
  accepted. tlsload shares the cores, and an mTLS client does more than a TLS one (it signs its
  CertificateVerify and checks a SPIFFE ID), so part of the gap is the client's.
EOF
)
echo "$report"
append_results "$report"
if [ "$p_non" -ne 0 ] || [ "$m_non" -ne 0 ] || [ "$p_err" -ne 0 ] || [ "$m_err" -ne 0 ] || [ "$hp_err" -ne 0 ] || [ "$hm_err" -ne 0 ] ||
  [ "$s_hserr" -ne 0 ] || [ "$t_hserr" -ne 0 ] || [ "$sr_hserr" -ne 0 ] || [ "$tr_hserr" -ne 0 ]; then
  die "non-2xx responses, socket errors or failed connections (see the tables)"
fi
