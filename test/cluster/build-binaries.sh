#!/usr/bin/env bash
# Builds the real control-plane binaries the tests run (kube-apiserver, etcd, and on request kubectl
# and helm) from the Go module proxy, into a cache outside the repository. Prints the folder that
# holds them as its last line of stdout; progress goes to stderr.
#
#   build-binaries.sh [kube-apiserver] [etcd] [kubectl] [helm] [reference-webhook] [reference-fixtures] [vegeta]
#                     (default: kube-apiserver etcd)
#
# reference-webhook is aws/amazon-eks-pod-identity-webhook and vegeta the constant-rate HTTP load
# generator (tsenart/vegeta), both built only for the benchmarks. reference-fixtures is not a
# binary: it is the reference webhook's golden pod fixtures (pkg/handler/testdata of the same
# module), taken from the module itself so the conformance test never reads outside the repository;
# it lands in OUT/reference-fixtures.
#
# KUBEBUILDER_ASSETS, when it names a folder holding the requested binaries, is used as is.
# Versions: KUBE_VERSION (1.37.2), ETCD_VERSION (3.6.16), HELM_VERSION (3.22.0).
# Cache: KUBE_IRSA_CACHE (default ~/.cache/kube-irsa). A lock makes concurrent callers build once.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
HELM_VERSION=${HELM_VERSION:-3.22.0}
REFERENCE_WEBHOOK_VERSION=${REFERENCE_WEBHOOK_VERSION:-0.6.17}
VEGETA_VERSION=${VEGETA_VERSION:-12.13.0}
CACHE=${KUBE_IRSA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-irsa}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT="$CACHE/bin/k8s-v$KUBE_VERSION-etcd-v$ETCD_VERSION"

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(kube-apiserver etcd)

log() { printf '[test-binaries] %s\n' "$*" >&2; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  missing=0
  for b in "${wanted[@]}"; do [ -x "$KUBEBUILDER_ASSETS/$b" ] || missing=1; done
  if [ $missing = 0 ]; then echo "$KUBEBUILDER_ASSETS"; exit 0; fi
  log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks some of: ${wanted[*]}; building them instead"
fi

# helm has its own version: it lives in its own folder and OUT/helm links to it
HELM_DIR="$CACHE/bin/helm-v$HELM_VERSION"
# the reference fixtures follow the reference module's version, like helm follows its own
FIXTURES_DIR="$CACHE/fixtures/reference-webhook-v$REFERENCE_WEBHOOK_VERSION"
present() {
  case $1 in
    helm) [ -x "$HELM_DIR/helm" ] && [ "$(readlink "$OUT/helm" 2>/dev/null)" = "$HELM_DIR/helm" ] ;;
    reference-fixtures) [ -d "$FIXTURES_DIR/testdata" ] && [ "$(readlink "$OUT/reference-fixtures" 2>/dev/null)" = "$FIXTURES_DIR/testdata" ] ;;
    *) [ -x "$OUT/$1" ] ;;
  esac
}
all_present() {
  for b in "${wanted[@]}"; do present "$b" || return 1; done
}
if all_present; then echo "$OUT"; exit 0; fi

command -v go >/dev/null || { log "Go is required to build the test binaries and was not found on PATH"; exit 1; }
mkdir -p "$CACHE" "$OUT"
exec 9>"$CACHE/build.lock"
if ! flock -n 9; then
  log "another process is building the test binaries; waiting for it (lock $CACHE/build.lock)"
  flock 9
fi
if all_present; then echo "$OUT"; exit 0; fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
START=$(date +%s)
elapsed() { local s=$(( $(date +%s) - START )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# Runs "$@" with its output in $logfile and prints the phase, elapsed time and a package count
# every 15 s, because a cold kube-apiserver build takes many minutes and silence looks like a hang.
run_phase() {
  local name=$1 phase=$2 logfile=$3; shift 3
  log "$name: $phase ($(elapsed) elapsed)"
  "$@" >"$logfile" 2>&1 &
  local pid=$! ticks=0
  while kill -0 $pid 2>/dev/null; do
    sleep 1
    ticks=$((ticks + 1))
    if [ $((ticks % 15)) = 0 ]; then
      log "$name: $phase, $(wc -l <"$logfile") log lines so far ($(elapsed) elapsed)"
    fi
  done
  if ! wait $pid; then
    log "$name: $phase FAILED after $(elapsed); last lines of $logfile:"
    tail -n 30 "$logfile" >&2
    exit 1
  fi
}

# Makes a throw-away module in $CACHE/work/$name around test/cluster/go/$name/main.go.
prepare_module() {
  local name=$1 dir="$CACHE/work/$1"
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$HERE/go/$name/main.go" "$dir/main.go"
  (cd "$dir" && go mod init "kube-irsa.local/testbin/$name" >/dev/null 2>&1)
  echo "$dir"
}

version_ldflags() {
  local v=$1 minor
  minor=$(echo "$v" | cut -d. -f2)
  local flags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $p.gitVersion=v$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    flags+=" -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

build_etcd() {
  local dir; dir=$(prepare_module etcd)
  run_phase etcd "resolving go.etcd.io/etcd/server/v3@v$ETCD_VERSION" "$dir/mod.log" \
    bash -c "cd '$dir' && go get go.etcd.io/etcd/server/v3@v$ETCD_VERSION && go mod tidy"
  run_phase etcd "compiling" "$dir/build.log" \
    bash -c "cd '$dir' && go build -v -trimpath -ldflags '-s -w' -o '$OUT/etcd.tmp' ."
  mv "$OUT/etcd.tmp" "$OUT/etcd"
}

build_kube_apiserver() {
  local dir; dir=$(prepare_module kube-apiserver)
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and maps them to ./staging with
  # replace directives that only apply inside its own repository; a consumer must replace each one
  # with its published v0.X.Y. The list comes from the go.mod the proxy serves, never by hand.
  run_phase kube-apiserver "resolving k8s.io/kubernetes@v$KUBE_VERSION" "$dir/mod.log" bash -c "
    set -e; cd '$dir'
    gomod=\$(go mod download -json k8s.io/kubernetes@v$KUBE_VERSION | sed -n 's/.*\"GoMod\": \"\\(.*\\)\".*/\\1/p')
    [ -f \"\$gomod\" ] || { echo 'could not download the go.mod of k8s.io/kubernetes@v$KUBE_VERSION'; exit 1; }
    for m in \$(sed -n 's|^[[:space:]]*\\(k8s.io/[^ ]*\\) => ./staging/src/k8s.io/.*|\\1|p' \"\$gomod\"); do
      go mod edit -replace=\"\$m=\$m@v0.${KUBE_VERSION#*.}\"
    done
    go mod edit -require=k8s.io/kubernetes@v$KUBE_VERSION
    go mod tidy"
  local ldflags; ldflags=$(version_ldflags "$KUBE_VERSION")
  run_phase kube-apiserver "compiling (the longest step: ~2,000 packages)" "$dir/build.log" \
    bash -c "cd '$dir' && go build -v -trimpath -tags selinux,notest,grpcnotrace -ldflags '$ldflags' -o '$OUT/kube-apiserver.tmp' ."
  mv "$OUT/kube-apiserver.tmp" "$OUT/kube-apiserver"
}

build_kubectl() {
  local dir; dir=$(prepare_module kubectl)
  run_phase kubectl "resolving k8s.io/kubectl@v0.${KUBE_VERSION#*.}" "$dir/mod.log" \
    bash -c "cd '$dir' && go get k8s.io/kubectl@v0.${KUBE_VERSION#*.} k8s.io/component-base@v0.${KUBE_VERSION#*.} && go mod tidy"
  local ldflags; ldflags=$(version_ldflags "$KUBE_VERSION")
  run_phase kubectl "compiling" "$dir/build.log" \
    bash -c "cd '$dir' && go build -v -trimpath -ldflags '$ldflags' -o '$OUT/kubectl.tmp' ."
  mv "$OUT/kubectl.tmp" "$OUT/kubectl"
}

build_helm() {
  local dir="$CACHE/work/helm"
  rm -rf "$dir" && mkdir -p "$dir" "$HELM_DIR"
  if [ ! -x "$HELM_DIR/helm" ]; then
    run_phase helm "go install helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" "$dir/build.log" \
      env GOBIN="$dir" go install -v -trimpath \
        -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" \
        "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
    mv "$dir/helm" "$HELM_DIR/helm"
  fi
  ln -sfn "$HELM_DIR/helm" "$OUT/helm"
}

build_reference_webhook() {
  # `go install …@version` needs the module's version list, which the proxy refuses for this module;
  # building its main package from a module that requires the exact version does not
  local dir="$CACHE/work/reference-webhook"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && go mod init kube-irsa.local/testbin/reference-webhook >/dev/null 2>&1 && go mod edit -require="github.com/aws/amazon-eks-pod-identity-webhook@v$REFERENCE_WEBHOOK_VERSION")
  run_phase reference-webhook "compiling github.com/aws/amazon-eks-pod-identity-webhook@v$REFERENCE_WEBHOOK_VERSION" "$dir/build.log" \
    bash -c "cd '$dir' && go build -v -trimpath -ldflags '-s -w' -o '$OUT/reference-webhook.tmp' github.com/aws/amazon-eks-pod-identity-webhook"
  mv "$OUT/reference-webhook.tmp" "$OUT/reference-webhook"
}

fetch_reference_fixtures() {
  local dir="$CACHE/work/reference-fixtures"
  rm -rf "$dir" && mkdir -p "$dir" "$FIXTURES_DIR"
  if [ ! -d "$FIXTURES_DIR/testdata" ]; then
    # `go mod download -json` prints the module's extracted folder as "Dir"
    run_phase reference-fixtures "downloading github.com/aws/amazon-eks-pod-identity-webhook@v$REFERENCE_WEBHOOK_VERSION" "$dir/mod.log" \
      bash -c "cd '$dir' && go mod download -json github.com/aws/amazon-eks-pod-identity-webhook@v$REFERENCE_WEBHOOK_VERSION"
    local moddir; moddir=$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' "$dir/mod.log")
    [ -d "$moddir/pkg/handler/testdata" ] || { log "reference-fixtures: $moddir/pkg/handler/testdata not found"; exit 1; }
    rm -rf "$FIXTURES_DIR/testdata.tmp"
    cp -r "$moddir/pkg/handler/testdata" "$FIXTURES_DIR/testdata.tmp"
    chmod -R u+w "$FIXTURES_DIR/testdata.tmp"   # the module cache is read-only; the copy need not be
    mv "$FIXTURES_DIR/testdata.tmp" "$FIXTURES_DIR/testdata"
  fi
  ln -sfn "$FIXTURES_DIR/testdata" "$OUT/reference-fixtures"
}

build_vegeta() {
  local dir="$CACHE/work/vegeta"
  rm -rf "$dir" && mkdir -p "$dir"
  run_phase vegeta "go install github.com/tsenart/vegeta/v12@v$VEGETA_VERSION" "$dir/build.log" \
    env GOBIN="$dir" go install -v -trimpath -ldflags "-s -w" "github.com/tsenart/vegeta/v12@v$VEGETA_VERSION"
  mv "$dir/vegeta" "$OUT/vegeta"
}

for b in "${wanted[@]}"; do
  present "$b" && continue
  log "building $b into $OUT (first run only; cached afterwards)"
  case $b in
    etcd) build_etcd ;;
    kube-apiserver) build_kube_apiserver ;;
    kubectl) build_kubectl ;;
    helm) build_helm ;;
    reference-webhook) build_reference_webhook ;;
    reference-fixtures) fetch_reference_fixtures ;;
    vegeta) build_vegeta ;;
    *) log "unknown binary '$b' (known: kube-apiserver etcd kubectl helm reference-webhook reference-fixtures vegeta)"; exit 1 ;;
  esac
  log "$b built ($(elapsed) elapsed)"
done
echo "$OUT"
