#!/usr/bin/env bash
# Installs the real peers the tests drive (Debian packages only here), skipping what is present.
# `make test` calls it; benchmark-only peers are installed by test/bench/run.sh instead.
#   curl, openssl: the clients users have (curl --resolve/--cacert/--cert, openssl s_client)
#   nginx: a real TLS backend that terminates its own TLS behind a PASSTHROUGH server
#   redis-server: the shared session store two gatehouse replicas use (issue 7)
#   node + npm oidc-provider: the OpenID provider the OIDC login tests sign in against (issue 7)
#   pebble + pebble-challtestsrv: the ACME server and its DNS the gateway's ACME tests order from (issue 8)
#   etcd-server + kube-apiserver + kubectl: the real Kubernetes API server of the Kubernetes tests (issue 11)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
need=()
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v redis-server >/dev/null || need+=(redis-server)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v etcd >/dev/null || [ -x /usr/bin/etcd ] || need+=(etcd-server)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  # Should Debian start its own nginx or redis service, the tests are unaffected: they run their
  # own processes on free loopback ports.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
# oidc-provider is pinned exactly in test/peers/oidc/package.json (and its lock) and installed once
# per version into the user's cache, outside the work tree, which test/e2e/oidc_peer_test.go finds by
# the same rule. A directory without the .complete mark is a broken install, and one whose lock
# differs from ours pinned other dependencies: both are redone.
oidc_version=$(node -p 'require(process.argv[1]).dependencies["oidc-provider"]' "$here/oidc/package.json")
oidc_dir="${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse-peers/oidc-provider-$oidc_version"
if [ ! -e "$oidc_dir/.complete" ] || ! cmp -s "$here/oidc/package-lock.json" "$oidc_dir/package-lock.json"; then
  rm -rf "$oidc_dir"
  mkdir -p "$oidc_dir"
  cp "$here/oidc/package.json" "$here/oidc/package-lock.json" "$oidc_dir/"
  (cd "$oidc_dir" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$oidc_dir/.complete"
fi
# pebble is pinned by the Version const in test/peers/pebblepeer/version.go and built from the Go
# module proxy once per version into the same cache, where pebblepeer.Installed finds it.
pebble_version=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$here/pebblepeer/version.go")
: "${pebble_version:?no const Version line in test/peers/pebblepeer/version.go}"
pebble_dir="${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse-peers/pebble-$pebble_version"
if [ ! -e "$pebble_dir/.complete" ]; then
  rm -rf "$pebble_dir"
  mkdir -p "$pebble_dir"
  # From outside our module, so that our go.mod plays no part in pebble's build.
  (cd "$pebble_dir" && GOBIN="$pebble_dir" go install \
    "github.com/letsencrypt/pebble/v2/cmd/pebble@$pebble_version" \
    "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$pebble_version")
  touch "$pebble_dir/.complete"
fi
# kube-apiserver and kubectl are pinned by test/peers/kubepeer/version.go and built by kube/build.sh.
"$here/kube/build.sh"
# helm (the chart tests) is pinned by test/peers/helmpeer/version.go and built by helm/build.sh.
"$here/helm/build.sh"
kube_version=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$here/kubepeer/version.go")
etcd_bin=$(command -v etcd || echo /usr/bin/etcd)
echo "peers: curl $(curl --version | head -1 | cut -d' ' -f2), $(openssl version | cut -d' ' -f1-2), $("$nginx_bin" -v 2>&1 | cut -d' ' -f3)," \
  "redis $(redis-server --version | grep -o 'v=[^ ]*' | cut -d= -f2), node $(node --version), oidc-provider $oidc_version," \
  "pebble $pebble_version, etcd $("$etcd_bin" --version | sed -n 's/^etcd Version: //p'), kube-apiserver+kubectl $kube_version"
