"""The task browser's item list over HTTP: pages of 200 of a 100,000-item task, filtered.

    python bench/task_items.py            # starts the platform with the embedded servers
    python bench/task_items.py --url http://127.0.0.1:8000 --token <an API token> \\
        --mongodb-url mongodb://127.0.0.1:27017 --mongodb-db classifier

Builds the world fast: the items are inserted into the catalog directly (motor bulk inserts),
the task is created over HTTP (the task service allocates them to four annotators), and
bulks over HTTP give 40% of them a class and 30% the status `completed`. Then prints the
first-use time of `GET /tasks/{id}/items` (the gateway builds its index of the task) and
p50/p95/p99 of pages of 200 per filter, first page and middle page (target: p95 < 100 ms).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import api_session, arguments, created_task, path_of, percentiles, platform  # noqa: E402

ANNOTATORS = [f"browse{n}@example.com" for n in range(4)]
LABELS = {"tops": ["polo", "tee", "shirt"], "bottoms": ["jeans", "shorts"]}
FOLDERS = [f"/batch{n}" for n in range(10)]
ROUNDS = 60


async def world(http: aiohttp.ClientSession, db: Any, n: int) -> tuple[str, int]:
    """A task over `n` items, four annotators, classes and statuses; its id and the middle page."""
    project = (await (await http.get("/api/v1/projects")).json())["items"][0]
    ontology = {"roots": [{"value": {"tag": top}, "children": [{"value": {"tag": c}} for c in kids]}
                          for top, kids in LABELS.items()]}
    recipe = await (await http.post(f"/api/v1/projects/{project['id']}/recipes",
                                    json={"title": "browse", "ontology": ontology})).json()
    dataset = await (await http.post(f"/api/v1/projects/{project['id']}/datasets",
                                     json={"name": f"browse {time.time():.0f}", "recipeId": recipe["id"]})).json()
    for email in ANNOTATORS:
        r = await http.post(f"/api/v1/projects/{project['id']}/members", json={"email": email, "role": "annotator"})
        assert r.status in (200, 201, 409), await r.text()
    t = time.perf_counter()
    ids = [str(ObjectId()) for _ in range(n)]
    docs = [{"_id": i, "datasetId": dataset["id"], "projectId": project["id"], "name": f"img-{k:06d}.jpg",
             "dir": FOLDERS[k % len(FOLDERS)], "filename": f"{FOLDERS[k % len(FOLDERS)]}/img-{k:06d}.jpg",
             "createdAt": f"2024-01-01T00:{k // 6000 % 60:02d}:{k // 100 % 60:02d}.{k % 1000:03d}Z",
             "creator": "bench", "metadata": {"system": {"mimetype": "image/jpeg"}, "user": {}},
             "sourceUrl": f"http://example.com/{k}.jpg"} for k, i in enumerate(ids)]
    for at in range(0, n, 10_000):
        await db.items.insert_many(docs[at:at + 10_000], ordered=False)
    task, _ = await created_task(http, project["id"], {"name": "browse bench", "datasetId": dataset["id"],
                                                       "assignees": ANNOTATORS, "singleClass": False})
    print(f"setup: {n:,} items inserted and a task created in {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    tenth = n // 10
    for part, label, mode in ((ids[:tenth], "tops.polo", "classify-and-set-status"),
                              (ids[tenth:2 * tenth], "tops.tee", "classify-and-set-status"),
                              (ids[2 * tenth:3 * tenth], "bottoms.jeans", "classify-and-set-status"),
                              (ids[3 * tenth:4 * tenth], "bottoms.shorts", "classify")):
        for at in range(0, len(part), 10_000):
            await bulk(http, task["id"], {"itemIds": part[at:at + 10_000], "label": label, "mode": mode})
    print(f"setup: {4 * tenth:,} items classified, {3 * tenth:,} completed in {time.perf_counter() - t:.1f} s",
          flush=True)
    return task["id"], n // 2 // 200


async def bulk(http: aiohttp.ClientSession, task_id: str, body: dict[str, Any]) -> None:
    async with http.post(f"/api/v1/tasks/{task_id}/bulk-classify", json=body) as r:
        answer = await r.json()
        assert r.status in (200, 202), answer
    while answer.get("status") != "completed" and answer.get("state") != "completed":
        await asyncio.sleep(0.1)
        answer = await (await http.get(path_of(answer["url"]), params={"pageSize": 1})).json()


FILTERS: dict[str, dict[str, str]] = {
    "no filter": {},
    "status=completed": {"status": "completed"},
    "status=none": {"status": "none"},
    "label=tops (parent)": {"label": "tops"},
    "label=bottoms.jeans": {"label": "bottoms.jeans"},
    "assignee": {"assignee": ANNOTATORS[1]},
    "annotated=false": {"annotated": "false"},
    "name~'-0123'": {"name": "-0123"},
    "dir=/batch3": {"dir": "/batch3"},
    "combined, -createdAt": {"status": "none", "annotated": "true", "dir": "/batch3", "assignee": ANNOTATORS[1],
                             "sort": "-createdAt"},
}


async def measure(http: aiohttp.ClientSession, task_id: str, middle: int) -> None:
    for name, params in FILTERS.items():
        for where, page in (("first", 0), ("middle", middle)):
            latencies, total = [], 0
            for _ in range(ROUNDS):
                t = time.perf_counter()
                async with http.get(f"/api/v1/tasks/{task_id}/items",
                                    params=params | {"page": str(page), "pageSize": "200"}) as r:
                    body = await r.json()
                latencies.append(time.perf_counter() - t)
                assert r.status == 200, body
                total = body["totalItemsCount"]
            p = percentiles(latencies)
            print(f"  {name:24s} {where:6s} page ({total:>7,} match): ms p50 {p['p50']:5.1f}  "
                  f"p95 {p['p95']:5.1f}  p99 {p['p99']:5.1f}", flush=True)
    latencies = []
    for _ in range(10):
        t = time.perf_counter()
        async with http.get(f"/api/v1/tasks/{task_id}/items/ids", params={"status": "none"}) as r:
            count = (await r.json())["totalItemsCount"]
        latencies.append(time.perf_counter() - t)
    print(f"  ids of status=none ({count:,} ids): ms median {sorted(latencies)[5] * 1000:.0f}", flush=True)


async def rebuilt(http: aiohttp.ClientSession, task_id: str) -> None:
    """An item added to the task: the gateway cannot follow that from the event, so the next
    list waits for a rebuild (which reads only the items it does not know)."""
    task = await (await http.get(f"/api/v1/tasks/{task_id}")).json()
    r = await http.post(f"/api/v1/datasets/{task['datasetId']}/items",
                        json={"name": "late.jpg", "url": "http://example.com/late.jpg", "mimetype": "image/jpeg"})
    item = (await r.json())["id"]
    async with http.post(f"/api/v1/tasks/{task_id}/items", json={"itemIds": [item]}) as r:
        answer, status = await r.json(), r.status
        assert status in (200, 202), answer
    while status == 202 and (await (await http.get(path_of(answer["url"]))).json())["status"] == "pending":
        await asyncio.sleep(0.05)  # past the gateway's wait: the task service still adds it
    t = time.perf_counter()
    async with http.get(f"/api/v1/tasks/{task_id}/items", params={"name": "late"}) as r:
        total = (await r.json())["totalItemsCount"]
    print(f"an item added to the task (HTTP {status}), the next list (a rebuild): "
          f"{time.perf_counter() - t:.2f} s (listed: {total == 1})", flush=True)


async def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("-n", type=int, default=100_000, help="items in the task")
    parser.add_argument("--mongodb-url", help="the platform's MongoDB (with --url)")
    parser.add_argument("--mongodb-db", default="classifier")
    args = parser.parse_args()
    found: dict[str, str] = {}
    with platform(args.url, args.token, found) as (url, token):
        mongo = AsyncIOMotorClient(args.mongodb_url or found["mongodb"], tz_aware=True)
        async with api_session(url, token) as http:
            task_id, middle = await world(http, mongo[args.mongodb_db], args.n)
            t = time.perf_counter()
            async with http.get(f"/api/v1/tasks/{task_id}/items", params={"pageSize": "200"}) as r:
                assert r.status == 200, await r.text()
            print(f"first use (the gateway builds the task's index from MongoDB): "
                  f"{time.perf_counter() - t:.2f} s", flush=True)
            print(f"pages of 200, {ROUNDS} requests each, one at a time (target p95 < 100 ms):", flush=True)
            await measure(http, task_id, middle)
            await rebuilt(http, task_id)
        mongo.close()


if __name__ == "__main__":
    asyncio.run(main())
