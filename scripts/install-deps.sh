#!/usr/bin/env bash
# Installs the Debian packages the agent builds against and the test suite runs, if missing.
# Usage: scripts/install-deps.sh [build|test|run]
#   build: C libraries the agent links (libsnappy, libprotobuf-c, libcurl)
#   run:   build + Debian's prometheus (the demo hub)
#   test:  run + prometheus-node-exporter, victoria-metrics and protobuf-c-compiler
# Service start-up is blocked during installation (policy-rc.d), so the system's own
# prometheus, node_exporter and victoria-metrics never start: the demo and the tests start
# private instances.
set -euo pipefail

want=(libsnappy-dev libprotobuf-c-dev libcurl4-openssl-dev libre2-dev pkg-config)
case "${1:-test}" in
  build) ;;
  run) want+=(prometheus curl) ;;
  test) want+=(prometheus prometheus-node-exporter victoria-metrics protobuf-c-compiler curl openssl python3 python3-yaml) ;;
  *) echo "usage: $0 [build|run|test]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
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
