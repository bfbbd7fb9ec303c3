#!/usr/bin/env python3
"""Dead scrape targets: listeners that accept TCP connections and never answer.

Each address in --addresses gets its own listening socket (loopback only). A
connection is accepted and its requests are read, then:

    --mode never   nothing is ever sent back; the socket stays open until the
                   client closes it (a hung process behind a live port).
    --mode slow    each request is answered --delay seconds (default 30) after
                   it arrived, with a small valid text exposition (a process
                   that answers, far too late).

Runs until SIGTERM/SIGINT. Python 3 standard library only (asyncio), one
thread, so its CPU use stays negligible next to the agent under test.

    python3 dead_listener.py --addresses 127.0.200.1:9100,127.0.200.2:9100 --mode never
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
import sys

BODY = (b"# HELP dead_target_slow_answer A dead target that answered late.\n"
        b"# TYPE dead_target_slow_answer gauge\n"
        b"dead_target_slow_answer 1\n")
RESPONSE = (b"HTTP/1.1 200 OK\r\n"
            b"Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            b"Content-Length: %d\r\n\r\n" % len(BODY)) + BODY


def dead_address(i: int, port: int) -> tuple[str, int]:
    """Dead target i: 127.0.<200 + i//250>.<1 + i%250>, outside the farm's 127.0.1.x… range."""
    return "127.0.%d.%d" % (200 + i // 250, 1 + i % 250), port


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, mode: str, delay: float,
                  stats: dict) -> None:
    stats["connections"] += 1
    try:
        while True:
            # One request head (scrapes are GETs without a body).
            head = await reader.readuntil(b"\r\n\r\n")
            if not head:
                return
            stats["requests"] += 1
            if mode == "never":
                # Read (and discard) anything else until the client gives up.
                while await reader.read(65536):
                    pass
                return
            await asyncio.sleep(delay)
            writer.write(RESPONSE)
            await writer.drain()
            stats["answered"] += 1
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def serve(addresses: list[tuple[str, int]], mode: str, delay: float) -> None:
    stats = {"connections": 0, "requests": 0, "answered": 0}
    servers = []
    for host, port in addresses:
        servers.append(await asyncio.start_server(
            lambda r, w: _handle(r, w, mode, delay, stats), host, port, backlog=1024, reuse_address=True))
    print("dead listener: %d addresses, mode %s" % (len(servers), mode), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=30)
        except asyncio.TimeoutError:
            pass
        print("dead listener: %(connections)d connections, %(requests)d requests, %(answered)d answered"
              % stats, flush=True)
    for s in servers:
        s.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--addresses", help="comma-separated HOST:PORT list")
    ap.add_argument("--count", type=int, help="instead of --addresses: the first N dead addresses (dead_address)")
    ap.add_argument("--port", type=int, default=9100, help="port with --count")
    ap.add_argument("--mode", choices=("never", "slow"), default="never")
    ap.add_argument("--delay", type=float, default=30.0, help="seconds before a slow answer")
    args = ap.parse_args()
    if args.addresses:
        addresses = [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in args.addresses.split(",") if a]
    elif args.count:
        addresses = [dead_address(i, args.port) for i in range(args.count)]
    else:
        ap.error("--addresses or --count is required")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        asyncio.run(serve(addresses, args.mode, args.delay))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
