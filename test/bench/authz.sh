#!/usr/bin/env bash
# `make bench`, its authz part: in-process Engine.Check with 100 AuthorizationPolicies and a cached
# JWT, first-seen vs cached RS256/ES256 tokens (Go benchmarks), and gRPC ext_authz Check
# throughput and p50/p99 against `gatehouse authz`, driven by ghz through server reflection at a
# fixed rate and at saturation. ghz is built from the Go module proxy once per version and cached
# (a bench-only peer: `make test` never installs it). Appends to RESULTS.md.
#
#   bash test/bench/authz.sh bin/gatehouse
#
# BENCH_DURATION (whole seconds, default 20s) is each ghz run's length; BENCH_AUTHZ_RPS (5000)
# the fixed rate; BENCH_AUTHZ_RATE_CONCURRENCY (10) and BENCH_AUTHZ_CONCURRENCY (50) ghz's
# workers at the fixed rate and at saturation; GHZ_VERSION the ghz release.
set -euo pipefail

bin=$(realpath "${1:-bin/gatehouse}")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
duration=${BENCH_DURATION:-20s}
rps=${BENCH_AUTHZ_RPS:-5000}
concurrency=${BENCH_AUTHZ_CONCURRENCY:-50}
# At a fixed rate, ghz's workers only need to cover the requests in flight (5,000/s at well
# under 1 ms each is a few); more of them wake in bursts on the shared cores and ghz's own
# scheduling then dominates the measured tail.
rate_concurrency=${BENCH_AUTHZ_RATE_CONCURRENCY:-10}
# The newest ghz the Go module proxy serves (`go list -m github.com/bojand/ghz@v0.120.0`;
# `-versions` lists only v0.93.0, as later tags were published without a go.mod change).
ghz_version=${GHZ_VERSION:-v0.120.0}
# Two HTTP/2 connections, as an Envoy with two worker threads opens to its ext_authz cluster.
connections=2
warmup=3s
issuer=https://bench.gatehouse.test
[[ $duration =~ ^[0-9]+s$ ]] || { echo "bench: BENCH_DURATION must be whole seconds, like 20s" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

# Go benchmarks: median ns/op (of -count 3) and allocs/op for each.
go_benchmarks() {
  log "running the in-process Go benchmarks (-count 3)"
  (cd "$root" && "${GO:-go}" test ./authz -run '^$' -bench '^BenchmarkCheck(JWT)?$' -benchmem -count 3) >"$tmp/check.bench" 2>&1 ||
    { show_log "$tmp/check.bench"; die "authz BenchmarkCheck/BenchmarkCheckJWT failed"; }
  (cd "$root" && "${GO:-go}" test ./authz/jwt -run '^$' -bench '^BenchmarkVerify$' -benchmem -count 3) >"$tmp/verify.bench" 2>&1 ||
    { show_log "$tmp/verify.bench"; die "authz/jwt BenchmarkVerify failed"; }
}

# bench_row FILE NAME WHAT: a table row "| WHAT | median ns/op | allocs/op |" for benchmark NAME
# (without the -GOMAXPROCS suffix).
bench_row() {
  awk -v name="$2" -v what="$3" '
    { n = $1; sub(/-[0-9]+$/, "", n) }
    n == name { ns[++k] = $3; allocs = $7 }
    END {
      if (k == 0) { printf "| %s | missing | missing |\n", what; exit }
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (ns[j] < ns[i]) { t = ns[i]; ns[i] = ns[j]; ns[j] = t }
      printf "| %s | %.0f (%.0f–%.0f) | %d |\n", what, ns[int((k + 1) / 2)], ns[1], ns[k], allocs
    }' "$1"
}

# make_token: the JWT key, its JWKS in $jwks and a token valid for a day in $token.
make_token() {
  jwt_key
  token=$(jwt_sign "$(printf '{"iss":"%s","sub":"bench-client","aud":["bench"],"exp":%d}' "$issuer" $(($(date +%s) + 86400)))")
}

# write_config DIR: 100 AuthorizationPolicies on the ingress gateway workload, 10 DENY and 90
# ALLOW, each with source, operation and when conditions; the bench request (GET
# /svc-89/items) is allowed by the last one only. One RequestAuthentication with the inline JWKS.
write_config() {
  local i action path
  for i in $(seq 0 99); do
    if [ "$i" -lt 10 ]; then action=DENY path=$(printf '/blocked-%02d/*' "$i"); else action=ALLOW path=$(printf '/svc-%02d/*' $((i - 10))); fi
    cat <<EOF
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: $(printf 'p%03d' "$i"), namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: $action
  rules:
  - from:
    - source: {requestPrincipals: ["$issuer/*"], notIpBlocks: ["192.0.2.0/24"]}
    to:
    - operation: {methods: ["GET", "HEAD"], paths: ["$path"], hosts: ["*.example.com", "example.com:*"]}
    when:
    - key: request.headers[x-tenant]
      values: ["t-$i", "shared"]
EOF
  done >"$1/policies.yaml"
  cat >"$1/authn.yaml" <<EOF
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules:
  - issuer: $issuer
    audiences: [bench]
    jwks: '$jwks'
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
EOF
}

# write_request FILE PATH NAMESPACE LABELS: the CheckRequest (protojson) an Envoy at a gateway
# workload in NAMESPACE with LABELS ("k=v,k=v") sends.
write_request() {
  cat >"$1" <<EOF
{
  "attributes": {
    "source": {"address": {"socketAddress": {"address": "10.0.0.1", "portValue": 40000}}},
    "destination": {"address": {"socketAddress": {"address": "10.0.0.2", "portValue": 8443}}},
    "contextExtensions": {"namespace": "$3", "labels": "$4"},
    "request": {"http": {
      "id": "1", "method": "GET", "host": "api.example.com", "path": "$2", "scheme": "https", "protocol": "HTTP/2",
      "headers": {":authority": "api.example.com", ":method": "GET", ":path": "$2", "authorization": "Bearer $token", "x-tenant": "shared"}
    }}
  }
}
EOF
}

# check_http PATH TOKEN WANT [NAMESPACE LABELS]: the same engine's HTTP ext_authz service must
# answer WANT for the bench request to the workload (default: the ingress gateway), so the gRPC
# runs measure the intended decision (ghz only sees the RPC status, and a denial is an OK RPC
# carrying a denied_response).
check_http() {
  local got
  got=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H "Host: api.example.com" -H "x-tenant: shared" \
    -H "Authorization: Bearer $2" -H "x-gatehouse-namespace: ${4:-istio-system}" \
    -H "x-gatehouse-labels: ${5:-$ingress_labels}" "http://127.0.0.1:$http_port$1") ||
    die "the HTTP ext_authz service does not answer"
  [ "$got" = "$3" ] || die "the bench config answers $got for $1, want $3"
}

# ghz_run OUT REQUEST WORKERS [ARGS...]: one ghz run of the CheckRequest in file REQUEST against
# the gRPC service. In-flight calls are waited for at the end, so none is cut off as an error.
ghz_run() {
  local out=$1 request=$2 workers=$3; shift 3
  ghz_to "$out" "$grpc_port" envoy.service.auth.v3.Authorization/Check -D "$request" -c "$workers" "$@"
}



if ! command -v curl >/dev/null || ! command -v openssl >/dev/null; then install_peers; fi
ghz=$(go_install_cached ghz github.com/bojand/ghz/cmd/ghz "$ghz_version")
busy_at_start=$(cpu_busy) # other work on the machine skews every figure

go_benchmarks

grpc_port=$(free_port) http_port=$(free_port) status_port=$(free_port) stats_port=$(free_port) admin_port=$(free_port)
make_token
cfg="$tmp/config"
mkdir -p "$cfg"
write_config "$cfg"
ingress_labels=istio=ingressgateway,app=istio-ingressgateway
write_request "$tmp/request.json" /svc-89/items istio-system "$ingress_labels"
# The baseline: the same CheckRequest for a workload no policy applies to (istio-system is the
# root namespace, so its policies select by label in every namespace: the labels differ too),
# so what remains is ghz, gRPC and the adapter on these cores, not the policies or the JWT.
baseline_labels=app=bench-baseline
write_request "$tmp/baseline.json" /svc-89/items bench-baseline "$baseline_labels"
"$bin" validate "$cfg" >"$tmp/validate.log" 2>&1 || { show_log "$tmp/validate.log"; die "gatehouse validate rejected the authz bench config"; }
"$bin" authz --config "$cfg" --authz-listen "127.0.0.1:$grpc_port" --authz-http-listen "127.0.0.1:$http_port" \
  --status-port "$status_port" --stats-port "$stats_port" --admin-port "$admin_port" \
  >"$tmp/gatehouse.log" 2>&1 &
gatehouse_pid=$!
pids+=("$gatehouse_pid")
wait_http "$gatehouse_pid" "http://127.0.0.1:$status_port/healthz/ready" || { show_log "$tmp/gatehouse.log"; die "gatehouse authz not ready"; }

check_http /svc-89/items "$token" 200
check_http /svc-90/items "$token" 403        # no policy allows it
check_http /blocked-03/x "$token" 403        # a DENY policy matches
check_http /svc-89/items "${token%????}AAAA" 401 # bad signature
check_http /svc-90/items "${token%????}AAAA" 200 bench-baseline "$baseline_labels" # no policy, no RequestAuthentication

busy_before_ghz=$(cpu_busy)
log "warming up ghz against gatehouse authz ($warmup)"
ghz_run /dev/null "$tmp/request.json" "$concurrency" -z "$warmup"
log "measuring gRPC Check at $rps/s ($duration, $rate_concurrency workers, $connections connections)"
ghz_run "$tmp/fixed.ghz" "$tmp/request.json" "$rate_concurrency" --rps "$rps" -z "$duration"
log "measuring the baseline, no policies, at $rps/s ($duration, $rate_concurrency workers, $connections connections)"
ghz_run "$tmp/baseline.ghz" "$tmp/baseline.json" "$rate_concurrency" --rps "$rps" -z "$duration"
log "measuring the floor, gRPC health checks, at $rps/s ($duration, $rate_concurrency workers, $connections connections)"
ghz_to "$tmp/health.ghz" "$grpc_port" grpc.health.v1.Health/Check -d '{}' -c "$rate_concurrency" --rps "$rps" -z "$duration"
log "measuring gRPC Check at saturation ($duration, $concurrency workers, $connections connections)"
ghz_run "$tmp/saturation.ghz" "$tmp/request.json" "$concurrency" -z "$duration"
read -r f_rps f_p50 f_p99 f_ok f_err < <(ghz_stats "$tmp/fixed.ghz")
read -r b_rps b_p50 b_p99 b_ok b_err < <(ghz_stats "$tmp/baseline.ghz")
read -r s_rps s_p50 s_p99 s_ok s_err < <(ghz_stats "$tmp/saturation.ghz")
read -r h_rps h_p50 h_p99 h_ok h_err < <(ghz_stats "$tmp/health.ghz")
read -r g_rss g_hwm < <(awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { printf "%.1f %.1f\n", r / 1024, h / 1024 }' "/proc/$gatehouse_pid/status")
busy_after=$(cpu_busy)
goal=$(awk -v p="$f_p99" -v r="$f_rps" -v want="$rps" 'BEGIN { print (p < 1 && r >= 0.98 * want) ? "met" : "**not met**" }')

report=$(
  cat <<EOF

## $(date -u '+%Y-%m-%d %H:%M UTC') — ext_authz: in-process Check, JWT cost, gRPC Check with ghz

- command: \`make bench\`, its authz part (\`bash test/bench/authz.sh bin/gatehouse\` alone)
- machine: $(machine), CPU busy with other work at start $busy_at_start, right before the ghz runs $busy_before_ghz, right after them $busy_after
- versions: $("$bin" version), ghz $ghz_version, $(go version 2>/dev/null | awk '{print $3}')

In-process, \`go test -run '^\$' -bench ... -benchmem -count 3\` (median ns/op, range in brackets):

| benchmark | ns/op | allocs/op |
|---|---:|---:|
$(bench_row "$tmp/check.bench" BenchmarkCheck "Engine.Check, 100 policies (10 DENY, 90 ALLOW; the last one allows), no JWT")
$(bench_row "$tmp/check.bench" BenchmarkCheckJWT "Engine.Check, 100 policies and a cached ES256 JWT")
$(bench_row "$tmp/verify.bench" BenchmarkVerify/RS256/first-seen "RS256 token, first seen (parse + signature)")
$(bench_row "$tmp/verify.bench" BenchmarkVerify/RS256/cached "RS256 token, cached")
$(bench_row "$tmp/verify.bench" BenchmarkVerify/ES256/first-seen "ES256 token, first seen (parse + signature)")
$(bench_row "$tmp/verify.bench" BenchmarkVerify/ES256/cached "ES256 token, cached")

gRPC \`envoy.service.auth.v3.Authorization/Check\` against \`gatehouse authz\` (100 AuthorizationPolicies on
the ingress gateway workload, one RequestAuthentication with an inline RS256 JWKS and
outputClaimToHeaders), every request the same CheckRequest with a valid token (verified once, then
cached) and a path only the last ALLOW policy allows, through server reflection, after a $warmup
warm-up: \`ghz --insecure --call envoy.service.auth.v3.Authorization/Check -D request.json
--connections $connections -c WORKERS -z $duration --duration-stop wait [--rps $rps]\`. The baseline is the same
request for a workload no policy applies to (ghz, gRPC and the adapter alone); the floor is
the same server's gRPC health check, which runs no Gatehouse code at all. **ghz runs on the
same $(nproc) cores as the server**: it takes a large share of the CPU at saturation, and its own
scheduling is part of every latency below.

| run | workers | requests/s | p50 | p99 | OK | errors |
|---|---:|---:|---:|---:|---:|---:|
| 100 policies + JWT, \`--rps $rps\` | $rate_concurrency | $f_rps | $f_p50 ms | $f_p99 ms | $f_ok | $f_err |
| baseline (no policies), \`--rps $rps\` | $rate_concurrency | $b_rps | $b_p50 ms | $b_p99 ms | $b_ok | $b_err |
| floor: \`grpc.health.v1.Health/Check\`, \`--rps $rps\` | $rate_concurrency | $h_rps | $h_p50 ms | $h_p99 ms | $h_ok | $h_err |
| 100 policies + JWT, saturation | $concurrency | $s_rps | $s_p50 ms | $s_p99 ms | $s_ok | $s_err |

At $rps/s, 100 policies + JWT / baseline: p50 **$(ratio "$f_p50" "$b_p50")**, p99 **$(ratio "$f_p99" "$b_p99")**.
Goal (issue 5): p99 < 1 ms at $rps checks/s: $goal. Server RSS after the runs $g_rss MiB (peak $g_hwm MiB).
EOF
)
echo "$report"
append_results "$report"
if [ "$f_err" -ne 0 ] || [ "$b_err" -ne 0 ] || [ "$h_err" -ne 0 ] || [ "$s_err" -ne 0 ] || [ "$f_ok" -eq 0 ] || [ "$b_ok" -eq 0 ] || [ "$s_ok" -eq 0 ]; then
  die "errors or no OK responses in the ghz runs (see the table)"
fi
