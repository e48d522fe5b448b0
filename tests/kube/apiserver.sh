#!/usr/bin/env bash
# A real Kubernetes API server (kube-apiserver v1.20.2 + etcd) on loopback, for shadowmesh's
# Kubernetes-mode tests. Built from Debian's own packages: no container registry, no Go module proxy.
#
#   tests/kube/apiserver.sh install   apt packages, Debian's kubernetes source, go build (3-6 min once)
#   tests/kube/apiserver.sh start     etcd + kube-apiserver on 127.0.0.1, Istio's CRDs applied, waits until
#                                     they are served; writes $KP_RUN/kubeconfig
#   tests/kube/apiserver.sh stop      ends the two processes this script started (by their PID files)
#   tests/kube/apiserver.sh env       prints `export KUBECONFIG=...`
#   tests/kube/apiserver.sh binary    prints the kube-apiserver path, exit 1 when it is not built
#
# Where things go (environment):
#   KP_HOME  the build (source, Go caches, bin/); default ~/.cache/shadowmesh/kube-apiserver, so a fresh
#            clone or `cargo clean` does not rebuild it
#   KP_RUN   one instance's certificates, etcd data, logs, PIDs and kubeconfig; default $KP_HOME/run
#   API_PORT (6443), ETCD_PORT (23790), ETCD_PEER_PORT (23800)
#
# Why v1.20.2: Debian bookworm's `kubernetes` source package is the full upstream v1.20.2 tree with
# vendor/; Debian builds only kubectl from it, but cmd/kube-apiserver is there and builds with Debian's
# Go 1.19 in GOPATH mode. Its limits matter to a client: EndpointSlice is served only as
# discovery.k8s.io/v1beta1 (v1 came in 1.21); no controller-manager or kubelet runs, so tests create
# EndpointSlices and patch Pod status themselves. Old and with known CVEs: loopback tests only.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KP_HOME="${KP_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/shadowmesh/kube-apiserver}"
KP_RUN="${KP_RUN:-$KP_HOME/run}"
BIN="$KP_HOME/bin"
API_PORT="${API_PORT:-6443}"
ETCD_PORT="${ETCD_PORT:-23790}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-23800}"
K8S_VERSION=1.20.2
export DEBIAN_FRONTEND=noninteractive

say() { printf '[apiserver.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_packages() {
  # The source package lives in bookworm's deb-src, which images often leave out.
  if ! grep -rqs "shadowmesh: kubernetes source" /etc/apt/sources.list.d/; then
    as_root tee /etc/apt/sources.list.d/shadowmesh-kube-src.sources >/dev/null <<'SRC'
# shadowmesh: kubernetes source (tests/kube/apiserver.sh builds kube-apiserver from it)
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  as_root apt-get update -qq
  local pkgs="etcd-server golang-go golang-github-modern-go-reflect2-dev openssl curl ca-certificates dpkg-dev"
  command -v kubectl >/dev/null || pkgs="$pkgs kubernetes-client"
  # shellcheck disable=SC2086
  as_root apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
}

# The generated OpenAPI definitions are not in the source tarball; upstream makes them with
# openapi-gen over every package tagged `+k8s:openapi-gen=` (Makefile.generated_files).
generate_openapi() {
  [ -f pkg/generated/openapi/zz_generated.openapi.go ] && return
  go build -o "$BIN/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  local inputs
  inputs=$(find -H . \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune -o -name '*.go' -print \
    | xargs grep -l '^// *+k8s:' | xargs grep -l '+k8s:openapi-gen=' \
    | sed 's|^\./staging/src|vendor|; s|^\./||' | xargs -n1 dirname \
    | grep -v -E '^vendor/k8s.io/(code-generator|sample-apiserver)/' | LC_ALL=C sort -u \
    | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)
  "$BIN/openapi-gen" --logtostderr -i "$inputs" -p k8s.io/kubernetes/pkg/generated/openapi \
    -O zz_generated.openapi -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
    -r "$KP_HOME/src/openapi-violations.txt" 2>"$KP_HOME/src/openapi-gen.log"
}

build() {
  local tree="$KP_HOME/src/kubernetes-$K8S_VERSION"
  mkdir -p "$KP_HOME/src" "$BIN"
  cd "$KP_HOME/src"
  ls kubernetes_*.orig.tar.gz >/dev/null 2>&1 || apt-get source --download-only -qq kubernetes/bookworm
  [ -d "$tree" ] || tar xzf kubernetes_*.orig.tar.gz
  [ -d "$tree" ] || die "the source tarball did not unpack to $tree"
  # The vendored reflect2 v1.0.1 predates Go 1.18's map iterator layout; Debian's v1.0.2 knows it.
  local reflect2="$tree/vendor/github.com/modern-go/reflect2" debian=/usr/share/gocode/src/github.com/modern-go/reflect2
  if [ ! -f "$reflect2/go_above_118.go" ]; then
    rm -f "$reflect2"/*.go "$reflect2"/*.s
    cp "$debian"/*.go "$debian"/*.s "$reflect2/"
  fi
  # GOPATH mode: Go 1.19 in module mode wants to rewrite k8s 1.20's go.mod; vendor/ is complete.
  mkdir -p "$KP_HOME/gopath/src/k8s.io"
  ln -sfn "$tree" "$KP_HOME/gopath/src/k8s.io/kubernetes"
  cd "$KP_HOME/gopath/src/k8s.io/kubernetes"
  export GOPATH="$KP_HOME/gopath" GO111MODULE=off CGO_ENABLED=0 GOCACHE="$KP_HOME/gocache"
  generate_openapi
  # /version is served from both component-base's and client-go's stamps.
  local flags="-s -w" pkg
  for pkg in component-base/version client-go/pkg/version; do
    pkg="k8s.io/kubernetes/vendor/k8s.io/$pkg"
    flags="$flags -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=20 -X $pkg.gitTreeState=clean"
  done
  go build -ldflags "$flags" -o "$BIN/kube-apiserver.tmp" ./cmd/kube-apiserver
  mv "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
}

do_install() {
  local t0=$SECONDS
  install_packages
  say "packages: $((SECONDS - t0)) s"
  if [ -x "$BIN/kube-apiserver" ]; then say "already built: $BIN/kube-apiserver"; return; fi
  t0=$SECONDS
  build
  say "built $BIN/kube-apiserver in $((SECONDS - t0)) s"
}

make_certificates() {
  local pki="$KP_RUN/pki"
  [ -f "$pki/tokens.csv" ] && return
  mkdir -p "$pki" && cd "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=shadowmesh-test-ca" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
  cat >ext.cnf <<'EXT'
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
EXT
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 -extfile ext.cnf 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  # One static token for an administrator (system:masters), one for a user with only the RBAC
  # that deploy/kubernetes grants shadowmesh (bound by the tests that check those manifests).
  {
    echo "$(openssl rand -hex 24),test-admin,test-admin,system:masters"
    echo "$(openssl rand -hex 24),shadowmesh-reader,shadowmesh-reader,shadowmesh-test-readers"
  } >tokens.csv
  chmod 600 ./*.key tokens.csv
}

token_of() { grep ",$1,$1," "$KP_RUN/pki/tokens.csv" | cut -d, -f1; }

write_kubeconfig() { # $1 file, $2 user
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: shadowmesh-test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 <"$KP_RUN/pki/ca.crt")
users:
- name: $2
  user:
    token: $(token_of "$2")
contexts:
- name: shadowmesh-test
  context: {cluster: shadowmesh-test, user: $2, namespace: default}
current-context: shadowmesh-test
KC
  chmod 600 "$1"
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_etcd() {
  running "$KP_RUN/etcd.pid" && return
  etcd --name shadowmesh-test --data-dir "$KP_RUN/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "shadowmesh-test=http://127.0.0.1:$ETCD_PEER_PORT" \
    --quota-backend-bytes=2147483648 --log-level=warn >"$KP_RUN/etcd.log" 2>&1 &
  echo $! >"$KP_RUN/etcd.pid"
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"' && return
    sleep 0.2
  done
  tail -20 "$KP_RUN/etcd.log" >&2
  die "etcd is not healthy on 127.0.0.1:$ETCD_PORT after 20 s (log: $KP_RUN/etcd.log)"
}

start_apiserver() {
  local pki="$KP_RUN/pki"
  if ! running "$KP_RUN/apiserver.pid"; then
    # --endpoint-reconciler-type=none: the default reconciler refuses a loopback advertise address.
    # The ServiceAccount admission plugin is off: no controller makes the tokens it would require.
    "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
      --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
      --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
      --client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv" \
      --authorization-mode=RBAC --disable-admission-plugins=ServiceAccount \
      --service-account-issuer=https://kubernetes.default.svc.cluster.local \
      --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
      --service-cluster-ip-range=10.96.0.0/16 --endpoint-reconciler-type=none \
      --cert-dir="$KP_RUN/apiserver-certs" --profiling=false --v=1 >"$KP_RUN/apiserver.log" 2>&1 &
    echo $! >"$KP_RUN/apiserver.pid"
  fi
  local token; token=$(token_of test-admin)
  for _ in $(seq 300); do
    [ "$(curl -s --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" "https://127.0.0.1:$API_PORT/readyz" 2>/dev/null)" = ok ] && return
    running "$KP_RUN/apiserver.pid" || { tail -30 "$KP_RUN/apiserver.log" >&2; die "kube-apiserver exited (log: $KP_RUN/apiserver.log)"; }
    sleep 0.2
  done
  tail -30 "$KP_RUN/apiserver.log" >&2
  die "kube-apiserver not ready on 127.0.0.1:$API_PORT after 60 s"
}

# Istio's four networking kinds, served as v1alpha3, v1beta1 and v1 (stored as v1) like Istio's own
# CRDs. The schema is left open (Istio's CRDs carry a full schema and CEL rules this 1.20 server cannot
# run): so a resource Istio's CRD would refuse still reaches shadowmesh, whose validation must catch it.
istio_crds() {
  local kind plural short version storage
  for kind in VirtualService:virtualservices:vs DestinationRule:destinationrules:dr \
    ServiceEntry:serviceentries:se WorkloadEntry:workloadentries:we; do
    IFS=: read -r kind plural short <<<"$kind"
    cat <<CRD
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: $plural.networking.istio.io
spec:
  group: networking.istio.io
  scope: Namespaced
  names: {kind: $kind, listKind: ${kind}List, plural: $plural, singular: $(tr 'A-Z' 'a-z' <<<"$kind"), shortNames: [$short], categories: [istio-io, networking-istio-io]}
  versions:
CRD
    for version in v1alpha3 v1beta1 v1; do
      storage=false; [ "$version" = v1 ] && storage=true
      cat <<VER
  - name: $version
    served: true
    storage: $storage
    subresources: {status: {}}
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
VER
    done
  done
}

do_start() {
  [ -x "$BIN/kube-apiserver" ] || die "kube-apiserver is not built: run '$0 install' first (3-6 min)"
  mkdir -p "$KP_RUN"
  make_certificates
  write_kubeconfig "$KP_RUN/kubeconfig" test-admin
  write_kubeconfig "$KP_RUN/kubeconfig-reader" shadowmesh-reader
  local t0=$SECONDS
  start_etcd
  start_apiserver
  export KUBECONFIG="$KP_RUN/kubeconfig"
  istio_crds | kubectl apply -f - >/dev/null
  istio_crds | kubectl wait --for condition=established --timeout=60s -f - >/dev/null
  say "ready in $((SECONDS - t0)) s: export KUBECONFIG=$KP_RUN/kubeconfig (etcd pid $(cat "$KP_RUN/etcd.pid"), kube-apiserver pid $(cat "$KP_RUN/apiserver.pid"))"
}

do_stop() {
  local name pid
  for name in apiserver etcd; do
    running "$KP_RUN/$name.pid" || { rm -f "$KP_RUN/$name.pid"; continue; }
    pid=$(cat "$KP_RUN/$name.pid")
    kill "$pid"
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    rm -f "$KP_RUN/$name.pid"
    say "stopped $name ($pid)"
  done
}

case "${1:-}" in
  install) do_install ;;
  start) do_start ;;
  stop) do_stop ;;
  env) echo "export KUBECONFIG=$KP_RUN/kubeconfig" ;;
  binary) [ -x "$BIN/kube-apiserver" ] && echo "$BIN/kube-apiserver" ;;
  crds) istio_crds ;;
  *) echo "usage: $0 install|start|stop|env|binary|crds" >&2; exit 2 ;;
esac
