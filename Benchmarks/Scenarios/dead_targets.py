#!/usr/bin/env python3
"""Dead targets (issue 11): do a few targets that never answer starve the healthy ones?

One file_sd job of N healthy targets (the shared bench's nginx farm, ~200
series each, rewritten every interval) and M dead targets (dead_listener.py:
they accept the TCP connection and never answer, or answer after 30 s), all
scraped every --interval with scrape_timeout = interval, remote-written to a
fresh VictoriaMetrics. Each agent runs alone for a warm-up and a measurement
window; the farm and the dead listener are shared by the agents of one
invocation.

    python3 Benchmarks/Scenarios/dead_targets.py \\
        --agents vmagent 'ours=.build/release/agent run --config.file={config} --storage.path={datadir} --web.listen-address={listen}'
    # smoke test (about 2 minutes):
    python3 Benchmarks/Scenarios/dead_targets.py --targets 100 --dead 20 --series 50 --window 30 --warmup 10 \\
        --agents vmagent

What it reports per agent (one JSON line on stdout, a table on stderr):

  scrapes_per_target_*   `up` samples per healthy instance with timestamps in
                         the window, counted at the receiver (expected =
                         window / interval; ±1 at the window's edges is timing
                         noise, a starved target shows far fewer);
                         ok_scrapes_per_target_* counts only up == 1.
  targets_with_gaps      healthy targets with two consecutive scrapes more than
                         1.5 intervals apart in the window (or none near one of
                         its edges): targets that missed at least one interval.
  lateness_*             from the received `up` timestamps, agent-agnostic: per
                         target slot = min_k(ts_k - k*interval) over its scrapes
                         in the window (k = 0, 1, … in order), lateness_k =
                         ts_k - (slot + k*interval); p50/p99/max over all
                         healthy targets' scrapes. A skipped interval makes the
                         following scrapes of that target an interval "late".
  scrape_duration_*      received scrape_duration_seconds of healthy targets.
  threads_max            OS threads of the agent's process tree (max over the
                         window, /proc/PID/task via the shared procmon).
  cpu_seconds, rss_peak_mb   agent process tree (CPU in the window; RSS peak
                         from start to SIGTERM).
  self_lateness_*, self_threads_max   ours only: agent_scrape_lateness_seconds
                         (delta over the window) and agent_threads from the
                         agent's /metrics; "n/a" where the agent has no such
                         metric (older builds, other agents).

Caveat on lateness from timestamps: an agent stamps its samples with *its*
idea of the scrape time. vmagent stamps the scheduled time (timestamp +=
interval each tick) unless the real tick is off by more than 10 % of the
interval, so its lateness reads 0 below 1 s at a 10 s interval. Our baseline
(97f232e) stamps the time its scrape task woke up, before it waits for a free
curl thread, so its starvation shows up as missing scrapes and long scrape
durations rather than as late timestamps.

The shared harness (farm, receiver, process monitor) is imported from
$BENCH_DIR, by default ../shared/bench relative to the repository root.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BENCH_DIR = os.environ.get("BENCH_DIR") or os.path.normpath(os.path.join(REPO, "..", "shared", "bench"))
if not os.path.isfile(os.path.join(BENCH_DIR, "farm.py")):
    sys.exit(f"the shared bench harness is not at {BENCH_DIR} (set BENCH_DIR)")
sys.path.insert(0, BENCH_DIR)
sys.path.insert(0, HERE)

from agents import EXTERNAL_LABELS, Agent, parse_agent  # noqa: E402
from farm import Farm  # noqa: E402
from net import check_port_free, http_get  # noqa: E402
from procmon import Process, Sampler, interrupt_on_sigterm  # noqa: E402
from receiver import Receiver  # noqa: E402
from run import log, raise_fd_limit  # noqa: E402

from dead_listener import dead_address  # noqa: E402

JOB = "bench"
MB = 1024 * 1024
SECOND_ENDPOINT_LABEL = ("rw", "secondary")  # added by the receiver to the second endpoint's samples
DEFAULT_OURS = ("ours=" + os.path.join(REPO, ".build/release/agent")
                + " run --config.file={config} --storage.path={datadir} --web.listen-address={listen}")
# Like the shared bench's vmagent, plus a second -remoteWrite.url with --endpoints 2.
VMAGENT = ("vmagent -promscrape.config={config} -remoteWrite.url={remote_write_url} {second_url_flag} "
           "-remoteWrite.tmpDataPath={datadir} -httpListenAddr={listen}")


# --- configuration ---------------------------------------------------------

def _duration(seconds: float) -> str:
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{round(seconds * 1000)}ms"


def write_targets_file(path: str, healthy: list[str], dead: list[str]) -> None:
    groups = [{"targets": healthy, "labels": {}}]
    if dead:
        groups.append({"targets": dead, "labels": {}})
    with open(path + ".tmp", "w") as f:
        json.dump(groups, f)
    os.replace(path + ".tmp", path)


def render_config(style: str, targets_file: str, interval: float, write_urls: list[tuple[str, str]]) -> str:
    """The agent's YAML: one file_sd job; remote_write entries only in the prometheus style."""
    lines = [
        "# Generated by Benchmarks/Scenarios/dead_targets.py for one run.",
        "global:",
        f"  scrape_interval: {_duration(interval)}",
        f"  scrape_timeout: {_duration(interval)}",
        "  external_labels:",
        *(f"    {k}: {v}" for k, v in EXTERNAL_LABELS.items()),
        "scrape_configs:",
        f"  - job_name: {JOB}",
        "    file_sd_configs:",
        f"      - files: ['{targets_file}']",
    ]
    if style == "prometheus":
        lines.append("remote_write:")
        for name, url in write_urls:
            lines += [f"  - url: '{url}'", f"    name: {name}"]
            if len(write_urls) > 1:
                lines += ["    queue_config:", "      max_shards: 50"]
    return "\n".join(lines) + "\n"


def agent_argv(agent: Agent, config: str, datadir: str, listen: str, write_urls: list[tuple[str, str]]) -> list[str]:
    second = write_urls[1][1] if len(write_urls) > 1 else ""
    argv = agent.argv(config=config, datadir=datadir, listen=listen, remote_write_url=write_urls[0][1],
                      remote_write_url_2=second,
                      second_url_flag=(f"-remoteWrite.url={second}" if second else ""))
    return [a for a in argv if a]


# --- the agent's own /metrics ---------------------------------------------

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, dict, float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out.append((m.group(1), labels, value))
    return out


def self_metrics(listen: str) -> list[tuple[str, dict, float]] | None:
    try:
        return parse_metrics(http_get(f"http://{listen}/metrics", timeout=5).decode(errors="replace"))
    except OSError:
        return None


def lateness_histogram(samples, job: str) -> dict[float, float] | None:
    """agent_scrape_lateness_seconds{scrape_job=job}: upper bound -> cumulative count (incl. +Inf)."""
    if samples is None:
        return None
    buckets = {}
    for name, labels, value in samples:
        if name == "agent_scrape_lateness_seconds_bucket" and labels.get("scrape_job") == job:
            le = labels.get("le", "")
            buckets[math.inf if le in ("+Inf", "Inf") else float(le)] = value
    return buckets or None


def gauge(samples, name: str) -> float | None:
    if samples is None:
        return None
    values = [v for n, _, v in samples if n == name]
    return sum(values) if values else None


def histogram_summary(start: dict | None, end: dict | None) -> dict:
    """p50/p99 (interpolated like histogram_quantile) and the share <= 1 s of the window's delta."""
    if end is None:
        return {"self_lateness_p50_s": "n/a", "self_lateness_p99_s": "n/a", "self_lateness_le_1s": "n/a",
                "self_lateness_count": "n/a"}
    delta = {le: end[le] - (start or {}).get(le, 0.0) for le in sorted(end)}
    total = delta.get(math.inf, max(delta.values()))

    def quantile(q: float) -> float | None:
        if total <= 0:
            return None
        rank, prev_le, prev_count = q * total, 0.0, 0.0
        for le, count in delta.items():
            if count >= rank:
                if le == math.inf:
                    return prev_le  # as histogram_quantile: the highest finite bound
                span = count - prev_count
                return prev_le + (le - prev_le) * ((rank - prev_count) / span if span else 1.0)
            prev_le, prev_count = le, count
        return prev_le

    le1 = delta.get(1.0)
    return {
        "self_lateness_p50_s": _round(quantile(0.5), 4),
        "self_lateness_p99_s": _round(quantile(0.99), 4),
        "self_lateness_le_1s": round(le1 / total, 5) if le1 is not None and total > 0 else None,
        "self_lateness_count": int(total),
    }


# --- what the receiver got -------------------------------------------------

def export(receiver: Receiver, selector: str, start: float, end: float) -> dict[str, list[tuple[float, float]]]:
    """instance -> [(timestamp s, value)] of the series matching selector, timestamps in [start, end)."""
    qs = urllib.parse.urlencode({"match[]": selector, "start": "%.3f" % (start - 1), "end": "%.3f" % (end + 1)})
    body = http_get(f"{receiver.base}/api/v1/export?{qs}", timeout=300)
    out: dict[str, list[tuple[float, float]]] = {}
    for line in body.splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        instance = obj["metric"].get("instance", "")
        points = [(ts / 1000.0, v) for ts, v in zip(obj["timestamps"], obj["values"])
                  if start <= ts / 1000.0 < end]
        out.setdefault(instance, []).extend(points)
    for points in out.values():
        points.sort()
    return out


def up_selector(extra: str = "", name: str = "up") -> str:
    # The second endpoint's copies carry rw="secondary" (added by the receiver); count the first's.
    return f'{{__name__="{name}",job="{JOB}",{SECOND_ENDPOINT_LABEL[0]}=""{extra}}}'


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def _round(x, n):
    return round(x, n) if isinstance(x, (int, float)) else x


def analyse(up: dict[str, list[tuple[float, float]]], durations: dict[str, list[tuple[float, float]]],
            healthy: list[str], dead: list[str], interval: float, start: float, end: float) -> dict:
    expected = round((end - start) / interval)
    counts, ok_counts, late, gaps_targets, healthy_failed = [], [], [], 0, 0
    for instance in healthy:
        ts = sorted({t for t, _ in up.get(instance, [])})
        failed = sum(1 for _, v in up.get(instance, []) if v == 0)
        healthy_failed += failed
        counts.append(len(ts))
        ok_counts.append(len(up.get(instance, [])) - failed)
        edges = [start] + ts + [end]
        if not ts or any(b - a > 1.5 * interval for a, b in zip(edges, edges[1:])):
            gaps_targets += 1
        if ts:
            slot = min(t - k * interval for k, t in enumerate(ts))
            late.extend(t - (slot + k * interval) for k, t in enumerate(ts))
    dur = [v for instance in healthy for _, v in durations.get(instance, [])]
    dead_scrapes = sum(len(up.get(instance, [])) for instance in dead)
    histogram: dict[int, int] = {}
    for c in counts:
        histogram[c] = histogram.get(c, 0) + 1
    return {
        "scrapes_expected_per_target": expected,
        "scrapes_per_target_min": min(counts) if counts else None,
        "scrapes_per_target_median": statistics.median(counts) if counts else None,
        "scrapes_per_target_histogram": {str(k): histogram[k] for k in sorted(histogram)},
        "ok_scrapes_per_target_min": min(ok_counts) if ok_counts else None,
        "ok_scrapes_per_target_median": statistics.median(ok_counts) if ok_counts else None,
        "healthy_scrapes_received": sum(counts),
        "healthy_scrapes_failed": healthy_failed,
        "targets_with_gaps": gaps_targets,
        "lateness_p50_s": _round(_quantile(late, 0.5), 3),
        "lateness_p99_s": _round(_quantile(late, 0.99), 3),
        "lateness_max_s": _round(max(late), 3) if late else None,
        "scrape_duration_p50_s": _round(_quantile(dur, 0.5), 3),
        "scrape_duration_p99_s": _round(_quantile(dur, 0.99), 3),
        "scrape_duration_max_s": _round(max(dur), 3) if dur else None,
        "dead_scrapes_received": dead_scrapes,
    }


# --- one agent's run -------------------------------------------------------

class Scenario:
    def __init__(self, args):
        self.args = args
        self.interval = args.interval
        self.window = math.ceil(args.window / args.interval) * args.interval

    def run_agent(self, agent: Agent, farm: Farm, dead: list[str], dead_proc: Process, workroot: str) -> dict:
        a = self.args
        workdir = tempfile.mkdtemp(prefix=f"dead-targets-{re.sub(r'[^A-Za-z0-9_.-]', '_', agent.name)}-", dir=workroot)
        ok = False
        try:
            with contextlib.ExitStack() as stack:
                result = self._run(agent, farm, dead, dead_proc, workdir, stack)
            ok = True
            return result
        finally:
            if a.keep or not ok:
                log(f"run directory kept: {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)

    def _run(self, agent, farm, dead, dead_proc, workdir, stack) -> dict:
        a = self.args
        receiver = Receiver(os.path.join(workdir, "receiver"), os.path.join(workdir, "receiver.log"),
                            a.receiver_listen).start()
        stack.callback(receiver.stop)
        write_urls = [("primary", receiver.write_url)]
        if a.endpoints == 2:
            k, v = SECOND_ENDPOINT_LABEL
            write_urls.append(("secondary", f"{receiver.write_url}?extra_label={k}={v}"))
        targets_file = os.path.join(workdir, "targets.json")
        write_targets_file(targets_file, farm.targets, dead)
        config = os.path.join(workdir, "agent.yml")
        with open(config, "w") as f:
            f.write(render_config(agent.config_style, targets_file, self.interval, write_urls))
        datadir = os.path.join(workdir, "agent-data")
        os.makedirs(datadir)
        check_port_free(a.agent_listen)
        argv = agent_argv(agent, config, datadir, a.agent_listen, write_urls)
        log(f"{agent.name}: starting: {' '.join(argv)}")
        proc = Process(agent.name, argv, os.path.join(workdir, "agent.log"))
        stack.callback(proc.stop, signal.SIGKILL, 10)

        def alive():
            if not proc.alive():
                raise RuntimeError(f"{agent.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")

        # agent_threads from the agent's own /metrics, once a second (our config style only: vmagent
        # has no such metric, and its /metrics is not worth fetching every second).
        probes = ({"agent_threads": lambda: gauge(self_metrics(a.agent_listen), "agent_threads")}
                  if agent.config_style == "prometheus" else {})
        sampler = Sampler({"agent": lambda: [proc.pid] if proc.alive() else [],
                           "receiver": receiver.root_pids, "farm": farm.root_pids,
                           "dead": lambda: [dead_proc.pid] if dead_proc.alive() else []},
                          probes=probes).start()
        stack.callback(sampler.stop)

        t_launch = time.monotonic()
        while time.monotonic() < t_launch + a.warmup:
            alive()
            time.sleep(0.5)
        # The window starts on a whole second, so exported timestamps compare cleanly.
        time.sleep(math.ceil(time.time()) - time.time())
        s_start = sampler.snapshot()
        m_start = self_metrics(a.agent_listen)
        window_start = s_start.wall
        window_end = window_start + self.window
        log(f"{agent.name}: measuring {self.window:g}s")
        while time.time() < window_end:
            alive()
            time.sleep(min(0.5, max(0.0, window_end - time.time())))
        s_end = sampler.snapshot()
        m_end = self_metrics(a.agent_listen)
        targets_api = self._targets_api(a.agent_listen, set(farm.targets))
        alive()

        self._drain(receiver, window_start, window_end, alive)
        log(f"{agent.name}: stopping (SIGTERM)")
        stop = proc.stop(signal.SIGTERM, 60)
        s_stopped = sampler.snapshot()
        sampler.stop()

        receiver.force_flush()
        up = export(receiver, up_selector(), window_start, window_end)
        durations = export(receiver, up_selector(name="scrape_duration_seconds"), window_start, window_end)
        second = None
        if a.endpoints == 2:
            k, v = SECOND_ENDPOINT_LABEL
            up2 = export(receiver, f'{{__name__="up",job="{JOB}",{k}="{v}"}}', window_start, window_end)
            second = sum(len(up2.get(i, [])) for i in farm.targets)

        in_window = [s for s in sampler.samples if window_start <= s.wall <= s_end.wall]
        lifetime = [s for s in sampler.samples if s.wall <= s_stopped.wall]
        cpu = s_end.groups["agent"].cpu_seconds - s_start.groups["agent"].cpu_seconds
        self_threads = [s.extra.get("agent_threads") for s in in_window if s.extra.get("agent_threads") is not None]
        result = {
            "scenario": "dead_targets",
            "agent": agent.name,
            "agent_version": agent.version(),
            "healthy_targets": len(farm.targets),
            "dead_targets": len(dead),
            "dead_mode": a.dead_mode,
            "series_per_target": a.series,
            "interval_s": self.interval,
            "endpoints": a.endpoints,
            "warmup_s": a.warmup,
            "window_s": self.window,
            **analyse(up, durations, farm.targets, dead, self.interval, window_start, window_end),
            "threads_max": max(s.groups["agent"].threads for s in in_window),
            "cpu_seconds": round(cpu, 2),
            "cpu_percent": round(100 * cpu / self.window, 1),
            "rss_peak_mb": round(max(s.groups["agent"].rss_bytes for s in lifetime) / MB, 1),
            **histogram_summary(lateness_histogram(m_start, a.job_label),
                                lateness_histogram(m_end, a.job_label)),
            "self_threads_max": int(max(self_threads)) if self_threads else "n/a",
            **targets_api,
            "second_endpoint_healthy_scrapes": second,
            "shutdown_seconds": round(stop.seconds, 2),
            "host_cpu_busy_percent": round(100 * (s_end.host_busy - s_start.host_busy)
                                           / max(1, s_end.host_total - s_start.host_total), 1),
            "farm_cpu_percent": round(100 * (s_end.groups["farm"].cpu_seconds
                                             - s_start.groups["farm"].cpu_seconds) / self.window, 1),
            "receiver_cpu_percent": round(100 * (s_end.groups["receiver"].cpu_seconds
                                                 - s_start.groups["receiver"].cpu_seconds) / self.window, 1),
            "host_cores": os.cpu_count(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(window_start - a.warmup)),
        }
        return result

    @staticmethod
    def _targets_api(listen: str, healthy: set[str]) -> dict:
        """p99 of lastScrapeDuration of healthy targets from /api/v1/targets (best effort)."""
        try:
            body = json.loads(http_get(f"http://{listen}/api/v1/targets", timeout=30))
            active = body["data"]["activeTargets"]
        except (OSError, ValueError, KeyError, TypeError):
            return {"api_last_scrape_duration_p99_s": "n/a"}
        values = [float(t.get("lastScrapeDuration", 0)) for t in active
                  if t.get("labels", {}).get("instance") in healthy]
        return {"api_last_scrape_duration_p99_s": _round(_quantile(values, 0.99), 3),
                "api_healthy_targets_listed": len(values)}

    def _drain(self, receiver: Receiver, start: float, end: float, alive) -> None:
        """Waits until the window's `up` samples stop arriving (late scrapes, send batching)."""
        sel = up_selector()
        query = f'sum(count_over_time({sel}[{round((end - start) * 1000)}ms]))'
        stable_for, timeout = 2 * self.interval, 120.0
        t0 = time.monotonic()
        last, last_change = -1.0, time.monotonic()
        while True:
            alive()
            receiver.force_flush()
            n = receiver.query(query, end - 0.001)
            now = time.monotonic()
            if n != last:
                last, last_change = n, now
            elif now - last_change >= stable_for:
                break
            if now - t0 >= timeout:
                log("warning: drain timed out")
                break
            time.sleep(2)
        log(f"drained: {int(last)} `up` samples in the window after {time.monotonic() - t0:.0f}s")


# --- report ----------------------------------------------------------------

COLUMNS = [
    ("scrapes/target min", "scrapes_per_target_min"),
    ("median", "scrapes_per_target_median"),
    ("ok median", "ok_scrapes_per_target_median"),
    ("expected", "scrapes_expected_per_target"),
    ("targets w/ gaps", "targets_with_gaps"),
    ("lateness p50 s", "lateness_p50_s"),
    ("p99 s", "lateness_p99_s"),
    ("max s", "lateness_max_s"),
    ("scrape dur p99 s", "scrape_duration_p99_s"),
    ("threads max", "threads_max"),
    ("CPU s", "cpu_seconds"),
    ("RSS peak MB", "rss_peak_mb"),
    ("self lateness p99", "self_lateness_p99_s"),
    ("self threads", "self_threads_max"),
]
RATIO_KEYS = ["scrapes_per_target_min", "scrapes_per_target_median", "threads_max", "cpu_seconds", "rss_peak_mb"]


def report(results: list[dict], baseline: str | None) -> str:
    ok = [r for r in results if "error" not in r]
    lines = ["| agent | " + " | ".join(c for c, _ in COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 1) + "|"]
    for r in ok:
        lines.append(f"| {r['agent']} | " + " | ".join(str(r.get(k, "–")) for _, k in COLUMNS) + " |")
    base = next((r for r in ok if r["agent"] == baseline), None)
    if base and len(ok) > 1:
        lines += ["", f"ratios to {baseline}:", "| agent | " + " | ".join(RATIO_KEYS) + " |",
                  "|---" * (len(RATIO_KEYS) + 1) + "|"]
        for r in ok:
            cells = []
            for k in RATIO_KEYS:
                x, y = r.get(k), base.get(k)
                cells.append(f"{x / y:.2f}×" if isinstance(x, (int, float)) and isinstance(y, (int, float)) and y else "–")
            lines.append(f"| {r['agent']} | " + " | ".join(cells) + " |")
    for r in results:
        if "error" in r:
            lines.append(f"{r['agent']}: run failed: {r['error'][:300]}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", nargs="+", default=["vmagent", DEFAULT_OURS],
                    help="vmagent, prometheus-agent, or NAME='COMMAND TEMPLATE' ({config} {datadir} {listen} "
                         "{remote_write_url} {remote_write_url_2}); default: vmagent and .build/release/agent")
    ap.add_argument("--baseline", default="vmagent", help="agent the ratios are relative to")
    ap.add_argument("--targets", type=int, default=1800, help="healthy targets")
    ap.add_argument("--dead", type=int, default=200, help="dead targets")
    ap.add_argument("--dead-mode", choices=("never", "slow"), default="never",
                    help="never: accept and never answer; slow: answer after --dead-delay seconds")
    ap.add_argument("--dead-delay", type=float, default=30.0)
    ap.add_argument("--series", type=int, default=200, help="series per healthy target")
    ap.add_argument("--interval", type=float, default=10.0, help="scrape_interval = scrape_timeout, seconds")
    ap.add_argument("--window", type=float, default=60.0, help="measurement window (whole intervals)")
    ap.add_argument("--warmup", type=float, default=20.0)
    ap.add_argument("--endpoints", type=int, choices=(1, 2), default=1,
                    help="2: a second remote_write to the same receiver (name secondary); max_shards 50 each")
    ap.add_argument("--port", type=int, default=9100, help="targets' port")
    ap.add_argument("--agent-listen", default="127.0.0.1:19190")
    ap.add_argument("--receiver-listen", default="127.0.0.1:8428")
    ap.add_argument("--job-label", default=JOB, help="scrape_job label of agent_scrape_lateness_seconds")
    ap.add_argument("--workdir", default="/var/tmp")
    ap.add_argument("--keep", action="store_true", help="keep run directories (logs, configs)")
    ap.add_argument("--out", help="also append the JSON lines to this file")
    args = ap.parse_args()

    agents = []
    for spec in args.agents:
        agent = parse_agent(spec)
        if agent.name == "vmagent" and "=" not in spec:
            agent = Agent("vmagent", VMAGENT, "scrape-only", agent.version_cmd)
        agents.append(agent)
    if len({a.name for a in agents}) != len(agents):
        sys.exit("agent names must be unique")

    interrupt_on_sigterm()
    raise_fd_limit()
    scenario = Scenario(args)
    dead = ["%s:%d" % dead_address(i, args.port) for i in range(args.dead)]
    results = []
    with contextlib.ExitStack() as stack:
        log(f"farm: {args.targets} healthy targets x {args.series} series every {args.interval:g}s; "
            f"{args.dead} dead ({args.dead_mode})")
        farm = Farm(args.targets, args.series, args.interval, args.port).start()
        stack.callback(farm.stop)
        dead_dir = tempfile.mkdtemp(prefix="dead-listener-", dir=args.workdir)
        stack.callback(shutil.rmtree, dead_dir, True)
        dead_proc = Process("dead-listener", [sys.executable, os.path.join(HERE, "dead_listener.py"),
                                              "--count", str(args.dead), "--port", str(args.port),
                                              "--mode", args.dead_mode, "--delay", str(args.dead_delay)],
                            os.path.join(dead_dir, "dead-listener.log"))
        stack.callback(dead_proc.stop)
        time.sleep(1)
        if args.dead and not dead_proc.alive():
            sys.exit("dead listener exited:\n" + dead_proc.log_tail())
        for agent in agents:
            log(f"-- {agent.name}")
            try:
                result = scenario.run_agent(agent, farm, dead, dead_proc, args.workdir)
            except (RuntimeError, OSError) as e:
                log(f"run failed: {e}")
                result = {"scenario": "dead_targets", "agent": agent.name, "error": str(e)[:2000]}
            results.append(result)
            line = json.dumps(result)
            print(line, flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(line + "\n")
    print(report(results, args.baseline), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
