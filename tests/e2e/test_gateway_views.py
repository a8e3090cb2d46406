"""The gateway answers the task and item views from read models it keeps from events
(gateway.views): with no task or annotation service running at all, the facts put on the
event streams are what a task, an item's task refs and status log, and its annotations show;
an event delivered twice shows once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from shared.contracts import streams
from shared.contracts.envelope import Actor
from shared.contracts.events import ItemClassified
from shared.contracts.tasks import AssignmentFact, ItemStatusChanged, TaskChanged
from tests.platform import running_platform


@pytest.fixture
async def bare_platform(settings: Any) -> Any:
    async with running_platform(settings, services=False) as p:  # no owner answers anything
        await p.seed()
        yield p


def task_json(p: Any, task_id: str, owner: str) -> dict[str, Any]:
    return {"id": task_id, "name": "from events", "projectId": p.ids["project"], "datasetId": p.ids["dataset"],
            "recipeId": p.ids["recipe"], "creator": owner, "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z", "dueDate": None, "priority": 2,
            "availableActions": [{"action": "completed"}, {"action": "discard"}], "allocation": "distribution",
            "singleClass": True, "allowNextOnlyOnDone": False, "totalItems": 1,
            "metadata": {"system": {"batchSize": 1, "maxBatchWorkload": 2, "allowedAssignees": [owner]}}}


async def eventually(check: Any, timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = await check()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def test_the_views_are_built_from_events_and_answer_without_their_owners(bare_platform: Any, settings: Any) -> None:
    p = bare_platform
    me = (await p.get("/api/v1/users/me")).json()
    actor = Actor(user_id=me["id"], email=me["email"], role="owner")
    item = p.ids["item"]
    made = TaskChanged(actor=actor, task_id="t-views", project_id=p.ids["project"], change="created",
                       task=task_json(p, "t-views", me["email"]), allocation_version=1,
                       assignments=[AssignmentFact(id="a-views", annotator=me["email"], item_ids=[item])])
    done = ItemStatusChanged(actor=actor, task_id="t-views", project_id=p.ids["project"],
                             assignment_id="a-views", item_id=item, status="completed")
    classified = ItemClassified(actor=actor, item_id=item, dataset_id=p.ids["dataset"], project_id=p.ids["project"],
                                annotation={"id": "an-views", "itemId": item, "datasetId": p.ids["dataset"],
                                            "type": "class", "label": "men's clothes.polo shirts",
                                            "creator": me["email"], "updatedBy": me["email"],
                                            "createdAt": "2026-01-01T00:00:00.000Z",
                                            "updatedAt": "2026-01-01T00:00:00.000Z", "metadata": {"system": {}}})
    broker = p.gateway.broker
    task_events = streams.stream(streams.TASK_EVENTS, settings.namespace)
    for event in (made, done, done):  # the status delivered twice
        await broker.publish(event.wire(), stream=task_events)
    await broker.publish(classified.wire(), stream=streams.stream(streams.ANNOTATION_EVENTS, settings.namespace))

    async def task() -> Any:
        r = await p.get("/api/v1/tasks/t-views")
        return r.json() if r.status_code == 200 and r.json()["itemStatus"]["completed"] else None

    view = await eventually(task)
    assert view is not None, "the task never showed"
    assert view["itemStatus"]["completed"] == 1 and view["assignmentIds"] == ["a-views"]
    shown = (await p.get(f"/api/v1/items/{item}")).json()["metadata"]["system"]
    assert [(r["type"], r["id"], r["metadata"].get("status")) for r in shown["refs"]] == [
        ("task", "t-views", "completed"), ("assignment", "a-views", "completed")]
    assert [e["status"]["status"] for e in shown["taskStatusLog"]] == ["completed"]
    annotations = (await p.get(f"/api/v1/items/{item}/annotations")).json()
    assert annotations["annotationsCount"] == 1
