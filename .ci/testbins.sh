#!/usr/bin/env bash
# Builds the kube-apiserver and etcd binaries that the integration tests run
# (internal/testcluster), from their published Go modules, once per machine.
# The result is cached outside the repository; a second run with the same
# versions does nothing. Safe to run concurrently: one run builds, the others
# wait for it.
#
# Usage: .ci/testbins.sh         build if needed
#        .ci/testbins.sh --dir   only check; fail if not built
#
# Prints the directory holding kube-apiserver and etcd on its last line
# (stdout); progress and errors go to stderr.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
STAGING_VERSION=${STAGING_VERSION:-v0.${K8S_VERSION#v1.}}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}

export PATH="$PATH:/usr/local/go/bin"
# CI may run without HOME; fall back to the user's home from passwd.
home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
cache=${MESHDOJO_TESTBINS:-${XDG_CACHE_HOME:-$home/.cache}/meshdojo/testbins/k8s-$K8S_VERSION-etcd-$ETCD_VERSION}

say() { echo "testbins: $*" >&2; }

# built reports whether both binaries exist and report the wanted versions
# (a binary from an interrupted or older build is rebuilt).
built() {
  [ -x "$cache/kube-apiserver" ] && [ -x "$cache/etcd" ] || return 1
  [ "$("$cache/kube-apiserver" --version 2>/dev/null)" = "Kubernetes $K8S_VERSION" ] || return 1
  # Not `etcd --version | grep -q`: grep exits at the first match, etcd
  # gets SIGPIPE, and pipefail turns that into a failure.
  local v
  v=$("$cache/etcd" --version 2>/dev/null) || return 1
  [[ $v == *"etcd Version: ${ETCD_VERSION#v}"* ]]
}

if [ "${1:-}" = "--dir" ]; then
  if built; then
    echo "$cache"
    exit 0
  fi
  say "kube-apiserver $K8S_VERSION / etcd $ETCD_VERSION not built in $cache: run \`make testbins\`"
  exit 1
elif [ $# -gt 0 ]; then
  say "unknown argument $1 (usage: $0 [--dir])"
  exit 2
fi

if built; then
  echo "$cache"
  exit 0
fi

command -v go >/dev/null || { say "go not found on PATH ($PATH); install Go 1.26"; exit 1; }
mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
  say "another build is running in $cache; waiting for it"
  flock 9
fi
# The other build may have finished while we waited.
if built; then
  echo "$cache"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work" "$cache"/.*.tmp.$$' EXIT
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0

# kube-apiserver: k8s.io/kubernetes replaces its staging modules with local
# paths, which do not exist in the module cache, so point each one at its
# published release instead.
mkdir -p "$work/k8s"
cd "$work/k8s"
go mod init meshdojo.invalid/testbins >/dev/null 2>&1
kmod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
[ -n "$kmod" ] || { say "could not download k8s.io/kubernetes@$K8S_VERSION (network or GOPROXY?)"; exit 1; }
{
  echo "require k8s.io/kubernetes $K8S_VERSION"
  sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"$STAGING_VERSION"'#p' "$kmod"
} >>go.mod
say "building kube-apiserver $K8S_VERSION into $cache (takes several minutes, once per machine)"
go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" >&2
# Stamp the version so /version (and checks that read it) see the real
# release instead of v0.0.0-master.
minor=${K8S_VERSION#v1.}
minor=${minor%%.*}
v=k8s.io/component-base/version
go build -ldflags "-X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean" \
  -o "$cache/.kube-apiserver.tmp.$$" k8s.io/kubernetes/cmd/kube-apiserver
mv -f "$cache/.kube-apiserver.tmp.$$" "$cache/kube-apiserver"

# etcd: the server module's root package is etcd's main package.
mkdir -p "$work/etcd"
cd "$work/etcd"
go mod init meshdojo.invalid/etcdbin >/dev/null 2>&1
say "building etcd $ETCD_VERSION"
go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
go build -o "$cache/.etcd.tmp.$$" go.etcd.io/etcd/server/v3
mv -f "$cache/.etcd.tmp.$$" "$cache/etcd"

if ! built; then
  say "built binaries in $cache do not report the expected versions"
  "$cache/kube-apiserver" --version >&2 || true
  "$cache/etcd" --version >&2 || true
  exit 1
fi
say "done"
echo "$cache"
