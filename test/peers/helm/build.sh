#!/usr/bin/env bash
# Builds Helm's cmd/helm at the release test/peers/helmpeer/version.go pins, from the Go module
# proxy, once per release, into ${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse-peers/helm-<version>/,
# where helmpeer.Installed finds it. install.sh calls it. The chart tests (test/helm) run this
# helm, never one found on PATH, so that their golden files do not drift with whatever is installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$here/../helmpeer/version.go")
: "${version:?no const Version line in test/peers/helmpeer/version.go}"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse-peers/helm-$version"
if [ -e "$dir/.complete" ]; then
  exit 0
fi
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
# From outside our module (GOWORK off), so that our go.mod plays no part: helm's go.mod has no
# replace directives, so `go install module@version` builds it exactly as released.
export GOWORK=off GOFLAGS=-buildvcs=false
# Helm's Makefile stamps, besides the version, the Kubernetes version `helm template` and
# `helm lint` assume without a cluster (.Capabilities.KubeVersion): its client-go's v0.Y is
# Kubernetes v1.Y. Unstamped it would be v1.20, older than the chart's kubeVersion.
hmod=$(go mod download -json "helm.sh/helm/v3@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
kminor=$(sed -n 's#^[[:space:]]*k8s\.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$hmod")
: "${kminor:?no k8s.io/client-go v0.Y requirement in $hmod}"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version"
for pkg in pkg/lint/rules pkg/chartutil; do
  ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$kminor"
done
# Static and stripped: nothing here needs cgo or symbols.
CGO_ENABLED=0 GOBIN="$dir" go install -trimpath -ldflags="$ldflags" "helm.sh/helm/v3/cmd/helm@$version"
"$dir/helm" version --short >/dev/null
touch "$dir/.complete"
