#!/usr/bin/env bash
# Starts a local hub (Debian's prometheus with the remote-write receiver, data in a temporary
# directory, on 127.0.0.1:19090) and runs the release agent with config/demo.yaml.
# Ctrl-C stops both and removes the temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."

agent=.build/release/agent
hub_address=127.0.0.1:19090
[ -x "$agent" ] || { echo "build the agent first: swift build -c release" >&2; exit 1; }

workdir=$(mktemp -d -t metrics-agent-demo.XXXXXX)
hub_pid=""
agent_pid=""
cleanup() {
  trap - INT TERM EXIT
  [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
  [ -n "$hub_pid" ] && kill -TERM "$hub_pid" 2>/dev/null && wait "$hub_pid" 2>/dev/null || true
  rm -rf "$workdir"
  echo "stopped; removed $workdir"
}
trap cleanup INT TERM EXIT

printf 'global:\n  scrape_interval: 1m\n' > "$workdir/hub.yml"
prometheus --config.file="$workdir/hub.yml" --storage.tsdb.path="$workdir/hub-data" \
  --web.listen-address="$hub_address" --web.enable-remote-write-receiver \
  > "$workdir/hub.log" 2>&1 &
hub_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://$hub_address/-/ready" >/dev/null 2>&1 && break
  kill -0 "$hub_pid" 2>/dev/null || { echo "the hub Prometheus did not start:"; cat "$workdir/hub.log"; exit 1; }
  sleep 0.2
done

cat <<MSG
Hub Prometheus: http://$hub_address   (log: $workdir/hub.log)
Agent:          http://127.0.0.1:9099/metrics   (WAL: $workdir/agent-data)

Where to look, after ~10 s:
  http://$hub_address/graph?g0.expr=up%7Bcluster%3D%22demo%22%7D&g0.tab=1
  curl -s 'http://$hub_address/api/v1/query?query=up{cluster="demo"}'

Ctrl-C stops everything.
MSG

# Ctrl-C reaches the hub too, so the agent's shutdown flush has nothing to send to: keep it short.
"$agent" run --config.file=config/demo.yaml --storage.path="$workdir/agent-data" \
  --web.listen-address=127.0.0.1:9099 --storage.remote.flush-deadline=5s &
agent_pid=$!
wait "$agent_pid" || true
agent_pid=""
