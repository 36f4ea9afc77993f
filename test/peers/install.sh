#!/usr/bin/env bash
# Installs the real peers the tests drive (Debian packages only here), skipping what is present.
# `make test` calls it; benchmark-only peers are installed by test/bench/run.sh instead.
#   curl, openssl: the clients users have (curl --resolve/--cacert/--cert, openssl s_client)
#   nginx: a real TLS backend that terminates its own TLS behind a PASSTHROUGH server
set -euo pipefail
need=()
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  # Should Debian start its own nginx service, the tests are unaffected: they run their own
  # nginx processes on ephemeral loopback ports.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
echo "peers: curl $(curl --version | head -1 | cut -d' ' -f2), $(openssl version | cut -d' ' -f1-2), $("$nginx_bin" -v 2>&1 | cut -d' ' -f3)"
