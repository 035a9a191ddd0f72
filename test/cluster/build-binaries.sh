#!/usr/bin/env bash
# Builds the real control-plane binaries the tests run (kube-apiserver, etcd, and on request kubectl
# and helm) from the Go module proxy, into a cache outside the repository. Prints the folder that
# holds them as its last line of stdout; progress goes to stderr.
#
#   build-binaries.sh [kube-apiserver] [etcd] [kubectl] [helm] [reference-webhook] [reference-fixtures] [vegeta]
#                     [kubelet] [kube-controller-manager] [kube-scheduler] [containerd] [runc]
#                     [cni-plugins] [buildkit] [pause] [promtool] [prometheus] [prometheus-operator]
#                     [prometheus-operator-crds]   (default: kube-apiserver etcd)
#
# reference-webhook is aws/amazon-eks-pod-identity-webhook and vegeta the constant-rate HTTP load
# generator (tsenart/vegeta), both built only for the benchmarks. reference-fixtures is not a
# binary: it is the reference webhook's golden pod fixtures (pkg/handler/testdata of the same
# module), taken from the module itself so the conformance test never reads outside the repository;
# it lands in OUT/reference-fixtures. promtool checks the chart's alert rules and the components'
# /metrics in `npm test`; prometheus is built only on request. prometheus-operator is the Prometheus
# Operator and its config reloader (OUT/prometheus-operator, OUT/prometheus-config-reloader) with the
# module's own CRDs (OUT/prometheus-operator-crds, example/prometheus-operator-crd of the same
# module zip), for the real-node monitoring tests; prometheus-operator-crds is those CRDs alone (a
# download, no build), which the chart test applies. The rest make the real node of the
# end-to-end tests: kubelet, kube-controller-manager and kube-scheduler (one multi-call binary,
# kube-node), containerd (with its runc shim and ctr), runc (cgo + libseccomp, static), the CNI
# plugins (bridge, host-local, loopback, portmap in OUT/cni), BuildKit (buildkitd, buildctl) and the
# pod sandbox's pause program. runc needs gcc, pkg-config and libseccomp-dev: when they are missing
# and this runs as root on Debian they are installed with apt-get (and it says so).
#
# KUBEBUILDER_ASSETS, when it names a folder holding the requested binaries, is used as is.
# Versions: KUBE_VERSION (1.37.2), ETCD_VERSION (3.6.16), HELM_VERSION (3.22.0),
# PROMETHEUS_VERSION (3.16.0, for promtool and prometheus), PROMETHEUS_OPERATOR_VERSION (0.93.1),
# CONTAINERD_VERSION (2.4.2),
# RUNC_VERSION (1.5.3), CNI_PLUGINS_VERSION (1.10.0), BUILDKIT_VERSION (0.34.2).
# Cache: KUBE_IRSA_CACHE (default ~/.cache/kube-irsa). A lock makes concurrent callers build once.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
HELM_VERSION=${HELM_VERSION:-3.22.0}
REFERENCE_WEBHOOK_VERSION=${REFERENCE_WEBHOOK_VERSION:-0.6.17}
VEGETA_VERSION=${VEGETA_VERSION:-12.13.0}
PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-3.16.0}
PROMETHEUS_OPERATOR_VERSION=${PROMETHEUS_OPERATOR_VERSION:-0.93.1}
CONTAINERD_VERSION=${CONTAINERD_VERSION:-2.4.2}
RUNC_VERSION=${RUNC_VERSION:-1.5.3}
CNI_PLUGINS_VERSION=${CNI_PLUGINS_VERSION:-1.10.0}
BUILDKIT_VERSION=${BUILDKIT_VERSION:-0.34.2}
CACHE=${KUBE_IRSA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-irsa}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT="$CACHE/bin/k8s-v$KUBE_VERSION-etcd-v$ETCD_VERSION"

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(kube-apiserver etcd)

log() { printf '[test-binaries] %s\n' "$*" >&2; }

# Binaries with their own version live in their own folder, and OUT/<name> links into it, so a
# version bump rebuilds just them. Each entry: the folder, then the files a build leaves in it.
declare -A VERSIONED=(
  [helm]="helm-v$HELM_VERSION helm"
  [promtool]="prometheus-v$PROMETHEUS_VERSION promtool"
  [prometheus]="prometheus-v$PROMETHEUS_VERSION prometheus"
  [prometheus-operator]="prometheus-operator-v$PROMETHEUS_OPERATOR_VERSION prometheus-operator prometheus-config-reloader prometheus-operator-crds"
  [prometheus-operator-crds]="prometheus-operator-v$PROMETHEUS_OPERATOR_VERSION prometheus-operator-crds"
  [containerd]="containerd-v$CONTAINERD_VERSION containerd containerd-shim-runc-v2 ctr"
  [runc]="runc-v$RUNC_VERSION runc"
  [cni-plugins]="cni-plugins-v$CNI_PLUGINS_VERSION cni"
  [buildkit]="buildkit-v$BUILDKIT_VERSION buildkitd buildctl"
)
# kubelet, kube-controller-manager and kube-scheduler are links to one binary
KUBE_NODE=(kubelet kube-controller-manager kube-scheduler)
# the reference fixtures follow the reference module's version (a folder, linked as OUT/reference-fixtures)
FIXTURES_DIR="$CACHE/fixtures/reference-webhook-v$REFERENCE_WEBHOOK_VERSION"
versioned_dir() { echo "$CACHE/bin/${VERSIONED[$1]%% *}"; }
versioned_files() { local v=${VERSIONED[$1]}; echo "${v#* }"; }
present() {
  if [ "$1" = reference-fixtures ]; then
    [ -d "$FIXTURES_DIR/testdata" ] && [ "$(readlink "$OUT/reference-fixtures" 2>/dev/null)" = "$FIXTURES_DIR/testdata" ]
  elif [ -n "${VERSIONED[$1]:-}" ]; then
    local d f; d=$(versioned_dir "$1")
    for f in $(versioned_files "$1"); do
      [ -e "$d/$f" ] && [ "$(readlink "$OUT/$f" 2>/dev/null)" = "$d/$f" ] || return 1
    done
  else
    [ -x "$OUT/$1" ]
  fi
}
# Links the files of a versioned build into OUT.
link_versioned() {
  local d f; d=$(versioned_dir "$1")
  for f in $(versioned_files "$1"); do ln -sfn "$d/$f" "$OUT/$f"; done
}
if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  missing=0
  for b in "${wanted[@]}"; do
    f=$b; [ -n "${VERSIONED[$b]:-}" ] && f=$(versioned_files "$b" | cut -d' ' -f1)
    [ -e "$KUBEBUILDER_ASSETS/$f" ] || missing=1
  done
  if [ $missing = 0 ]; then echo "$KUBEBUILDER_ASSETS"; exit 0; fi
  log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks some of: ${wanted[*]}; building them instead"
fi

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

# k8s.io/kubernetes requires its staging modules at v0.0.0 and maps them to ./staging with replace
# directives that only apply inside its own repository; a consumer must replace each one with its
# published v0.X.Y. The list comes from the go.mod the proxy serves, never by hand.
resolve_kubernetes_module() {
  local name=$1 dir=$2
  run_phase "$name" "resolving k8s.io/kubernetes@v$KUBE_VERSION" "$dir/mod.log" bash -c "
    set -e; cd '$dir'
    gomod=\$(go mod download -json k8s.io/kubernetes@v$KUBE_VERSION | sed -n 's/.*\"GoMod\": \"\\(.*\\)\".*/\\1/p')
    [ -f \"\$gomod\" ] || { echo 'could not download the go.mod of k8s.io/kubernetes@v$KUBE_VERSION'; exit 1; }
    for m in \$(sed -n 's|^[[:space:]]*\\(k8s.io/[^ ]*\\) => ./staging/src/k8s.io/.*|\\1|p' \"\$gomod\"); do
      go mod edit -replace=\"\$m=\$m@v0.${KUBE_VERSION#*.}\"
    done
    go mod edit -require=k8s.io/kubernetes@v$KUBE_VERSION
    go mod tidy"
}

# A main package built against k8s.io/kubernetes (test/cluster/go/<name>) into OUT/<name>.
build_kubernetes_main() {
  local name=$1 phase=$2 dir; dir=$(prepare_module "$name")
  resolve_kubernetes_module "$name" "$dir"
  local ldflags; ldflags=$(version_ldflags "$KUBE_VERSION")
  run_phase "$name" "$phase" "$dir/build.log" \
    bash -c "cd '$dir' && go build -v -trimpath -tags selinux,notest,grpcnotrace -ldflags '$ldflags' -o '$OUT/$name.tmp' ."
  mv "$OUT/$name.tmp" "$OUT/$name"
}

build_kube_apiserver() {
  build_kubernetes_main kube-apiserver "compiling (the longest step: ~2,000 packages)"
}

# kubelet, kube-controller-manager and kube-scheduler: one binary (test/cluster/go/kube-node), a
# link for each name. Most packages are shared with kube-apiserver, so after it this is quick.
build_kube_node() {
  build_kubernetes_main kube-node "compiling kubelet, kube-controller-manager and kube-scheduler"
  local n; for n in "${KUBE_NODE[@]}"; do ln -sfn kube-node "$OUT/$n"; done
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
  local dir="$CACHE/work/helm" out; out=$(versioned_dir helm)
  rm -rf "$dir" && mkdir -p "$dir" "$out"
  if [ ! -x "$out/helm" ]; then
    run_phase helm "go install helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" "$dir/build.log" \
      env GOBIN="$dir" go install -v -trimpath \
        -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" \
        "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
    mv "$dir/helm" "$out/helm"
  fi
  link_versioned helm
}

# `go install` of several main packages of one module version into a versioned folder.
# $1 name, $2 phase text, then env assignments (K=V) and the go install arguments.
install_versioned() {
  local name=$1 phase=$2; shift 2
  local dir="$CACHE/work/$name" out; out=$(versioned_dir "$name")
  rm -rf "$dir" && mkdir -p "$dir" "$out"
  run_phase "$name" "$phase" "$dir/build.log" env GOBIN="$dir" "$@"
  mv "$dir"/* "$out/"
  link_versioned "$name"
}

build_containerd() {
  local m=github.com/containerd/containerd/v2 v=v$CONTAINERD_VERSION
  install_versioned containerd "go install $m/cmd/{containerd,containerd-shim-runc-v2,ctr}@$v" \
    go install -v -trimpath -tags "no_btrfs no_devmapper no_zfs urfave_cli_no_docs" \
      -ldflags "-s -w -X $m/version.Version=$v -X $m/version.Package=$m" \
      "$m/cmd/containerd@$v" "$m/cmd/containerd-shim-runc-v2@$v" "$m/cmd/ctr@$v"
}

# The kubelet asks for the runtime-default seccomp profile for every sandbox, so runc needs
# seccomp: cgo against libseccomp, linked statically. Not the default libpathrs tag (needs Rust).
build_runc() {
  ensure_debian_packages gcc pkg-config libseccomp-dev
  install_versioned runc "go install github.com/opencontainers/runc@v$RUNC_VERSION (cgo, seccomp, static)" \
    CGO_ENABLED=1 go install -v -trimpath -tags "seccomp urfave_cli_no_docs netgo osusergo" \
      -ldflags "-s -w -X main.version=$RUNC_VERSION -extldflags -static" \
      "github.com/opencontainers/runc@v$RUNC_VERSION"
}

build_cni_plugins() {
  local m=github.com/containernetworking/plugins/plugins v=v$CNI_PLUGINS_VERSION
  local dir="$CACHE/work/cni-plugins" out; out=$(versioned_dir cni-plugins)
  rm -rf "$dir" "$out" && mkdir -p "$dir" "$out"
  run_phase cni-plugins "go install $m/{main/bridge,ipam/host-local,main/loopback,meta/portmap}@$v" "$dir/build.log" \
    env GOBIN="$dir" go install -v -trimpath -ldflags "-s -w" \
      "$m/main/bridge@$v" "$m/ipam/host-local@$v" "$m/main/loopback@$v" "$m/meta/portmap@$v"
  mkdir -p "$out/cni" && mv "$dir"/bridge "$dir"/host-local "$dir"/loopback "$dir"/portmap "$out/cni/"
  link_versioned cni-plugins
}

# buildkit's go.mod has exclude directives, which `go install …@version` refuses: build its main
# packages from a module that requires it and carries the same excludes (read from that go.mod).
build_buildkit() {
  local m=github.com/moby/buildkit v=v$BUILDKIT_VERSION
  local dir="$CACHE/work/buildkit" out; out=$(versioned_dir buildkit)
  rm -rf "$dir" && mkdir -p "$dir" "$out"
  run_phase buildkit "resolving $m@$v" "$dir/mod.log" bash -c "
    set -e; cd '$dir'
    go mod init kube-irsa.local/testbin/buildkit
    gomod=\$(go mod download -json $m@$v | sed -n 's/.*\"GoMod\": \"\\(.*\\)\".*/\\1/p')
    go mod edit -require=$m@$v
    for x in \$(sed -n '/^exclude (/,/^)/{s|^[[:space:]]*\\([^/[:space:]][^[:space:]]*\\) \\(v[^[:space:]]*\\).*|\\1@\\2|p}' \"\$gomod\"); do
      go mod edit -exclude=\"\$x\"
    done
    printf 'package tools\\nimport (\\n_ \"$m/cmd/buildkitd\"\\n_ \"$m/cmd/buildctl\"\\n)\\n' > tools.go
    go mod tidy"
  run_phase buildkit "compiling buildkitd and buildctl" "$dir/build.log" bash -c "
    cd '$dir' && go build -v -trimpath -ldflags '-s -w -X $m/version.Version=$v' -o '$out/buildkitd' $m/cmd/buildkitd \
      && go build -v -trimpath -ldflags '-s -w -X $m/version.Version=$v' -o '$out/buildctl' $m/cmd/buildctl"
  link_versioned buildkit
}

build_pause() {
  local dir; dir=$(prepare_module pause)
  run_phase pause "compiling" "$dir/build.log" \
    bash -c "cd '$dir' && go build -trimpath -ldflags '-s -w' -o '$OUT/pause.tmp' ."
  mv "$OUT/pause.tmp" "$OUT/pause"
}

# Debian packages a build needs (runc's cgo and libseccomp). Installed with apt-get when this runs
# as root on Debian; otherwise the build stops and names them.
ensure_debian_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian packages the build needs: ${missing[*]} (apt-get, as root)"
    run_phase apt "apt-get install ${missing[*]}" "$CACHE/work/apt.log" bash -c \
      "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${missing[*]}"
  else
    log "missing Debian packages: ${missing[*]}; install them (apt-get install ${missing[*]}) and run again"
    exit 1
  fi
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

# Copies folder $3 of module $2 (path@version, from the Go module proxy) to $4, whole or not at all.
copy_module_folder() {
  local name=$1 module=$2 sub=$3 dest=$4 dir="$CACHE/work/$1"
  rm -rf "$dir" && mkdir -p "$dir"
  # `go mod download -json` prints the module's extracted folder as "Dir"
  run_phase "$name" "downloading $module" "$dir/mod.log" bash -c "cd '$dir' && go mod download -json $module"
  local moddir; moddir=$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' "$dir/mod.log")
  [ -d "$moddir/$sub" ] || { log "$name: $moddir/$sub not found"; exit 1; }
  rm -rf "$dest.tmp"
  cp -r "$moddir/$sub" "$dest.tmp"
  chmod -R u+w "$dest.tmp"   # the module cache is read-only; the copy need not be
  mv "$dest.tmp" "$dest"
}

fetch_reference_fixtures() {
  mkdir -p "$FIXTURES_DIR"
  [ -d "$FIXTURES_DIR/testdata" ] || copy_module_folder reference-fixtures \
    "github.com/aws/amazon-eks-pod-identity-webhook@v$REFERENCE_WEBHOOK_VERSION" pkg/handler/testdata "$FIXTURES_DIR/testdata"
  ln -sfn "$FIXTURES_DIR/testdata" "$OUT/reference-fixtures"
}

build_vegeta() {
  local dir="$CACHE/work/vegeta"
  rm -rf "$dir" && mkdir -p "$dir"
  run_phase vegeta "go install github.com/tsenart/vegeta/v12@v$VEGETA_VERSION" "$dir/build.log" \
    env GOBIN="$dir" go install -v -trimpath -ldflags "-s -w" "github.com/tsenart/vegeta/v12@v$VEGETA_VERSION"
  mv "$dir/vegeta" "$OUT/vegeta"
}

# Prometheus 3.x is published on the module proxy as v0.3MM.P (3.16.0 is v0.316.0). Only Kubernetes
# service discovery is compiled in (remove_all_sd drops the cloud SDKs, most of the build), and no
# builtinassets: the web UI's assets are generated by an npm build absent from the module, so
# prometheus serves its HTTP API and no UI.
build_prometheus_tool() {
  local name=$1 dir="$CACHE/work/$1" major minor patch
  if [[ ! $PROMETHEUS_VERSION =~ ^3\.[0-9]+\.[0-9]+$ ]]; then
    log "PROMETHEUS_VERSION must be a Prometheus 3 release such as 3.16.0, not '$PROMETHEUS_VERSION'"
    exit 1
  fi
  IFS=. read -r major minor patch <<<"$PROMETHEUS_VERSION"
  local module_version="v0.$((major * 100 + minor)).$patch"
  local out; out=$(versioned_dir "$name")
  rm -rf "$dir" && mkdir -p "$dir" "$out"
  if [ ! -x "$out/$name" ]; then
    run_phase "$name" "go install github.com/prometheus/prometheus/cmd/$name@$module_version (Prometheus $PROMETHEUS_VERSION)" "$dir/build.log" \
      env GOBIN="$dir" go install -v -trimpath -tags netgo,remove_all_sd,enable_kubernetes_sd \
        -ldflags "-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION" \
        "github.com/prometheus/prometheus/cmd/$name@$module_version"
    mv "$dir/$name" "$out/$name"
  fi
  link_versioned "$name"
}

# The operator's go.mod maps its pkg/apis/monitoring and pkg/client modules to folders of its own
# repository (replace directives, which `go install …@version` refuses): build its main packages
# from a module that requires all three at the same published version. The CRDs are the module
# zip's own example/prometheus-operator-crd files.
build_prometheus_operator() {
  local m=github.com/prometheus-operator/prometheus-operator v=v$PROMETHEUS_OPERATOR_VERSION
  local dir="$CACHE/work/prometheus-operator" out; out=$(versioned_dir prometheus-operator)
  rm -rf "$dir" && mkdir -p "$dir" "$out"
  run_phase prometheus-operator "resolving $m@$v" "$dir/mod.log" bash -c "
    set -e; cd '$dir'
    go mod init kube-irsa.local/testbin/prometheus-operator
    go mod edit -require=$m@$v -require=$m/pkg/apis/monitoring@$v -require=$m/pkg/client@$v
    printf 'package tools\\nimport (\\n_ \"$m/cmd/operator\"\\n_ \"$m/cmd/prometheus-config-reloader\"\\n)\\n' > tools.go
    go mod tidy"
  local ldflags="-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_OPERATOR_VERSION"
  run_phase prometheus-operator "compiling the operator and prometheus-config-reloader" "$dir/build.log" bash -c "
    cd '$dir' && go build -v -trimpath -ldflags '$ldflags' -o '$out/prometheus-operator' $m/cmd/operator \\
      && go build -v -trimpath -ldflags '$ldflags' -o '$out/prometheus-config-reloader' $m/cmd/prometheus-config-reloader"
  fetch_prometheus_operator_crds
  link_versioned prometheus-operator
}

fetch_prometheus_operator_crds() {
  local out; out=$(versioned_dir prometheus-operator-crds)
  mkdir -p "$out"
  [ -d "$out/prometheus-operator-crds" ] || copy_module_folder prometheus-operator-crds \
    "github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION" example/prometheus-operator-crd "$out/prometheus-operator-crds"
  link_versioned prometheus-operator-crds
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
    promtool | prometheus) build_prometheus_tool "$b" ;;
    prometheus-operator) build_prometheus_operator ;;
    prometheus-operator-crds) fetch_prometheus_operator_crds ;;
    kubelet|kube-controller-manager|kube-scheduler) build_kube_node ;;
    containerd) build_containerd ;;
    runc) build_runc ;;
    cni-plugins) build_cni_plugins ;;
    buildkit) build_buildkit ;;
    pause) build_pause ;;
    *) log "unknown binary '$b' (known: kube-apiserver etcd kubectl helm reference-webhook reference-fixtures vegeta promtool prometheus prometheus-operator prometheus-operator-crds kubelet kube-controller-manager kube-scheduler containerd runc cni-plugins buildkit pause)"; exit 1 ;;
  esac
  log "$b built ($(elapsed) elapsed)"
done
echo "$OUT"
