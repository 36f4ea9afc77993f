#!/usr/bin/env bash
# Installs the real peers the tests drive (Debian packages only here), skipping what is present.
# `make test` calls it; benchmark-only peers are installed by test/bench/run.sh instead.
set -euo pipefail
need=()
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
echo "peers: curl $(curl --version | head -1 | cut -d' ' -f2), $(openssl version | cut -d' ' -f1-2)"
