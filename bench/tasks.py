"""Task figures over HTTP against the running platform.

    python bench/tasks.py                 # starts the platform with the embedded servers
    python bench/tasks.py --url http://127.0.0.1:8000 --token <an API token>

Prints: the time to create and allocate a task over N items (target: 100,000 items in
under 10 s), and status set/clear latency at a steady rate (target p99 <= 10 ms at 100/s),
after 2 s of the same load whose figures are printed apart.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import api_session, arguments, created_task, open_loop, platform, report  # noqa: E402

REGISTER_CHUNK = 64
WARM_UP_S = 2.0


async def register(http: aiohttp.ClientSession, dataset: str, n: int) -> None:
    """Register `n` items by URL (setup, not measured)."""
    sem = asyncio.Semaphore(REGISTER_CHUNK)

    async def one(i: int) -> None:
        async with sem:
            body = {"name": f"bench-{i:06d}.jpg", "url": f"http://example.com/{i}.jpg",
                    "mimetype": "image/jpeg", "dir": "/bench"}
            while True:
                async with http.post(f"/api/v1/datasets/{dataset}/items", json=body) as r:
                    if r.status != 429:  # past the token's rate limit: wait as told
                        assert r.status == 201, await r.text()
                        return
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")))

    await asyncio.gather(*(one(i) for i in range(n)))


async def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("-n", type=int, default=100_000, help="items in the task")
    parser.add_argument("--rate", type=float, default=100, help="status requests/s")
    parser.add_argument("--seconds", type=float, default=20, help="length of the status run")
    args = parser.parse_args()
    with platform(args.url, args.token) as (url, token):
        async with api_session(url, token) as http:
            project = (await (await http.get("/api/v1/projects")).json())["items"][0]
            me = (await (await http.get("/api/v1/users/me")).json())["email"]
            dataset = await (await http.post(f"/api/v1/projects/{project['id']}/datasets",
                                             json={"name": f"bench {time.time():.0f}"})).json()
            t = time.perf_counter()
            await register(http, dataset["id"], args.n)
            print(f"setup: registered {args.n:,} items in {time.perf_counter() - t:.1f} s", flush=True)

            body = {"name": "bench task", "datasetId": dataset["id"], "assignees": [me],
                    "filter": {"dir": "/bench"}}
            t = time.perf_counter()
            task, status = await created_task(http, project["id"], body)
            seconds = time.perf_counter() - t
            print(f"task over {task['totalItems']:,} items created and allocated in {seconds:.2f} s "
                  f"(HTTP {status})", flush=True)

            assignment = (await (await http.get(f"/api/v1/tasks/{task['id']}/assignments")).json())[0]
            page = await (await http.get(f"/api/v1/assignments/{assignment['id']}/items?pageSize=1000")).json()
            items = [row["itemId"] for row in page["items"]]

            async def set_or_clear(session: aiohttp.ClientSession, i: int) -> int:
                path = f"/api/v1/tasks/{task['id']}/items/{items[(i // 2) % len(items)]}/status"
                call = session.put(path, json={"status": "completed"}) if i % 2 == 0 else session.delete(path)
                async with call as r:
                    await r.read()
                    return r.status

            # The first seconds after a task is created pay one-off costs (the task service
            # builds its item -> assignment map; the workflow service seeds the annotators'
            # queues): shown apart, then the steady state the target is about.
            report(f"status set/clear, first {WARM_UP_S:.0f} s after the task was created",
                   int(args.rate * WARM_UP_S), *await open_loop(http, set_or_clear, args.rate, WARM_UP_S))
            report(f"status set/clear open loop at {args.rate:.0f}/s", int(args.rate * args.seconds),
                   *await open_loop(http, set_or_clear, args.rate, args.seconds))


if __name__ == "__main__":
    asyncio.run(main())
