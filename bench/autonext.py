"""Auto next figures over HTTP against the running platform: one annotator classifying and
moving on without think time, in a single-class task with Auto next item and Auto complete on.

    python bench/autonext.py                 # starts the platform with the embedded servers
    python bench/autonext.py --url http://127.0.0.1:8000 --token <an API token>

Prints: next-item latency at a steady rate (target p99 <= 10 ms) and the classify-and-advance
loop for one annotator (target >= 200 items/s). When the gateway's classify answers with the
next item (Auto next), one request per item; otherwise classify, then POST next-item.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    api_session,
    arguments,
    created_task,
    open_loop,
    percentiles,
    platform,
    report,
)
from bench.tasks import register

LABEL = "men's clothes.polo shirts"


async def json_of(call) -> dict:
    async with call as r:
        body = await r.json()
        assert r.status < 300, (r.status, body)
        return body


async def setup(http: aiohttp.ClientSession, n: int) -> tuple[str, str]:
    """A dataset of `n` items under the demo recipe and a single-class task over it, assigned to
    the caller, with Auto next item and Auto complete on. The task id and the caller's email."""
    project = (await json_of(http.get("/api/v1/projects")))["items"][0]
    me = (await json_of(http.get("/api/v1/users/me")))["email"]
    demo = (await json_of(http.get(f"/api/v1/projects/{project['id']}/datasets")))["items"][0]
    dataset = await json_of(http.post(f"/api/v1/projects/{project['id']}/datasets",
                                      json={"name": f"autonext {time.time():.0f}", "recipeId": demo["recipeId"]}))
    t = time.perf_counter()
    await register(http, dataset["id"], n)
    print(f"setup: registered {n:,} items in {time.perf_counter() - t:.1f} s", flush=True)
    task, _ = await created_task(http, project["id"], {
        "name": "autonext bench", "datasetId": dataset["id"], "assignees": [me], "filter": {"dir": "/bench"}})
    await json_of(http.put(f"/api/v1/tasks/{task['id']}/workflow-settings",
                           json={"autoNext": True, "autoComplete": True}))
    return task["id"], me


async def walk(http: aiohttp.ClientSession, task_id: str, items: int) -> tuple[float, list[float], int, bool]:
    """Classify and move on through `items` items; seconds, per-item latencies, items done, and
    whether classify answered with the next item itself."""
    moved = await json_of(http.post(f"/api/v1/tasks/{task_id}/next-item"))
    item, latencies, one_request = (moved["nextItem"] or {}).get("id"), [], False
    start = time.perf_counter()
    while item and len(latencies) < items:
        t = time.perf_counter()
        body = await json_of(http.post(f"/api/v1/items/{item}/annotations",
                                       json={"label": LABEL, "taskId": task_id}))
        if "nextItem" in body:
            one_request, following = True, body["nextItem"]
        else:
            following = (await json_of(http.post(f"/api/v1/tasks/{task_id}/next-item",
                                                 json={"itemId": item})))["nextItem"]
        latencies.append(time.perf_counter() - t)
        item = (following or {}).get("id")
    return time.perf_counter() - start, latencies, len(latencies), one_request


async def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("-n", type=int, default=3000, help="items in the task (and in the loop)")
    parser.add_argument("--rate", type=float, default=100, help="next-item requests/s of the latency run")
    parser.add_argument("--seconds", type=float, default=20, help="length of the latency run")
    args = parser.parse_args()
    with platform(args.url, args.token) as (url, token):
        async with api_session(url, token) as http:
            task_id, _ = await setup(http, args.n)

            async def peek(session: aiohttp.ClientSession, _: int) -> int:
                async with session.get(f"/api/v1/tasks/{task_id}/next-item") as r:
                    await r.read()
                    return r.status

            await open_loop(http, peek, 100, 2)  # warm-up
            report(f"next-item open loop at {args.rate:.0f}/s", int(args.rate * args.seconds),
                   *await open_loop(http, peek, args.rate, args.seconds))
            seconds, latencies, done, one_request = await walk(http, task_id, args.n)
            p = percentiles(latencies)
            how = "classify answers with the next item" if one_request else "classify + POST next-item"
            print(f"classify-and-advance, one annotator ({how}): {done:,} items in {seconds:.2f} s = "
                  f"{done / seconds:,.0f} items/s; per item ms p50 {p['p50']:.1f}  p95 {p['p95']:.1f}  "
                  f"p99 {p['p99']:.1f}  max {p['max']:.1f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
