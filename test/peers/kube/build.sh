#!/usr/bin/env bash
# Builds kube-apiserver and kubectl at the release test/peers/kubepeer/version.go pins, once per
# release, into $(go env GOPATH)/gatehouse-peers/kube-<version>/, where kubepeer.Installed finds
# them. install.sh calls it; etcd comes from Debian's etcd-server, which install.sh installs.
#
# k8s.io/kubernetes is not meant to be required as a module: its go.mod replaces every staging
# module (k8s.io/api, k8s.io/client-go, ...) with ./staging/src/..., and requires them at v0.0.0.
# Replace directives only count in the main module, so a scratch module has to say the same thing
# with the published staging releases (v1.Y.Z <-> v0.Y.Z). The list is read from that release's own
# go.mod in the module cache, so a version bump needs no edit here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$here/../kubepeer/version.go")
: "${version:?no const Version line in test/peers/kubepeer/version.go}"
staging="v0.${version#v1.}"
gopath=$(go env GOPATH)
dir="${gopath%%:*}/gatehouse-peers/kube-$version" # the first GOPATH entry, as kubepeer looks
if [ -e "$dir/.complete" ]; then
  exit 0
fi
started=$SECONDS
rm -rf "$dir"
mkdir -p "$dir/src"
cd "$dir/src"
# A module of its own, so that our go.mod plays no part (GOWORK off); -mod=mod lets the go command
# fill in its go.mod and go.sum.
export GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"
cat >go.mod <<MOD
module gatehouse.test/kubepeers

go 1.26
MOD
# Download the release and list the staging modules its go.mod replaces with local directories.
kmod=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
: "${kmod:?go mod download k8s.io/kubernetes@$version gave no go.mod}"
mapfile -t mods < <(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/.*#\1#p' "$kmod")
if [ ${#mods[@]} -eq 0 ]; then
  echo "build.sh: no staging replace directives in $kmod" >&2
  exit 1
fi
edits=(-require="k8s.io/kubernetes@$version")
for m in "${mods[@]}"; do
  edits+=(-replace="$m=$m@$staging")
done
go mod edit "${edits[@]}"
cat >tools.go <<'GO'
//go:build tools

// Package kubepeers only pins the commands build.sh builds.
package kubepeers

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
# -e: staging modules the two commands do not import may have no release at $staging; tidy's
# complaints about them are kept in tidy.log, shown only should the build fail.
go mod tidy -e >"$dir/tidy.log" 2>&1
# Static, stripped and without local paths: quicker to link, and nothing here needs cgo or symbols.
# The version is stamped as Kubernetes' own build does (hack/lib/version.sh): unstamped, both
# binaries say v0.0.0-master, which /version would serve to clients that check it.
minor=${version#v1.}
minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
if ! CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$dir/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl; then
  echo "build.sh: building kube-apiserver and kubectl $version failed; go mod tidy said:" >&2
  cat "$dir/tidy.log" >&2
  exit 1
fi
"$dir/kube-apiserver" --version | grep -qx "Kubernetes $version"
"$dir/kubectl" version --client | grep -qx "Client Version: $version"
touch "$dir/.complete"
echo "built kube-apiserver and kubectl $version in $((SECONDS - started)) s into $dir" >&2
