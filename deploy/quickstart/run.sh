#!/usr/bin/env bash
# Starts the quickstart: two demo backends (v1 on :9081, v2 on :9082) and `gatehouse run` on the
# config in this directory. Ctrl-C stops everything.
set -euo pipefail
bin=${1:-bin/gatehouse}
here=$(cd "$(dirname "$0")" && pwd)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
"$bin" demo-backend --name v1 --listen 127.0.0.1:9081 & pids+=($!)
"$bin" demo-backend --name v2 --listen 127.0.0.1:9082 & pids+=($!)
"$bin" run --config "$here" --data "${GATEHOUSE_DATA:-./.gatehouse}" & pids+=($!)
echo "gatehouse: gateway on :8080, ready on :15021/healthz/ready, metrics on :15090/stats/prometheus, config on 127.0.0.1:15000/debug/config" >&2
wait "${pids[2]}"
