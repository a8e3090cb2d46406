"""A bulk's statuses on a real MongoDB-wire server: which statuses it replaces is found as
they are written (every item's document inserted, those already there read), stored before
any existing one is changed, and a redelivery at any point changes each item once."""

from __future__ import annotations

from typing import Any

import pytest

from services.task.bulk.handlers import Statuses
from services.task.repository import connect
from shared.platform.messaging import Prepared

pytestmark = pytest.mark.integration

BULK = "bulk-1"
ACTOR = {"userId": "u1", "email": "manager@example.com", "role": "manager"}


class Published:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def __call__(self, batch: Any) -> None:
        self.events += batch.entries if isinstance(batch, Prepared) else batch


@pytest.fixture
async def bulk(settings):
    repo = connect(settings.mongodb_url, settings.mongodb_db)
    published = Published()
    handlers = Statuses(repo, published)
    yield handlers, repo.db, published
    repo.close()


def record(items: list[str]) -> dict[str, Any]:
    return {"_id": BULK, "taskId": "t1", "projectId": "p1", "actor": ACTOR, "status": "completed",
            "at": "2026-12-02T07:00:00.000Z", "items": [[i, "a1"] for i in items]}


def status_doc(item: str, status: str | None, by: str) -> dict[str, Any]:
    return {"_id": f"t1:{item}", "taskId": "t1", "itemId": item, "assignmentId": "a1", "status": status,
            "creator": "someone@example.com", "timestamp": "2026-12-01T00:00:00.000Z",
            "lastCommandId": by, "log": [{"action": "created", "status": {"status": status}}]}


async def test_the_changes_are_found_as_the_statuses_are_written(bulk):
    handlers, db, published = bulk
    await db.item_statuses.insert_many([
        status_doc("b", "discard", "someone-else"),   # replaced
        status_doc("c", "completed", "someone-else"),  # already so: left
        status_doc("d", "completed", BULK),            # this bulk inserted it before a crash
        status_doc("e", None, "someone-else"),         # cleared: its document stays
    ])
    plan = record(["a", "b", "c", "d", "e"])
    changes = await handlers._write_statuses(plan, await handlers._status_writes(plan))

    assert changes == [["a", "a1", None, False], ["b", "a1", "discard", True],
                       ["d", "a1", None, False], ["e", "a1", None, True]]
    stored = await db.bulk_status_changes.find_one({"_id": BULK})
    assert stored["statusChanges"] == changes
    docs = {d["itemId"]: d async for d in db.item_statuses.find({"taskId": "t1"})}
    assert {i: d["status"] for i, d in docs.items()} == dict.fromkeys("abcde", "completed")
    assert {i: len(d["log"]) for i, d in docs.items()} == {"a": 1, "b": 2, "c": 1, "d": 1, "e": 2}
    assert [(e.item_id, e.previous) for e in published.events] == [
        ("a", None), ("d", None), ("b", "discard"), ("e", None)]


async def test_a_redelivery_after_the_changes_were_stored_changes_each_item_once(bulk):
    handlers, db, published = bulk
    await db.item_statuses.insert_one(status_doc("b", "discard", "someone-else"))
    plan = record(["a", "b"])
    first = await handlers._write_statuses(plan, await handlers._status_writes(plan))
    # Redelivered: the plan now carries the changes found the first time.
    stored = await db.bulk_status_changes.find_one({"_id": BULK})
    again = plan | {"statusChanges": stored["statusChanges"]}
    assert await handlers._write_statuses(again, await handlers._status_writes(again)) == first
    docs = {d["itemId"]: d async for d in db.item_statuses.find({"taskId": "t1"})}
    assert {i: len(d["log"]) for i, d in docs.items()} == {"a": 1, "b": 2}
    assert [e.id for e in published.events[2:]] == [e.id for e in published.events[:2]]  # the same events
