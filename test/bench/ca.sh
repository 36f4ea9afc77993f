#!/usr/bin/env bash
# `make bench`, its CA part (issue 9): CreateCertificate against `gatehouse ca` and cfssl's signing
# API against `cfssl serve` (Debian golang-cfssl), on the same machine in the same run, each
# signing ECDSA P-256 CSRs with an ECDSA P-256 CA key for a 24h leaf.
#   gatehouse  ghz through server reflection over TLS, the requests round-robin over the CSRs that
#              test/bench/csrgen writes, each call authenticated with one of 1,000 bootstrap tokens
#              (one identity each) picked at random, so the per-identity rate limit spreads (it is
#              also raised by the Settings kind so that it never throttles: rate_limited must stay 0);
#   renewal    the same calls authenticated by a client certificate instead (a workload renewing),
#              which skips the bootstrap-token ledger: the gap between the two rows is the ledger;
#   cfssl      hey POSTing /api/v1/cfssl/sign (one CSR; cfssl verifies and signs every request anew).
# Each is measured at a fixed rate and at saturation with the same worker count; the servers' CPU
# time per certificate comes from /proc. The raw sign path in process is ca's BenchmarkSign.
# Prints the table, the ratios and the goal, and appends them to RESULTS.md.
#
#   bash test/bench/ca.sh bin/gatehouse
#
# BENCH_DURATION (whole seconds, default 20s) is each measured run's length; BENCH_CA_RPS (1000)
# the fixed rate; BENCH_CA_RATE_CONCURRENCY (10) and BENCH_CA_CONCURRENCY (50) the workers at the
# fixed rate and at saturation; BENCH_CA_TOKENS (1000) the identities; BENCH_CA_CSRS (64) the CSRs;
# GHZ_VERSION and HEY_VERSION the load tools' releases.
set -euo pipefail

bin=$(realpath "${1:-bin/gatehouse}")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
duration=${BENCH_DURATION:-20s}
rps=${BENCH_CA_RPS:-1000}
concurrency=${BENCH_CA_CONCURRENCY:-50}
rate_concurrency=${BENCH_CA_RATE_CONCURRENCY:-10}
ntokens=${BENCH_CA_TOKENS:-1000}
ncsrs=${BENCH_CA_CSRS:-64}
ghz_version=${GHZ_VERSION:-v0.120.0} # as authz.sh
# hey rather than wrk for cfssl: like ghz it is a Go client with one goroutine per worker, so the
# two clients cost the shared cores alike, and it has a fixed-rate mode (wrk has none; wrk2 is
# not in Debian). Its -q is per worker, so the fixed rate is split over the workers.
hey_version=${HEY_VERSION:-v0.1.4}
# Two HTTP/2 connections, as istio-agents behind two proxies would hold; hey opens one HTTP/1.1
# connection per worker, which is how cfssl's clients talk to it.
connections=2
warmup=3s
[[ $duration =~ ^[0-9]+s$ ]] || { echo "bench: BENCH_DURATION must be whole seconds, like 20s" >&2; exit 2; }
[ $((rps % rate_concurrency)) -eq 0 ] || { echo "bench: BENCH_CA_RPS must be a multiple of BENCH_CA_RATE_CONCURRENCY (hey's rate is per worker)" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

# install_cfssl: the bench-only peer, from Debian; `make test` never installs it.
install_cfssl() {
  command -v cfssl >/dev/null && return
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  log "installing golang-cfssl"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends golang-cfssl >/dev/null
}

# write_config DIR: the Settings raising the per-identity limit out of the way, and $ntokens
# BootstrapTokens in namespace bench, token i = "gatehouse-bench-token-i" for service account
# sa-i, each good for a billion certificates.
write_config() {
  cat >"$1/settings.yaml" <<EOF
apiVersion: gatehouse.dev/v1alpha1
kind: Settings
metadata: {name: gatehouse, namespace: istio-system}
spec:
  ca:
    rateLimit: {perSecond: 1000000, burst: 1000000}
EOF
  local i
  for ((i = 0; i < ntokens; i++)); do
    cat <<EOF
---
apiVersion: v1
kind: Secret
metadata: {name: token-$i, namespace: bench}
stringData: {token: gatehouse-bench-token-$i}
---
apiVersion: gatehouse.dev/v1alpha1
kind: BootstrapToken
metadata: {name: sa-$i, namespace: bench}
spec:
  serviceAccount: sa-$i
  token: {name: token-$i, key: token}
  maxUses: 1000000000
EOF
  done >"$1/tokens.yaml"
}

# renewal_cert DIR: a workload certificate for spiffe://cluster.local/ns/bench/sa/renew signed by
# the Gatehouse root, in DIR/renew.{crt,key}, which authenticates a call as a renewal would.
renewal_cert() {
  local ca="$tmp/data/ca"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj / \
    -keyout "$1/renew.key" -out "$1/renew.csr" 2>/dev/null || die "openssl could not make the renewal CSR"
  printf 'subjectAltName=URI:spiffe://cluster.local/ns/bench/sa/renew\nextendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n' >"$1/renew.ext"
  openssl x509 -req -in "$1/renew.csr" -CA "$ca/root-cert.pem" -CAkey "$ca/root-key.pem" -CAcreateserial \
    -days 2 -extfile "$1/renew.ext" -out "$1/renew.crt" 2>/dev/null || die "openssl could not sign the renewal certificate"
}

# cfssl_ca DIR: an ECDSA P-256 root for cfssl and a signing config whose default profile gives
# the same 24h leaf with the usages the Gatehouse CA gives.
cfssl_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench-cfssl-root -days 30 \
    -keyout "$1/key.pem" -out "$1/root.pem" 2>/dev/null || die "openssl could not make the cfssl root"
  cat >"$1/config.json" <<EOF
{"signing": {"default": {"expiry": "24h", "usages": ["digital signature", "key encipherment", "server auth", "client auth"]}}}
EOF
}

# ghz_ca OUT WORKERS AUTH [ARGS...]: one ghz run of CreateCertificate over TLS, verifying the
# serving certificate against the Gatehouse root; AUTH is "token" or "renewal".
ghz_ca() {
  local out=$1 workers=$2 auth=$3; shift 3
  local how=(--metadata '{"authorization": "Bearer gatehouse-bench-token-{{randomInt 0 '"$ntokens"'}}"}')
  [ "$auth" = token ] || how=(--cert "$tmp/renew.crt" --key "$tmp/renew.key")
  "$ghz" --cacert "$tmp/data/ca/root-cert.pem" --cname localhost --call istio.v1.auth.IstioCertificateService/CreateCertificate \
    --data-file "$tmp/ghz.json" "${how[@]}" --connections "$connections" -c "$workers" --duration-stop wait "$@" \
    "127.0.0.1:$ca_port" >"$out" &
  pids+=($!)
  wait $! || { show_log "$out"; die "ghz failed"; }
}

# hey_cfssl OUT WORKERS [ARGS...]: one hey run of the cfssl sign request.
hey_cfssl() {
  local out=$1 workers=$2; shift 2
  "$hey" -m POST -T application/json -D "$tmp/cfssl.json" -c "$workers" "$@" "http://127.0.0.1:$cfssl_port/api/v1/cfssl/sign" >"$out" &
  pids+=($!)
  wait $! || { show_log "$out"; die "hey failed"; }
}

# us_per_cert TICKS OK ERRORS: server CPU microseconds per answered request.
us_per_cert() {
  awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n=$(($2 + $3)) 'BEGIN { if (n > 0) printf "%.0f\n", t / hz * 1e6 / n; else print "n/a" }'
}

# issued RESULT: gatehouse_ca_certificates_issued_total{result=RESULT} now.
issued() {
  curl -fsS "http://127.0.0.1:$stats_port/stats/prometheus" |
    awk -v r="$1" '$1 == "gatehouse_ca_certificates_issued_total{result=\"" r "\"}" { n = $2 } END { printf "%d\n", n }'
}

# measure NAME PID RUNNER [RUNNER ARGS...]: warm-up, fixed rate and saturation for one target;
# RUNNER OUT WORKERS [RUNNER ARGS...] RATE-ARGS runs the load tool. The server's CPU over the
# saturation run goes to $tmp/NAME.ticks.
measure() {
  local name=$1 pid=$2; shift 2
  log "$name: warming up ($warmup), then $rps/s and saturation ($duration each)"
  "$1" /dev/null "$concurrency" "${@:2}" -z "$warmup"
  if [ "$1" = hey_cfssl ]; then
    "$1" "$tmp/$name.fixed" "$rate_concurrency" "${@:2}" -q $((rps / rate_concurrency)) -z "$duration"
  else
    "$1" "$tmp/$name.fixed" "$rate_concurrency" "${@:2}" --rps "$rps" -z "$duration"
  fi
  local t0
  t0=$(cpu_ticks "$pid")
  "$1" "$tmp/$name.sat" "$concurrency" "${@:2}" -z "$duration"
  echo $(($(cpu_ticks "$pid") - t0)) >"$tmp/$name.ticks"
}

# profile_ledger: a CPU profile of the token run at saturation; the share of samples under the
# ledger (Tokens.Redeem) and under signing (Authority.Sign), "redeem% sign%", to $tmp/shares.
profile_ledger() {
  local secs=$((${duration%s} / 2))
  ghz_ca /dev/null "$concurrency" token -z "$((secs + 2))s" &
  local load=$!
  pids+=("$load")
  sleep 1 # the profile covers the load, not its start
  curl -fsS -o "$tmp/cpu.pprof" "http://127.0.0.1:$admin_port/debug/pprof/profile?seconds=$secs" || die "no CPU profile from the admin port"
  wait "$load" || die "ghz failed during the profile"
  (cd "$root" && "${GO:-go}" tool pprof -top -cum "$bin" "$tmp/cpu.pprof") >"$tmp/pprof.top" 2>/dev/null || die "go tool pprof failed"
  awk '
    $NF ~ /ca\.\(\*Tokens\)\.Redeem$/ { r = $5 }
    $NF ~ /ca\.\(\*Authority\)\.Sign$/ { s = $5 }
    END { printf "%s %s\n", (r == "" ? "0%" : r), (s == "" ? "0%" : s) }' "$tmp/pprof.top" >"$tmp/shares"
}

# bench_row: median ns/op (range) and allocs/op of ca's BenchmarkSign, -count 3.
bench_row() {
  awk '
    $1 ~ /^BenchmarkSign(-[0-9]+)?$/ { ns[++k] = $3; allocs = $7 }
    END {
      if (k == 0) { print "missing"; exit }
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (ns[j] < ns[i]) { t = ns[i]; ns[i] = ns[j]; ns[j] = t }
      printf "%.0f ns/op (%.0f–%.0f), %d allocs/op\n", ns[int((k + 1) / 2)], ns[1], ns[k], allocs
    }' "$1"
}

if ! command -v curl >/dev/null || ! command -v openssl >/dev/null; then install_peers; fi
install_cfssl
ghz=$(go_install_cached ghz github.com/bojand/ghz/cmd/ghz "$ghz_version")
hey=$(go_install_cached hey github.com/rakyll/hey "$hey_version")
(cd "$root" && "${GO:-go}" run ./test/bench/csrgen -n "$ncsrs" -ghz "$tmp/ghz.json" -cfssl "$tmp/cfssl.json") ||
  die "test/bench/csrgen failed"
busy_at_start=$(cpu_busy) # other work on the machine skews every figure

log "in process: ca BenchmarkSign (-count 3)"
(cd "$root" && "${GO:-go}" test ./ca -run '^$' -bench '^BenchmarkSign$' -benchmem -count 3) >"$tmp/sign.bench" 2>&1 ||
  { show_log "$tmp/sign.bench"; die "ca BenchmarkSign failed"; }

ca_port=$(free_port) status_port=$(free_port) stats_port=$(free_port) admin_port=$(free_port) cfssl_port=$(free_port)
cfg="$tmp/config"
mkdir -p "$cfg" "$tmp/data" "$tmp/cfssl"
write_config "$cfg"
"$bin" validate "$cfg" >"$tmp/validate.log" 2>&1 || { show_log "$tmp/validate.log"; die "gatehouse validate rejected the CA bench config"; }
"$bin" ca --config "$cfg" --data "$tmp/data" --ca-listen "127.0.0.1:$ca_port" \
  --status-port "$status_port" --stats-port "$stats_port" --admin-port "$admin_port" >"$tmp/gatehouse.log" 2>&1 &
gatehouse_pid=$!
pids+=("$gatehouse_pid")
wait_http "$gatehouse_pid" "http://127.0.0.1:$status_port/healthz/ready" || { show_log "$tmp/gatehouse.log"; die "gatehouse ca not ready"; }
renewal_cert "$tmp"

cfssl_ca "$tmp/cfssl"
cfssl serve -ca "$tmp/cfssl/root.pem" -ca-key "$tmp/cfssl/key.pem" -config "$tmp/cfssl/config.json" \
  -address 127.0.0.1 -port "$cfssl_port" >"$tmp/cfssl.log" 2>&1 &
cfssl_pid=$!
pids+=("$cfssl_pid")
# cfssl has no health endpoint; its info endpoint answers once it serves.
wait_http "$cfssl_pid" "http://127.0.0.1:$cfssl_port/api/v1/cfssl/info" -X POST -d '{}' || { show_log "$tmp/cfssl.log"; die "cfssl serve not ready"; }

# Both must issue a certificate that chains to their root before anything is measured.
curl -fsS -X POST -H 'Content-Type: application/json' --data-binary "@$tmp/cfssl.json" \
  "http://127.0.0.1:$cfssl_port/api/v1/cfssl/sign" >"$tmp/cfssl.sign" || die "cfssl refused the sign request"
grep -q '"success":true' "$tmp/cfssl.sign" || { show_log "$tmp/cfssl.sign"; die "cfssl's sign answer is not a success"; }
grep -o '"certificate":"[^"]*"' "$tmp/cfssl.sign" | sed -e 's/^"certificate":"//' -e 's/"$//' -e 's/\\n/\n/g' >"$tmp/cfssl.leaf"
openssl verify -CAfile "$tmp/cfssl/root.pem" "$tmp/cfssl.leaf" >/dev/null || die "cfssl's certificate does not chain to its root"
ghz_ca "$tmp/probe.ghz" "$connections" token -n 20
ghz_ca "$tmp/probe-renewal.ghz" "$connections" renewal -n 20
for f in probe probe-renewal; do
  read -r _ _ _ ok err < <(ghz_stats "$tmp/$f.ghz")
  if [ "$ok" -ne 20 ] || [ "$err" -ne 0 ]; then show_log "$tmp/$f.ghz"; die "gatehouse ca did not issue 20 certificates ($f)"; fi
done

busy_before=$(cpu_busy)
measure gatehouse "$gatehouse_pid" ghz_ca token
measure renewal "$gatehouse_pid" ghz_ca renewal
measure cfssl "$cfssl_pid" hey_cfssl
busy_after=$(cpu_busy)
log "profiling the token path at saturation"
profile_ledger
read -r redeem_share sign_share <"$tmp/shares"
limited=$(issued rate_limited)
ledger_kib=$(awk '{ printf "%.0f", $1 / 1024 }' < <(stat -c %s "$tmp/data/ca/token-uses"))

# row NAME WHAT TOOL: the two table rows of one target.
row() {
  local f_rps f_p50 f_p99 f_ok f_err s_rps s_p50 s_p99 s_ok s_err stats=ghz_stats
  [ "$3" = hey ] && stats=hey_stats
  read -r f_rps f_p50 f_p99 f_ok f_err < <($stats "$tmp/$1.fixed")
  read -r s_rps s_p50 s_p99 s_ok s_err < <($stats "$tmp/$1.sat")
  echo "| $2, $rps/s | $3 | $rate_concurrency | $f_rps | $f_p50 ms | $f_p99 ms | | $f_ok | $f_err |"
  echo "| $2, saturation | $3 | $concurrency | $s_rps | $s_p50 ms | $s_p99 ms | $(us_per_cert "$(cat "$tmp/$1.ticks")" "$s_ok" "$s_err") µs | $s_ok | $s_err |"
}

# stat_of NAME RUN FIELD: one field of a run's stats.
stat_of() {
  local stats=ghz_stats
  [ "$1" = cfssl ] && stats=hey_stats
  $stats "$tmp/$1.$2" | awk -v n="$3" '{ print $n }'
}
cpu_of() {
  read -r _ _ _ ok err < <(if [ "$1" = cfssl ]; then hey_stats "$tmp/$1.sat"; else ghz_stats "$tmp/$1.sat"; fi)
  us_per_cert "$(cat "$tmp/$1.ticks")" "$ok" "$err"
}
g_sat=$(stat_of gatehouse sat 1) r_sat=$(stat_of renewal sat 1) c_sat=$(stat_of cfssl sat 1)
x_sat=$(ratio "$g_sat" "$c_sat")
goal=$(awk -v r="$x_sat" 'BEGIN { print (r != "n/a" && r >= 2) ? "met" : "**not met**" }')

report=$(
  cat <<EOF

## $(date -u '+%Y-%m-%d %H:%M UTC') — workload CA: CreateCertificate with ghz vs cfssl's sign API with hey

- command: \`make bench\`, its CA part (\`bash test/bench/ca.sh bin/gatehouse\` alone)
- machine: $(machine), CPU busy with other work at start $busy_at_start, right before the runs $busy_before, right after them $busy_after
- versions: $("$bin" version), $(cfssl version | awk '/^Version:/ { v = $2 } /^Runtime:/ { r = $2 } END { print "cfssl " v " (Debian golang-cfssl, built with " r ")" }'), ghz $ghz_version, hey $hey_version, $(go version 2>/dev/null | awk '{print $3}')

Both CAs sign ECDSA P-256 CSRs with an ECDSA P-256 root key, 24h leaves, and verify every CSR's
signature. **gatehouse**: \`gatehouse ca\` with $ntokens BootstrapTokens (one identity each, a
billion uses) and the per-identity rate limit raised out of the way ($limited calls rate-limited);
ghz over TLS through reflection, $ncsrs CSRs round-robin, each call's token picked at random:
\`ghz --cacert root-cert.pem --call istio.v1.auth.IstioCertificateService/CreateCertificate
--data-file csrs.json --metadata '{"authorization": "Bearer gatehouse-bench-token-{{randomInt 0 $ntokens}}"}'
--connections $connections -c WORKERS -z $duration [--rps $rps]\`. **renewal**: the same calls authenticated by a
workload client certificate instead of a token, so without the bootstrap-token ledger.
**cfssl**: \`cfssl serve -ca -ca-key -config\` (plain HTTP, as cfssl serves), \`hey -m POST -D
sign.json -c WORKERS -z $duration [-q $((rps / rate_concurrency)) per worker]\` on
\`/api/v1/cfssl/sign\`, one CSR (cfssl keeps no per-CSR state: it parses, verifies and signs each
request anew). Each after a $warmup warm-up. **The load tools run on the same $(nproc) cores as the
servers**; server CPU per certificate (user+system over the saturation run / requests) excludes
theirs. Gatehouse also pays for TLS and gRPC, which cfssl's plain HTTP/1.1 does not.

| target, run | client | workers | requests/s | p50 | p99 | server CPU per cert | OK | errors |
|---|---|---:|---:|---:|---:|---:|---:|---:|
$(row gatehouse "gatehouse, bootstrap tokens" ghz)
$(row renewal "gatehouse, renewal (client cert, no ledger)" ghz)
$(row cfssl "cfssl serve" hey)

Gatehouse (tokens) / cfssl at saturation: throughput **$x_sat**, server CPU per cert **$(ratio "$(cpu_of cfssl)" "$(cpu_of gatehouse)")** (above 1: gatehouse is cheaper); at $rps/s, p99 **$(ratio "$(stat_of gatehouse fixed 3)" "$(stat_of cfssl fixed 3)")** (below 1: gatehouse is faster).
Renewal / cfssl at saturation: throughput **$(ratio "$r_sat" "$c_sat")**. Tokens / renewal: **$(ratio "$g_sat" "$r_sat")** (the bootstrap-token ledger's cost).
Goal (issue 9): ≥2× cfssl's throughput: $goal; the physical limit on these cores is near 20,000/s
(in process, \`ca\` BenchmarkSign, CSR verification plus signing, RunParallel: $(bench_row "$tmp/sign.bench")).
CPU profile of the token path at saturation: $redeem_share of samples under \`ca.(*Tokens).Redeem\` (each use
is a line appended to the ledger, $ledger_kib KiB after the runs; redemptions arriving together share one
write and fsync), $sign_share under \`ca.(*Authority).Sign\`; time blocked in fsync does not show in a CPU
profile, the renewal row does.
EOF
)
echo "$report"
append_results "$report"
for s in gatehouse renewal cfssl; do
  for r in fixed sat; do
    read -r _ _ _ ok err < <(if [ $s = cfssl ]; then hey_stats "$tmp/$s.$r"; else ghz_stats "$tmp/$s.$r"; fi)
    if [ "$err" -ne 0 ] || [ "$ok" -eq 0 ]; then die "$s: errors or no OK responses in the $r run (see the table)"; fi
  done
done
[ "$limited" -eq 0 ] || die "$limited calls were rate-limited: the bench's rate limit throttled"
