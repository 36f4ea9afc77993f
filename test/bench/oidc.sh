#!/usr/bin/env bash
# `make bench`, its OIDC part (issue 7): the in-process cost of a signed-in browser request at
# the gateway, BenchmarkSignedIn in ./gateway, through the listener's real ServeHTTP (session
# cookie → session store → identity headers → Check with the session's id token against a
# RequestAuthentication and an ALLOW on a groups claim → upstream), with the in-memory store and
# with the Redis store against a real redis-server, beside the same request without an OIDCLogin
# (the id token sent as a bearer). Prints the median of the runs, what the login adds over that
# baseline and the ratio, and appends them to RESULTS.md.
#
#   bash test/bench/oidc.sh bin/gatehouse
#
# BENCH_OIDC_BENCHTIME (1s) is each benchmark's -benchtime, over BENCH_OIDC_COUNT (3) runs whose
# median is shown. redis-server comes from test/peers/install.sh (Debian's), as for `make test`.
set -euo pipefail

bin=$(realpath "${1:-bin/gatehouse}")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
benchtime=${BENCH_OIDC_BENCHTIME:-1s}
bench_count=${BENCH_OIDC_COUNT:-3}
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

# The Redis row must measure a real server: without one the benchmark skips it, and a table
# with the row missing would read as if Redis cost nothing.
command -v redis-server >/dev/null || die "redis-server is not installed: run test/peers/install.sh"

# median FILE NAME FIELD: the median over the runs of benchmark NAME (without the -GOMAXPROCS
# suffix) of FIELD in its result line (3 ns/op, 5 B/op, 7 allocs/op); empty when it did not run.
median() {
  awk -v name="$2" -v f="$3" '{ n = $1; sub(/-[0-9]+$/, "", n) } n == name && $4 == "ns/op" { print $f }' "$1" |
    sort -n | awk '{ v[NR] = $1 } END { if (NR > 0) print v[int((NR + 1) / 2)] }'
}

# range FILE NAME: "(min–max)" of ns/op over the runs.
range() {
  awk -v name="$2" '{ n = $1; sub(/-[0-9]+$/, "", n) } n == name && $4 == "ns/op" { print $3 }' "$1" |
    sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR > 0) printf "(%.0f–%.0f)", lo, hi }'
}

# row FILE BENCHMARK VARIANT WHAT: "| WHAT | ns/op (range) | B/op | allocs/op | added µs | ratio |"
# for BENCHMARK/VARIANT against BENCHMARK/none.
row() {
  local name=$2/$3 ns base added
  ns=$(median "$1" "$name" 3)
  [ -n "$ns" ] || die "$name did not run"
  base=$(median "$1" "$2/none" 3)
  if [ "$3" = none ]; then
    added="—"
  else
    added=$(awk -v a="$ns" -v b="$base" 'BEGIN { printf "%+.1f", (a - b) / 1000 }')
  fi
  printf '| %s | %.0f %s | %d | %d | %s | %s |\n' "$4" "$ns" "$(range "$1" "$name")" \
    "$(median "$1" "$name" 5)" "$(median "$1" "$name" 7)" "$added" "$(ratio "$ns" "$base")"
}

busy_at_start=$(cpu_busy) # other work on the machine skews every figure
log "in process: BenchmarkSignedIn and BenchmarkSignedInLocal, $bench_count runs of $benchtime each"
(cd "$root" && "${GO:-go}" test ./gateway -run '^$' -bench '^BenchmarkSignedIn(Local)?$' -benchmem \
  -benchtime "$benchtime" -count "$bench_count") >"$tmp/signedin.bench" 2>&1 ||
  { show_log "$tmp/signedin.bench"; die "gateway BenchmarkSignedIn(Local) failed"; }
if grep -q -- '--- SKIP' "$tmp/signedin.bench"; then
  show_log "$tmp/signedin.bench"
  die "a BenchmarkSignedIn(Local) variant was skipped"
fi
busy_after=$(cpu_busy)
# A missing result would leave a blank row (row's die only ends its command substitution).
for b in BenchmarkSignedIn BenchmarkSignedInLocal; do
  for v in none memory redis; do
    [ -n "$(median "$tmp/signedin.bench" "$b/$v" 3)" ] || { show_log "$tmp/signedin.bench"; die "$b/$v did not run"; }
  done
done

report=$(
  cat <<EOF

## $(date -u '+%Y-%m-%d %H:%M UTC') — OIDC login: in-process cost of a signed-in request

- command: \`make bench\`, its OIDC part (\`bash test/bench/oidc.sh bin/gatehouse\` alone)
- machine: $(machine), CPU busy with other work at start $busy_at_start, right after the runs $busy_after
- versions: $("$bin" version), $(redis-server --version | awk '{ print "redis-server", substr($3, 3) }'), $(go version 2>/dev/null | awk '{print $3}')

\`go test ./gateway -run '^\$' -bench '^BenchmarkSignedIn(Local)?\$' -benchmem -benchtime $benchtime
-count $bench_count\`, median shown (range of ns/op in brackets). One op is one GET through the
gateway listener's ServeHTTP on one goroutine, its response recorded in memory. Check runs with
one RequestAuthentication (inline RS256 JWKS) and an ALLOW AuthorizationPolicy on
\`request.auth.claims[groups]\`, the id token verified once and cached after. **none** has no
OIDCLogin: the id token comes as a bearer, as an API client sends it. **memory** and **redis**
have an OIDCLogin (Kubeflow-style user id and groups headers) and a browser with a session
cookie; the session (id, access and refresh tokens, claims) was put into the store beforehand as
a callback would, and stays valid, so no refresh runs. With Redis, every request is an HMGET, an
AES-256-GCM open and a JSON decode: one round trip to a redis-server on the same cores (the script
that slides the idle expiry runs at most once a minute per session).

Through to an upstream (\`BenchmarkSignedIn\`), proxied over a kept-alive loopback connection
to an in-process HTTP/1.1 server, which checks once that it gets the identity headers and not
the session cookie:

| request | ns/op | B/op | allocs/op | added µs vs none | ratio to none |
|---|---:|---:|---:|---:|---:|
$(row "$tmp/signedin.bench" BenchmarkSignedIn none "no OIDCLogin, bearer id token (baseline)")
$(row "$tmp/signedin.bench" BenchmarkSignedIn memory "OIDCLogin, session in memory")
$(row "$tmp/signedin.bench" BenchmarkSignedIn redis "OIDCLogin, session in Redis")

The gateway alone (\`BenchmarkSignedInLocal\`): the same requests answered by a directResponse
route, so the loopback hop and its noise are gone:

| request | ns/op | B/op | allocs/op | added µs vs none | ratio to none |
|---|---:|---:|---:|---:|---:|
$(row "$tmp/signedin.bench" BenchmarkSignedInLocal none "no OIDCLogin, bearer id token (baseline)")
$(row "$tmp/signedin.bench" BenchmarkSignedInLocal memory "OIDCLogin, session in memory")
$(row "$tmp/signedin.bench" BenchmarkSignedInLocal redis "OIDCLogin, session in Redis")
EOF
)
echo "$report"
append_results "$report"
