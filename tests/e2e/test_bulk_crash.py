"""A 10,000-item bulk whose task and annotation services are killed (SIGKILL) while they
write it still finishes after they restart, exactly once per item: one class annotation
and one status entry per item, counts not doubled, one event id per item's change."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections import Counter

import pytest
from faststream.redis.parser import BinaryMessageFormatV1

from shared.contracts import streams
from shared.contracts.bulk import items_correlation
from tests.e2e.processes import service
from tests.e2e.test_tasks import create_task

pytestmark = pytest.mark.e2e

N = 10_000
POLO = "men's clothes.polo shirts"


async def register_many(platform, n: int) -> list[str]:
    """N items in the dataset: one through the API, the rest copies of its stored document
    (setup, not under test)."""
    # read from the catalog, not GET /items/{id}: an item's view asks the task service for
    # its task refs, and the platform may run without its services yet
    doc = await platform.catalog.db.items.find_one({"_id": platform.ids["item"]})
    copies = [doc | {"_id": f"{i:024x}", "name": f"img{i:05d}.jpg", "filename": f"/img{i:05d}.jpg"}
              for i in range(1, n)]
    await platform.catalog.db.items.insert_many(copies)
    return [doc["_id"]] + [c["_id"] for c in copies]


async def kill_midway(proc: subprocess.Popen, written, what: str) -> int:
    """SIGKILL `proc` as soon as some, not all, of its writes are there; how many were."""
    deadline = time.monotonic() + 60
    while (done := await written()) == 0:
        assert time.monotonic() < deadline, f"no {what} written"
        await asyncio.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    return done


def events(entries: list, kind: str, correlation: str) -> list[dict]:
    found = []
    for _, fields in entries:
        body = json.loads(BinaryMessageFormatV1.parse(fields[b"__data__"])[0])
        if body.get("type") == kind and body.get("correlationId") == correlation:
            found.append(body)
    return found


@pytest.fixture
async def bare_platform(settings):
    from tests.platform import running_platform

    async with running_platform(settings, services=False) as p:
        await p.seed()
        yield p


async def test_a_bulk_finishes_exactly_once_per_item_after_its_services_are_killed_midway(
        bare_platform, settings, redis):
    platform, db = bare_platform, bare_platform.catalog.db
    items = await register_many(platform, N)
    owner = (await platform.get("/api/v1/users/me")).json()["email"]
    # A bulk is linear: the statuses are written first, then the classes
    # (services/task/bulk/handlers.py, then services/annotation/bulk/handlers.py): the task
    # service dies midway through the statuses, comes back and finishes them, then the
    # annotation service dies midway through the classes; both come back.
    with service("annotation", settings, 1) as ann_svc:
        with service("task", settings, 1) as task_svc:
            task = (await create_task(platform, assignees=[owner], singleClass=True)).json()
            if "url" in task:  # past the gateway's wait: the created task is in the operation
                while (op := (await platform.get("/" + task["url"].split("/", 3)[3])).json())["status"] == "pending":
                    await asyncio.sleep(0.05)
                task = op["result"]["task"]
            request = asyncio.ensure_future(platform.post(
                f"/api/v1/tasks/{task['id']}/bulk-classify",
                {"label": POLO, "itemIds": items, "mode": "classify-and-set-status"}))
            statuses_then = await kill_midway(
                task_svc, lambda: db.item_statuses.count_documents({"taskId": task["id"]}), "status")
        with service("task", settings, 2):
            classes_then = await kill_midway(ann_svc, lambda: db.annotations.count_documents({}), "annotation")
            answer = await request
    assert 0 < statuses_then < N and 0 < classes_then < N, "the services were not killed midway"
    bulk_id = answer.json()["id"]

    with service("task", settings, 3), service("annotation", settings, 2):
        deadline = time.monotonic() + 120
        while (view := (await platform.get(f"/api/v1/tasks/{task['id']}/bulk/{bulk_id}",
                                           params={"pageSize": 1})).json())["state"] != "completed":
            assert time.monotonic() < deadline, view
            await asyncio.sleep(0.2)
        # asked of the task service: read while it runs
        progress = (await platform.get(f"/api/v1/tasks/{task['id']}")).json()["itemStatus"]

    live = Counter([a["itemId"] async for a in db.annotations.find(
        {"_deleted": {"$exists": False}, "type": "class"}, {"itemId": 1})])
    assert len(live) == N and set(live.values()) == {1}
    labels = await db.annotations.distinct("label", {"_deleted": {"$exists": False}})
    assert labels == [POLO]
    docs = [d async for d in db.item_statuses.find({"taskId": task["id"]})]
    assert len(docs) == N and {d["status"] for d in docs} == {"completed"}
    assert {len(d["log"]) for d in docs} == {1}, "an item's status was logged twice"
    assert progress["completed"] == N and progress["remaining"] == 0

    correlation = items_correlation(bulk_id)
    for stream, kind in ((streams.TASK_EVENTS, "ItemStatusChanged"),
                         (streams.ANNOTATION_EVENTS, "ItemClassified")):
        found = events(await redis.xrange(streams.stream(stream, settings.namespace)), kind, correlation)
        per_id = {e["id"]: e["itemId"] for e in found}  # a replay re-publishes the same id
        assert sorted(per_id.values()) == sorted(items), kind
    completed = events(await redis.xrange(streams.stream(streams.TASK_EVENTS, settings.namespace)),
                       "BulkCompleted", bulk_id)
    assert len({e["id"] for e in completed}) == 1
