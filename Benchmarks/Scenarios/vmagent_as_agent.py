#!/usr/bin/env python3
"""vmagent behind our agent's command line: a known-good control for end-to-end harnesses.

Accepts what Tests/EndToEndTests/AgentHarness.swift passes to the agent,

    vmagent_as_agent.py run --config.file=FILE --storage.path=DIR --web.listen-address=HOST:PORT [other flags]

and execs vmagent on the same config (scrape part only; the remote_write URLs are read from the
file and passed as -remoteWrite.url flags; other agent flags are ignored). vmagent serves
/-/ready and a Prometheus-shaped /api/v1/targets, so a test that checks scrape schedules from
those, or from the targets' side, can be run against it to show that the checks pass for an agent
known not to starve healthy targets:

    AGENT_BINARY=$PWD/Benchmarks/Scenarios/vmagent_as_agent.py swift test --skip-build --filter DeadTargetsTests

(vmagent has no agent_threads or agent_scrape_lateness_seconds: those checks fail, as they should.)
"""

import os
import re
import sys


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] != "run":
        sys.exit("usage: vmagent_as_agent.py run --config.file=FILE --storage.path=DIR --web.listen-address=HOST:PORT")
    flags = dict(a[2:].split("=", 1) for a in sys.argv[2:] if a.startswith("--") and "=" in a)
    config = flags["config.file"]
    with open(config) as f:
        urls = re.findall(r"^\s*-\s*url:\s*['\"]?([^'\"\s]+)", f.read(), re.M)
    argv = ["vmagent", f"-promscrape.config={config}",
            "-promscrape.config.strictParse=false",  # our config has remote_write; vmagent takes flags
            "-promscrape.fileSDCheckInterval=5s",  # as our agent polls file_sd files (default 30 s)
            f"-remoteWrite.tmpDataPath={flags['storage.path']}",
            f"-httpListenAddr={flags['web.listen-address']}"]
    argv += [f"-remoteWrite.url={url}" for url in urls]
    os.execvp("vmagent", argv)


if __name__ == "__main__":
    main()
