#!/usr/bin/env bash
# The full-chain HTTPS walkthrough: HTTPS at the gateway, ISTIO_MUTUAL from the gateway to a
# `gatehouse sidecar`, and loopback from the sidecar to the demo backend.
#   bash deploy/full-chain/run.sh [bin/gatehouse]
# Starts, on localhost: the demo backend (127.0.0.1:9090); `gatehouse run` on this directory
# (gateway HTTPS on :9443, the CA and xDS on 127.0.0.1:15012); and the sidecar (inbound :15006,
# STRICT from the PeerAuthentication). The first run makes a CA and a certificate for
# shop.example.com, and the sidecar's bootstrap token, under $GATEHOUSE_DATA/full-chain. Ctrl-C
# stops everything.
set -euo pipefail
bin=${1:-bin/gatehouse}
here=$(cd "$(dirname "$0")" && pwd)
data=${GATEHOUSE_DATA:-./.gatehouse}/full-chain
mkdir -p "$data" "$here/.local"

if [ ! -f "$data/shop.crt" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
    -subj "/CN=Gatehouse full-chain edge CA" -keyout "$data/edge-ca.key" -out "$data/edge-ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=shop.example.com" \
    -keyout "$data/shop.key" -out "$data/shop.csr" 2>/dev/null
  printf 'subjectAltName=DNS:shop.example.com\nextendedKeyUsage=serverAuth\n' > "$data/ext.cnf"
  openssl x509 -req -in "$data/shop.csr" -CA "$data/edge-ca.crt" -CAkey "$data/edge-ca.key" -CAcreateserial \
    -days 90 -extfile "$data/ext.cnf" -out "$data/shop.crt" 2>/dev/null
  openssl rand -hex 24 > "$data/web-token"
fi
# Secrets as `kubectl create secret` would make them, in a git-ignored directory Gatehouse watches.
{
  printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: shop-cert, namespace: istio-system}\ntype: kubernetes.io/tls\ndata:\n'
  printf '  tls.crt: %s\n  tls.key: %s\n' "$(base64 -w0 < "$data/shop.crt")" "$(base64 -w0 < "$data/shop.key")"
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata: {name: web-bootstrap, namespace: apps}\nstringData:\n  token: %s\n' "$(cat "$data/web-token")"
} > "$here/.local/secrets.yaml"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
"$bin" demo-backend --name web --listen 127.0.0.1:9090 & pids+=($!)
"$bin" run --config "$here" --data "$data" --port-map 443=9443 --ca-listen 127.0.0.1:15012 \
  --status-port 15021 --stats-port 15090 --admin-port 15000 & pids+=($!)
for _ in $(seq 100); do [ -f "$data/ca/root-cert.pem" ] && break; sleep 0.1; done
"$bin" sidecar --config "$here" --namespace apps --service-account web --labels app=web --name web-1 \
  --inbound 15006=9090 --ca-address 127.0.0.1:15012 --xds-address 127.0.0.1:15012 \
  --ca-root "$data/ca/root-cert.pem" --ca-token-file "$data/web-token" \
  --status-port 15121 --stats-port 15190 --admin-port 15100 & pids+=($!)
cat >&2 <<MSG
full chain: https://shop.example.com:9443 (gateway) → ISTIO_MUTUAL → :15006 (sidecar, STRICT) → 127.0.0.1:9090
  curl --resolve shop.example.com:9443:127.0.0.1 --cacert $data/edge-ca.crt https://shop.example.com:9443/headers
  curl -v http://127.0.0.1:15006/headers     # plaintext straight to the sidecar: refused under STRICT
MSG
wait "${pids[1]}"
