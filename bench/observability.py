"""What observability costs on the classify path: the platform started with it off
(METRICS_ENABLED=false, LOG_LEVEL=WARNING: no metrics, no per-request or per-command log
line) and on (the defaults: Prometheus metrics, a JSON log line per request and per command;
tracing off), in turns.

    python bench/observability.py                # 3 rounds of 4,000 classifies each way
    python bench/observability.py --rounds 2 -n 2000

Prints, per run: closed-loop classify throughput at concurrency 16 and the CPU time each of
the platform's processes spent per classify (from /proc, Linux). On a machine shared with
other work the throughput swings with the load; the CPU per classify much less, so it is
the figure to compare.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import arguments, closed_loop, platform, report  # noqa: E402

CONFIGS = {"off": {"METRICS_ENABLED": "false", "LOG_LEVEL": "WARNING"}, "on": {}}
LABELS = ["men's clothes.polo shirts", "men's clothes.jeans", "women's clothes.dresses"]
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
                project = (await (await http.get("/api/v1/projects")).json())["items"][0]["id"]
                datasets = await (await http.get(f"/api/v1/projects/{project}/datasets")).json()
                items = (await (await http.get(
                    f"/api/v1/datasets/{datasets['items'][0]['id']}/items")).json())["items"]
                paths = [f"/api/v1/items/{i['id']}/annotations" for i in items]

                async def classify(session: aiohttp.ClientSession, i: int) -> int:
                    body = {"label": LABELS[i % len(LABELS)], "attributes": {"condition": "new"}}
                    async with session.post(paths[i % len(paths)], json=body) as r:
                        await r.read()
                        return r.status

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


async def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("-n", type=int, default=4_000, help="classifies per run")
    parser.add_argument("-c", type=int, default=16, help="concurrency")
    parser.add_argument("--rounds", type=int, default=3, help="runs each way, in turns")
    args = parser.parse_args()
    for _ in range(args.rounds):
        for config in CONFIGS:
            await run(config, args.n, args.c)


if __name__ == "__main__":
    asyncio.run(main())
