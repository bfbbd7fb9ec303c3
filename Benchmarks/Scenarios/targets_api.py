#!/usr/bin/env python3
"""What one `GET /api/v1/targets` costs the agent with many Kubernetes-like targets (issue 13).

One file_sd job of --targets targets, each with --labels discovered `__meta_kubernetes_*`
labels (pod labels, annotations, node, IP, … as Kubernetes' pod role gives them), kept to a
handful of target labels by relabeling; every target is an address on loopback whose port is
closed, so each scrape fails at once (`health` "down" and a `lastError`, as an unreachable pod).
Each agent runs alone: started, given --settle seconds so every target has been scraped, then
asked --requests times for the whole answer with curl, one request at a time, each after
--pause idle seconds.

    swift build -c release --product agent
    python3 Benchmarks/Scenarios/targets_api.py \\
        --agent 'ours=.build/release/agent run --config.file={config} --storage.path={datadir} --web.listen-address={listen}' \\
        --agent 'vmagent=vmagent -promscrape.config={config} -remoteWrite.url=http://127.0.0.1:9/api/v1/write -remoteWrite.tmpDataPath={datadir} -httpListenAddr={listen}'

Per request (a table on stderr, one JSON line per agent on stdout):

  bytes          size of the answer
  seconds        wall time of the request (curl, to /dev/null)
  cpu_seconds    the agent's user + system CPU during the request (/proc/PID/stat)
  net_cpu_seconds  cpu_seconds minus what the agent used in as long without a request
                 (its scraping; measured over --pause idle seconds before each request)
  extra_rss_mb   the agent's peak RSS during the request (VmHWM, reset through
                 /proc/PID/clear_refs before it) minus its RSS just before it
  retained_mb    RSS a second after the request minus RSS before it

Python 3 standard library only; Linux only (/proc). Run as the agent's user (clear_refs).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def target_groups(count: int, labels: int) -> list[dict]:
    """One group per target, with the labels Kubernetes' pod role would give a pod."""
    groups = []
    for i in range(count):
        app = f"service-{i % 400:03d}"
        pod = f"{app}-7d9f8b6c5-{i:05d}"
        meta = {
            "__meta_kubernetes_namespace": f"team-{i % 40:02d}",
            "__meta_kubernetes_pod_name": pod,
            "__meta_kubernetes_pod_ip": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
            "__meta_kubernetes_pod_uid": f"3f0c{i:08x}-8d1e-4c2b-9a77-0242ac120002",
            "__meta_kubernetes_pod_node_name": f"node-pool-a-{i % 120:03d}.eu-west-1.compute.internal",
            "__meta_kubernetes_pod_host_ip": f"172.16.{(i // 120) % 256}.{i % 120}",
            "__meta_kubernetes_pod_phase": "Running",
            "__meta_kubernetes_pod_ready": "true",
            "__meta_kubernetes_pod_container_name": "app",
            "__meta_kubernetes_pod_container_image": f"registry.example.com/{app}:1.{i % 17}.3",
            "__meta_kubernetes_pod_container_port_name": "metrics",
            "__meta_kubernetes_pod_container_port_number": "9100",
            "__meta_kubernetes_pod_container_port_protocol": "TCP",
            "__meta_kubernetes_pod_controller_kind": "ReplicaSet",
            "__meta_kubernetes_pod_controller_name": f"{app}-7d9f8b6c5",
            "__meta_kubernetes_pod_label_app_kubernetes_io_name": app,
            "__meta_kubernetes_pod_label_app_kubernetes_io_instance": f"{app}-prod",
            "__meta_kubernetes_pod_label_app_kubernetes_io_version": f"1.{i % 17}.3",
            "__meta_kubernetes_pod_label_pod_template_hash": "7d9f8b6c5",
            "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name": "true",
            "__meta_kubernetes_pod_annotation_kubectl_kubernetes_io_restartedAt": "2026-11-30T08:15:00Z",
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
            "__meta_kubernetes_pod_annotation_prometheus_io_port": "9100",
        }
        extra = 0
        while len(meta) < labels:
            meta[f"__meta_kubernetes_pod_annotation_example_com_note_{extra}"] = f"note {extra} for {pod}: \"quoted\" \\ path"
            extra += 1
        address = f"127.{1 + i // 62500}.{(i // 250) % 250}.{1 + i % 250}:9"
        groups.append({"targets": [address], "labels": dict(list(meta.items())[:labels])})
    return groups


CONFIG = """\
global:
  scrape_interval: {interval}s
  scrape_timeout: 5s
scrape_configs:
  - job_name: kubernetes-pods
    file_sd_configs:
      - files: [{targets}]
    relabel_configs:
      - action: labelmap
        regex: __meta_kubernetes_pod_label_(.+)
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_pod_node_name]
        target_label: node
"""


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def measure(pid: int, url: str, idle_window: float) -> dict:
    # The agent's own CPU use meanwhile (scraping): measured over an idle window first.
    idle_start, idle_cpu = time.monotonic(), cpu_seconds(pid)
    time.sleep(idle_window)
    idle_rate = (cpu_seconds(pid) - idle_cpu) / (time.monotonic() - idle_start)
    rss_before = status_kb(pid, "VmRSS")
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS
    cpu_before = cpu_seconds(pid)
    start = time.monotonic()
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url],
                         check=True, capture_output=True, text=True).stdout.split()
    seconds = time.monotonic() - start
    cpu = cpu_seconds(pid) - cpu_before
    peak = status_kb(pid, "VmHWM")
    time.sleep(1)
    rss_after = status_kb(pid, "VmRSS")
    return {"status": int(out[0]), "bytes": int(out[1]), "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 2),
            "idle_cpu_per_second": round(idle_rate, 3), "net_cpu_seconds": round(cpu - idle_rate * seconds, 2),
            "extra_rss_mb": round((peak - rss_before) / 1024, 1), "retained_mb": round((rss_after - rss_before) / 1024, 1),
            "rss_before_mb": round(rss_before / 1024, 1)}


def run_agent(name: str, template: str, args: argparse.Namespace, config: str) -> dict:
    port = free_port()
    datadir = tempfile.mkdtemp(prefix=f"targets-api-{name}-")
    command = template.format(config=config, datadir=datadir, listen=f"127.0.0.1:{port}")
    log = open(os.path.join(datadir, "agent.log"), "w")
    process = subprocess.Popen(shlex.split(command), stdout=log, stderr=subprocess.STDOUT)
    try:
        time.sleep(args.settle)
        if process.poll() is not None:
            sys.exit(f"{name} exited; see {log.name}")
        results = []
        for _ in range(args.requests):
            results.append(measure(process.pid, f"http://127.0.0.1:{port}/api/v1/targets", args.pause))
        return {"agent": name, "targets": args.targets, "labels": args.labels, "requests": results}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agent", action="append", required=True, help="NAME=COMMAND with {config} {datadir} {listen}")
    parser.add_argument("--targets", type=int, default=16000)
    parser.add_argument("--labels", type=int, default=40, help="discovered labels per target (at least 23)")
    parser.add_argument("--interval", type=int, default=30, help="scrape interval, seconds")
    parser.add_argument("--settle", type=float, default=45, help="seconds from start to the first request")
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--pause", type=float, default=5, help="idle seconds before each request (the agent's CPU use without one)")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="targets-api-")
    targets = os.path.join(work, "targets.json")
    with open(targets, "w") as f:
        json.dump(target_groups(args.targets, args.labels), f)
    config = os.path.join(work, "agent.yml")
    with open(config, "w") as f:
        f.write(CONFIG.format(interval=args.interval, targets=json.dumps(targets)))

    print(f"{'agent':<10} {'MB':>7} {'s':>6} {'CPU s':>6} {'net CPU':>7} {'+RSS MB':>8} {'kept MB':>8} {'RSS MB':>7}", file=sys.stderr)
    for spec in args.agent:
        name, template = spec.split("=", 1)
        result = run_agent(name, template, args, config)
        for r in result["requests"]:
            print(f"{name:<10} {r['bytes'] / MB:>7.1f} {r['seconds']:>6.2f} {r['cpu_seconds']:>6.2f} {r['net_cpu_seconds']:>7.2f} {r['extra_rss_mb']:>8.1f} "
                  f"{r['retained_mb']:>8.1f} {r['rss_before_mb']:>7.1f}", file=sys.stderr)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
