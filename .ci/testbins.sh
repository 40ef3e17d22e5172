#!/usr/bin/env bash
# Builds the kube-apiserver and etcd binaries that the integration tests run,
# from their published Go modules, once per machine. The result is cached
# outside the repository; a second run with the same versions does nothing.
#
# Prints the directory holding kube-apiserver and etcd on its last line.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
STAGING_VERSION=${STAGING_VERSION:-v0.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}

cache=${MESHDOJO_TESTBINS:-${XDG_CACHE_HOME:-$HOME/.cache}/meshdojo/testbins/k8s-$K8S_VERSION-etcd-$ETCD_VERSION}
if [ -x "$cache/kube-apiserver" ] && [ -x "$cache/etcd" ]; then
  echo "$cache"
  exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0

# kube-apiserver: k8s.io/kubernetes replaces its staging modules with local
# paths, which do not exist in the module cache, so point each one at its
# published release instead.
mkdir -p "$work/k8s"
cd "$work/k8s"
go mod init meshdojo.invalid/testbins >/dev/null 2>&1
kmod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
{
  echo "require k8s.io/kubernetes $K8S_VERSION"
  sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"$STAGING_VERSION"'#p' "$kmod"
} >>go.mod
go mod tidy >/dev/null 2>&1 || true
echo "building kube-apiserver $K8S_VERSION (takes a few minutes, once per machine)" >&2
go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" >&2
go build -o "$cache/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
mv "$cache/kube-apiserver.tmp" "$cache/kube-apiserver"

mkdir -p "$work/etcd"
cd "$work/etcd"
go mod init meshdojo.invalid/etcdbin >/dev/null 2>&1
echo "building etcd $ETCD_VERSION" >&2
go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
go build -o "$cache/etcd.tmp" go.etcd.io/etcd/server/v3
mv "$cache/etcd.tmp" "$cache/etcd"
echo "$cache"
