"""What asking an owner costs (gateway.owners), in one process: p50/p99 of one ask (`task`,
`of_items` for 1 and 50 items) beside the same read made directly on MongoDB, and of
GET /items/{id} and GET /tasks/{id}, whose data the gateway asks the task and annotation
services for. The services run in the same event loop as the gateway (tests.platform), on
the embedded Redis and MongoDB-wire servers (tests.servers).

    python bench/owner_asks.py [rounds]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from shared.platform.mongo import find_in
from shared.platform.settings import Settings
from tests.platform import running_platform
from tests.servers import mongodb_server, redis_server

POLO = "men's clothes.polo shirts"
LIVE = {"_deleted": {"$exists": False}}


async def timed(name: str, rounds: int, call: Callable[[], Awaitable[Any]]) -> None:
    for _ in range(20):  # warm
        await call()
    took = []
    for _ in range(rounds):
        started = time.perf_counter()
        await call()
        took.append((time.perf_counter() - started) * 1000)
    q = statistics.quantiles(took, n=100, method="inclusive")
    print(f"{name:<34} p50 {q[49]:6.2f} ms   p99 {q[98]:6.2f} ms", flush=True)


async def main(rounds: int) -> None:
    with redis_server() as redis_url, mongodb_server() as mongodb_url:
        tag = uuid.uuid4().hex[:10]
        settings = Settings(REDIS_URL=redis_url, MONGODB_URL=mongodb_url, MONGODB_DB=f"b_{tag}",
                            STREAM_NAMESPACE=f"b{tag}", PUBLIC_URL="http://testserver")
        async with running_platform(settings) as p:
            await p.seed()
            items = [p.ids["item"]]
            for i in range(49):
                r = await p.post(f"/api/v1/datasets/{p.ids['dataset']}/items",
                                 {"name": f"img{i:03d}.jpg", "url": f"http://example.com/{i}.jpg",
                                  "mimetype": "image/jpeg"})
                items.append(r.json()["id"])
            for item in items:
                assert (await p.post(f"/api/v1/items/{item}/annotations", {"label": POLO})).status_code == 201
            r = await p.post(f"/api/v1/projects/{p.ids['project']}/tasks",
                             {"name": "shirts", "datasetId": p.ids["dataset"], "assignees": ["owner@example.com"],
                              "itemIds": items})
            task = r.json().get("task", r.json())["id"] if r.status_code == 201 else r.json()
            assert isinstance(task, str), r.text
            db, owners = p.catalog.db, p.gateway.owners
            await timed("direct  tasks.find_one", rounds, lambda: db.tasks.find_one({"_id": task}))
            await timed("ask     task", rounds, lambda: owners.task.one("task", taskId=task))
            await timed("direct  annotations of 1 item", rounds, lambda: find_in(
                db.annotations, "itemId", items[:1], LIVE, sort=[("createdAt", 1)]))
            await timed("ask     of_items, 1 item", rounds, lambda: owners.annotation.one("of_items", itemIds=items[:1]))
            await timed("direct  annotations of 50 items", rounds, lambda: find_in(
                db.annotations, "itemId", items, LIVE, sort=[("createdAt", 1)]))
            await timed("ask     of_items, 50 items", rounds, lambda: owners.annotation.one("of_items", itemIds=items))
            await timed("GET /items/{id}", rounds, lambda: p.get(f"/api/v1/items/{items[0]}"))
            await timed("GET /items/{id}/annotations", rounds, lambda: p.get(f"/api/v1/items/{items[0]}/annotations"))
            await timed("GET /tasks/{id}", rounds, lambda: p.get(f"/api/v1/tasks/{task}"))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
