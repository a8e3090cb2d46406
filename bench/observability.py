"""What observability costs on the classify path: the platform started with it off
(METRICS_ENABLED=false, LOG_LEVEL=WARNING: no metrics, no per-request or per-command log
line) and on (the defaults: Prometheus metrics, a JSON log line per request and per command;
tracing off), in turns; with --traced also with tracing on, exporting to a sink here that
answers every OTLP/HTTP export with 200.

    python bench/observability.py                # 3 rounds of 4,000 classifies each way
    python bench/observability.py --rounds 2 -n 2000 --traced

Prints first the CPU a gateway request costs with and without the observability middleware,
measured alone in this process (--middleware-only: just that); then, per run, closed-loop
classify throughput at concurrency 16 and the CPU time each of the platform's processes
spent per classify (from /proc, Linux). On a machine shared with other work the throughput
swings with the load; the CPU per classify much less, so it is the figure to compare.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import arguments, closed_loop, demo_classify, platform, report  # noqa: E402

CONFIGS = {"off": {"METRICS_ENABLED": "false", "LOG_LEVEL": "WARNING"}, "on": {}}
# An OTLP/HTTP collector that takes every export and keeps nothing (its own process: its
# CPU is not the platform's)
SINK = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
"""
TICKS = os.sysconf("SC_CLK_TCK")


def processes(root: int) -> dict[int, str]:
    """The descendants of `root` (the dev runner): pid -> a short name."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid:
                frontier.append(child)
                found[child] = name_of(child)
    return found


def name_of(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(a.decode(errors="replace") for a in argv)
    for name in ("services.annotation", "services.task", "services.workflow", "gateway", "valkey",
                 "secantus"):
        if name in text:
            return name.removeprefix("services.")
    return Path(argv[0].decode(errors="replace")).name


def cpu_seconds(pids: dict[int, str]) -> dict[str, float]:
    spent: dict[str, float] = {}
    for pid, name in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        spent[name] = spent.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICKS
    return spent


async def run(config: str, n: int, concurrency: int) -> None:
    found: dict[str, str] = {}
    saved = {k: os.environ.get(k) for k in CONFIGS[config]}
    os.environ.update(CONFIGS[config])
    try:
        with platform(None, None, found) as (url, token):
            connector = aiohttp.TCPConnector(limit=256)
            async with aiohttp.ClientSession(url, headers={"Authorization": f"Bearer {token}"},
                                             connector=connector) as http:
                classify = await demo_classify(http)

                await closed_loop(http, classify, 300, 8)  # warm-up
                await asyncio.sleep(1)  # the warm-up's last events read
                pids = processes(int(found["pid"]))
                before = cpu_seconds(pids)
                measured = await closed_loop(http, classify, n, concurrency)
                await asyncio.sleep(1)  # the last events read
                after = cpu_seconds(pids)
            report(f"[{config}] classify closed loop, concurrency {concurrency}", n, *measured)
            per = {name: (after[name] - before.get(name, 0.0)) * 1000 / n for name in after}
            print(f"[{config}] CPU ms per classify: total {sum(per.values()):.2f}; " +
                  ", ".join(f"{name} {ms:.2f}" for name, ms in sorted(per.items(), key=lambda x: -x[1])),
                  flush=True)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def middleware_cost(n: int = 20_000) -> None:
    """The gateway's per-request share alone, in this process: a one-route Litestar app
    called over ASGI (no socket) bare, with the JSON request line only (written to
    /dev/null), and behind all of `gateway.observability.middleware()` (the Prometheus
    middleware too)."""
    import logging
    import time

    from litestar import Litestar, get

    from gateway import observability as gateway_observability
    from shared.platform.observability.logs import JsonFormatter

    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    handlers, level = root.handlers, root.level
    root.handlers, root.level = [handler], logging.INFO

    @get("/items/{item_id:str}/annotations", sync_to_thread=False)
    def annotations(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    apps = {"bare": Litestar([annotations], logging_config=None),
            "log line only": Litestar([annotations], middleware=[gateway_observability.request_log],
                                      logging_config=None),
            "observed": Litestar([annotations], middleware=gateway_observability.middleware(),
                                 logging_config=None)}
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": "/items/6b16a6a18a8c85c0ea0a589f/annotations", "raw_path": b"",
             "query_string": b"", "root_path": "", "headers": [(b"host", b"bench")],
             "server": ("bench", 80), "client": ("127.0.0.1", 1)}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        pass

    spent: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(3):
        for name, app in apps.items():
            for _ in range(500):  # warm
                await app(dict(scope), receive, send)
            started = time.process_time()
            for _ in range(n):
                await app(dict(scope), receive, send)
            spent[name].append((time.process_time() - started) * 1e6 / n)
    root.handlers, root.level = handlers, level
    print("gateway request alone, CPU us per request: " + "; ".join(
        f"{name} {', '.join(f'{us:.0f}' for us in values)}" for name, values in spent.items()), flush=True)


async def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("-n", type=int, default=4_000, help="classifies per run")
    parser.add_argument("-c", type=int, default=16, help="concurrency")
    parser.add_argument("--rounds", type=int, default=3, help="runs each way, in turns")
    parser.add_argument("--traced", action="store_true", help="also with tracing on")
    parser.add_argument("--split", action="store_true",
                        help="also metrics without the log lines, and the log lines without metrics")
    parser.add_argument("--middleware-only", action="store_true",
                        help="only the gateway's request middleware, in this process")
    args = parser.parse_args()
    await middleware_cost()
    if args.middleware_only:
        return
    sink = None
    if args.split:
        CONFIGS["metrics only"] = {"LOG_LEVEL": "WARNING"}
        CONFIGS["log lines only"] = {"METRICS_ENABLED": "false"}
    if args.traced:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)])
        CONFIGS["traced"] = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}
    try:
        for _ in range(args.rounds):
            for config in CONFIGS:
                await run(config, args.n, args.c)
    finally:
        if sink is not None:
            sink.terminate()


if __name__ == "__main__":
    asyncio.run(main())
