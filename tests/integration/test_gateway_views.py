"""The gateway's read models (gateway.views) on the MongoDB-wire server: built from events
alone, an event applied twice changes nothing, an older copy never overwrites a newer one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from gateway.views import AnnotationViews, TaskViews
from shared.contracts.envelope import Actor
from shared.contracts.events import AnnotationDeleted, AnnotationUpdated, ItemClassified
from shared.contracts.tasks import AssignmentFact, ItemsPulled, ItemStatusChanged, TaskChanged

ACTOR = Actor(user_id="u1", email="ann@example.com")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def db(settings: Any) -> Any:
    client: AsyncIOMotorClient = AsyncIOMotorClient(settings.mongodb_url, tz_aware=True)
    yield client[settings.mongodb_db]
    client.close()


def task_json(total: int = 3, name: str = "t") -> dict[str, Any]:
    return {"id": "t1", "name": name, "projectId": "p1", "datasetId": "d1", "recipeId": "r1",
            "creator": "ann@example.com", "createdAt": "x", "updatedAt": "x", "dueDate": None, "priority": 2,
            "availableActions": [{"action": "completed"}], "allocation": "pulling", "singleClass": True,
            "allowNextOnlyOnDone": False, "totalItems": total,
            "metadata": {"system": {"batchSize": 1, "maxBatchWorkload": 2, "allowedAssignees": ["ann@example.com"]}}}


def created(version: int = 1, at: datetime = T0, name: str = "t", queue_next: int = 0,
            mine: list[str] | None = None) -> TaskChanged:
    return TaskChanged(actor=ACTOR, occurred_at=at, task_id="t1", project_id="p1", change="created",
                       task=task_json(name=name), allocation_version=version, assignments=[
                           AssignmentFact(id="q", item_ids=["i1", "i2", "i3"], queue=True, next=queue_next),
                           AssignmentFact(id="a1", annotator="ann@example.com", item_ids=mine or [])])


def status(item: str, value: str | None, at: datetime, previous: str | None = None) -> ItemStatusChanged:
    return ItemStatusChanged(actor=ACTOR, occurred_at=at, task_id="t1", project_id="p1", assignment_id="a1",
                             item_id=item, status=value, previous=previous)


async def test_a_task_its_assignments_and_statuses_are_built_from_events_and_count_once(db: Any) -> None:
    views = TaskViews(db)
    await views.create_indexes()
    pulled = ItemsPulled(actor=ACTOR, occurred_at=T0 + timedelta(seconds=1), task_id="t1", project_id="p1",
                         assignment_id="a1", item_ids=["i1", "i2"], open_items=2, allocation_version=2)
    done = status("i1", "completed", T0 + timedelta(seconds=2))
    facts = [e.wire() for e in (created(), pulled, done)]
    await views.apply(facts)
    await views.apply(facts)  # redelivered: nothing doubles

    assert (await views.task("t1"))["name"] == "t"
    assert [a["_id"] for a in await views.assignments("t1")] == ["a1"]
    assert (await views.assignment("a1", with_items=True))["itemIds"] == ["i1", "i2"]
    assert await views.queue_remaining("t1") == 1
    assert await views.status_counts("t1") == {("a1", "completed"): 1}
    (doc,) = await views.statuses_by_id(["t1:i1"])
    assert doc["status"] == "completed" and doc["creator"] == "ann@example.com"
    assert [e["action"] for e in doc["log"]] == ["created"]
    assert [(a["_id"], a["itemIds"]) for a in await views.holding(["i2"])] == [("a1", ["i1", "i2"])]


async def test_an_older_copy_never_overwrites_a_newer_one(db: Any) -> None:
    views = TaskViews(db)
    later = created(version=3, at=T0 + timedelta(seconds=5), name="renamed", queue_next=3, mine=["i1", "i2", "i3"])
    await views.apply([later.wire()])
    await views.apply([created().wire()])  # an older copy, read late
    stale_pull = ItemsPulled(actor=ACTOR, occurred_at=T0, task_id="t1", project_id="p1", assignment_id="a1",
                             item_ids=["i9"], open_items=1, allocation_version=2)
    await views.apply([stale_pull.wire()])
    assert (await views.task("t1"))["name"] == "renamed"
    assert (await views.assignment("a1", with_items=True))["itemIds"] == ["i1", "i2", "i3"]
    assert await views.queue_remaining("t1") == 0

    newer, older = status("i1", "completed", T0 + timedelta(seconds=9)), status("i1", "discard", T0 + timedelta(seconds=8))
    await views.apply([newer.wire()])
    await views.apply([older.wire(), newer.wire()])
    (doc,) = await views.statuses_by_id(["t1:i1"])
    assert doc["status"] == "completed"  # the newer one stands
    assert len(doc["log"]) == 2  # both changes are in the log, once each
    assert await views.status_counts("t1") == {("a1", "completed"): 1}


def annotation(label: str, at: datetime) -> dict[str, Any]:
    return {"id": "an1", "itemId": "i1", "datasetId": "d1", "type": "class", "label": label,
            "createdAt": at.isoformat(), "metadata": {"system": {}}}


async def test_annotations_follow_their_events_in_any_order(db: Any) -> None:
    views = AnnotationViews(db)
    await views.create_indexes()
    made = ItemClassified(actor=ACTOR, occurred_at=T0, item_id="i1", dataset_id="d1", project_id="p1",
                          annotation=annotation("polo", T0), correlation_id="c1")
    changed = AnnotationUpdated(actor=ACTOR, occurred_at=T0 + timedelta(seconds=1), item_id="i1",
                                project_id="p1", annotation=annotation("tee", T0))
    await views.apply([made.wire(), made.wire(), changed.wire()])
    (doc,) = await views.of_items(["i1"])
    assert doc["label"] == "tee" and doc["_commandId"] == "c1" and doc["_projectId"] == "p1"
    assert (await views.annotation("an1"))["label"] == "tee"

    gone = AnnotationDeleted(actor=ACTOR, occurred_at=T0 + timedelta(seconds=2), item_id="i1", project_id="p1",
                             annotation_id="an1")
    await views.apply([gone.wire(), made.wire()])  # a redelivered creation after the deletion
    assert await views.of_items(["i1"]) == [] and await views.annotation("an1") is None
