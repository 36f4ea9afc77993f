#!/usr/bin/env bash
# `make bench`, its Kubernetes part (issue 11), against a real kube-apiserver and etcd on loopback
# (test/peers/kubepeer, installed by `make test`) and one `gatehouse run --kubeconfig`:
#   1. the time from a TLS Secret update accepted by the API server (the typed client's Update
#      returned) to the first new handshake that serves the new certificate, p50/p99 over
#      BENCH_KUBE_ROTATIONS (100) rotations;
#   2. config propagation of BENCH_KUBE_POLICIES (1000) AuthorizationPolicies applied with one
#      `kubectl apply -f` of a multi-document file: until the last one is enforced (a request to
#      the path only it denies is answered 403), then /debug/config is checked to hold them all.
# The driver is test/bench/kubebench, a test behind the `bench` build tag so that it can start
# the same API server the end-to-end tests use. Appends the results to RESULTS.md beside it.
#
#   bash test/bench/kube.sh bin/gatehouse
set -euo pipefail

bin=$(realpath "${1:-bin/gatehouse}")
here=$(cd "$(dirname "$0")" && pwd)
rotations=${BENCH_KUBE_ROTATIONS:-100}
policies=${BENCH_KUBE_POLICIES:-1000}
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

busy_at_start=$(cpu_busy)
log "measuring Secret rotation ($rotations times) and $policies AuthorizationPolicies against a real API server"
(cd "$here/../.." && "${GO:-go}" test -tags bench -count=1 -timeout 20m -run '^TestKubeBench$' ./test/bench/kubebench \
  -args -gatehouse "$bin" -rotations "$rotations" -policies "$policies" -out "$tmp/figures") >"$tmp/kubebench.log" 2>&1 ||
  { show_log "$tmp/kubebench.log"; die "the Kubernetes benchmark failed"; }
rot_n='' rot_p50='' rot_p99='' rot_max='' pol_n='' pol_apply='' pol_after_apply='' pol_total='' pol_seen=''
# shellcheck disable=SC1091 # written by the driver: the rot_* and pol_* figures above
source "$tmp/figures"
[ "$pol_seen" -eq "$pol_n" ] || die "/debug/config shows $pol_seen AuthorizationPolicies, want $pol_n"

apiserver=$(sed -n 's/^const Version = "\(.*\)"/\1/p' "$here/../peers/kubepeer/version.go")
report=$(
  cat <<EOF

## $(date -u '+%Y-%m-%d %H:%M UTC') — Kubernetes source

- command: \`bash test/bench/kube.sh\` (part of \`make bench\`)
- machine: $(machine), CPU busy with other work at start $busy_at_start
- versions: $("$bin" version), kube-apiserver ${apiserver:-?} with $(etcd --version 2>/dev/null | head -1), $(go version 2>/dev/null | awk '{print $3}')

| measurement | figure |
|---|---:|
| Secret update accepted → first handshake with the new cert, p50 ($rot_n rotations) | $rot_p50 ms |
| same, p99 (max) | $rot_p99 ms ($rot_max ms) |
| \`kubectl apply -f\` of $pol_n AuthorizationPolicies (one multi-document file) | $pol_apply s |
| kubectl returned → the last policy enforced | $pol_after_apply s |
| apply started → the last policy enforced | $pol_total s |

- Rotation: the Secret is updated with client-go (its Update returns once the API server stored
  it); a client then does new TLS handshakes every millisecond until one presents the new serial.
  The figure includes the watch event's trip from the API server and the source's 100 ms debounce.
- Policies: the gateway rebuilds after 100 ms without events, so while kubectl is still creating
  objects it publishes intermediate snapshots; "enforced" is the first 403 on the path only the
  last policy denies, and /debug/config then showed $pol_seen AuthorizationPolicies.
EOF
)
echo "$report"
append_results "$report"
