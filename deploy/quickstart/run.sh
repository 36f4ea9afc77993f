#!/usr/bin/env bash
# Starts the quickstart: two demo backends (v1 on :9081, v2 on :9082) and `gatehouse run` on the
# config in this directory. The first run makes a local CA and a certificate for demo.example.com
# (in $GATEHOUSE_DATA/quickstart) and hands them to Gatehouse as the Secret demo-cert, as
# `kubectl create secret tls` would. Ctrl-C stops everything.
set -euo pipefail
bin=${1:-bin/gatehouse}
here=$(cd "$(dirname "$0")" && pwd)
data=${GATEHOUSE_DATA:-./.gatehouse}
pki="$data/quickstart"

if [ ! -f "$pki/demo.crt" ]; then
  mkdir -p "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
    -subj "/CN=Gatehouse quickstart CA" -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=demo.example.com" \
    -keyout "$pki/demo.key" -out "$pki/demo.csr" 2>/dev/null
  printf 'subjectAltName=DNS:demo.example.com,DNS:*.demo.example.com\nextendedKeyUsage=serverAuth\n' > "$pki/ext.cnf"
  openssl x509 -req -in "$pki/demo.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 90 \
    -extfile "$pki/ext.cnf" -out "$pki/demo.crt" 2>/dev/null
  echo "quickstart: made a local CA ($pki/ca.crt) and a certificate for demo.example.com" >&2
fi
# The Secret lives in a git-ignored directory under the config, so Gatehouse watches it too.
mkdir -p "$here/.local"
{
  printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: demo-cert, namespace: istio-system}\ntype: kubernetes.io/tls\ndata:\n'
  printf '  tls.crt: %s\n  tls.key: %s\n' "$(base64 -w0 < "$pki/demo.crt")" "$(base64 -w0 < "$pki/demo.key")"
} > "$here/.local/demo-cert.yaml"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
"$bin" demo-backend --name v1 --listen 127.0.0.1:9081 & pids+=($!)
"$bin" demo-backend --name v2 --listen 127.0.0.1:9082 & pids+=($!)
"$bin" run --config "$here" --data "$data" & pids+=($!)
echo "gatehouse: HTTP on :8080, HTTPS on :8443, ready on :15021/healthz/ready, metrics on :15090/stats/prometheus, config on 127.0.0.1:15000/debug/config" >&2
wait "${pids[2]}"
