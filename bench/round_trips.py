"""What one classify costs each process of the embedded platform: MongoDB commands (the
server's opcounters), Redis commands (INFO commandstats) and CPU time per request (from
/proc), at concurrency 1, at concurrency 16 and at a steady 100/s.

    python bench/round_trips.py          # starts the platform with the embedded servers

Counts are per request over the run; a batch of several commands shares its lookups and
writes, so they fall as concurrency rises. Linux only (CPU times from /proc).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
from pathlib import Path
from typing import Any

import aiohttp
import redis
from pymongo import MongoClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import arguments, closed_loop, demo_classify, open_loop, platform

TICK = os.sysconf("SC_CLK_TCK")
NAMES = ("services.annotation", "services.task", "services.workflow", "gateway", "secantus")


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found += [int(entry), *_children(int(entry))]
    return found


def cpu_s(runner_pid: int) -> dict[str, float]:
    """CPU seconds so far of each platform process under the dev runner."""
    times = {}
    for pid in _children(runner_pid):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = next((a for a in args if a.startswith(NAMES)), None) or ("valkey" if "valkey" in args[0] else None)
        if name:
            times[name] = (int(stat[11]) + int(stat[12])) / TICK
    return times


def counters(mongo: MongoClient, rds: redis.Redis, runner_pid: int) -> tuple[dict, dict, dict]:
    ops = mongo.admin.command("serverStatus").get("opcounters", {})
    calls = {k.removeprefix("cmdstat_"): v["calls"] for k, v in rds.info("commandstats").items()}
    return dict(ops), calls, cpu_s(runner_pid)


def per_request(before: dict[str, Any], after: dict[str, Any], n: int) -> dict[str, float]:
    out = {k: round((after[k] - before.get(k, 0)) / n, 2) for k in after
           if isinstance(after[k], int | float) and after[k] != before.get(k, 0)}
    return dict(sorted(out.items()))


async def main() -> None:
    arguments(__doc__).parse_args()  # --help; it always starts its own platform
    found: dict[str, str] = {}
    with platform(None, None, found) as (url, token):
        mongo, rds = MongoClient(found["mongodb"]), redis.Redis.from_url(found["redis"])
        runner = int(found["pid"])
        async with aiohttp.ClientSession(url, headers={"Authorization": f"Bearer {token}"}) as http:
            classify = await demo_classify(http)
            await closed_loop(http, classify, 100, 4)  # warm-up
            for how, n in (("concurrency 1", 300), ("concurrency 16", 2000), ("100/s", 1500)):
                before = counters(mongo, rds, runner)
                seconds, latencies, statuses = await (
                    open_loop(http, classify, 100, n / 100) if how == "100/s"
                    else closed_loop(http, classify, n, int(how.split()[1])))
                after = counters(mongo, rds, runner)
                q = statistics.quantiles(latencies, n=100)
                print(f"classify at {how}: {n / seconds:.0f} req/s, p50 {q[49] * 1000:.1f} ms, "
                      f"p99 {q[98] * 1000:.1f} ms, status {statuses}")
                print("  MongoDB ops/request", per_request(before[0], after[0], n))
                print("  Redis commands/request", per_request(before[1], after[1], n))
                print("  CPU ms/request", {k: round((after[2][k] - before[2].get(k, 0)) * 1000 / n, 2)
                                           for k in after[2]})


if __name__ == "__main__":
    asyncio.run(main())
