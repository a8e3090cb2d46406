"""Classify in a task's context is checked by the task service, which stores nothing for a
check: a redelivered check forwards the same command again (stored once), and one arriving
after the allocation changed does not refuse a classification already stored."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from bson import ObjectId
from faststream.redis.parser import BinaryMessageFormatV1

from shared.contracts import streams
from shared.contracts.commands import Classify
from shared.contracts.envelope import Actor
from shared.contracts.tasks import CheckInTask
from tests.e2e.test_tasks import assignments, create_task, items_of, team  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"


async def settled(redis, settings) -> None:
    """Until the task service has handled and acknowledged everything on `tasks`."""
    name = streams.stream(streams.TASKS, settings.namespace)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        groups = {g["name"].decode(): g for g in await redis.xinfo_groups(name)}
        group = groups[streams.TASK_GROUP]
        if group["pending"] == 0 and group.get("lag", 0) == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the task service did not settle")


async def refusals(redis, settings, correlation: str) -> list[dict]:
    found = []
    for _, fields in await redis.xrange(streams.stream(streams.TASK_EVENTS, settings.namespace)):
        body = json.loads(BinaryMessageFormatV1.parse(fields[b"__data__"])[0])
        if body.get("type") == "CommandRejected" and body.get("correlationId") == correlation:
            found.append(body)
    return found


async def test_a_redelivered_check_stores_the_classification_once_and_never_refuses_it_later(
        platform, team, redis, settings):
    task = (await create_task(platform)).json()
    ann1 = await platform.catalog.db.users.find_one({"email": "ann1@example.com"})
    actor = Actor(user_id=ann1["_id"], email="ann1@example.com", role="annotator")
    source = (await assignments(platform, task["id"]))["ann1@example.com"]
    item = (await items_of(platform, source["id"]))[0]
    classify = Classify(actor=actor, annotation_id=str(ObjectId()), item_id=item,
                        dataset_id=platform.ids["dataset"], project_id=platform.ids["project"],
                        recipe_id=platform.ids["recipe"], label=POLO)
    check = CheckInTask(actor=actor, task_id=task["id"], project_id=platform.ids["project"], command=classify)
    publisher = platform.gateway.publishers[streams.TASKS]
    for _ in range(2):
        await publisher.publish(check.wire(), correlation_id=check.id)
    await settled(redis, settings)
    deadline = time.monotonic() + 10
    while await platform.catalog.db.operations.count_documents({"_id": classify.id}) == 0:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    assert await platform.catalog.db.annotations.count_documents({"itemId": item}) == 1

    r = await platform.post(f"/api/v1/assignments/{source['id']}/reassign", {"annotator": "ann3@example.com"})
    assert r.status_code == 200, r.text
    await publisher.publish(check.wire(), correlation_id=check.id)  # a late redelivery
    await settled(redis, settings)
    assert await refusals(redis, settings, classify.id) == []
    assert await platform.catalog.db.annotations.count_documents({"itemId": item}) == 1


async def test_an_annotator_changes_and_removes_annotations_on_their_own_items_in_a_task(platform, team):
    tokens, _ = team
    task = (await create_task(platform)).json()
    by = await assignments(platform, task["id"])
    mine = (await items_of(platform, by["ann1@example.com"]["id"]))[0]
    theirs = (await items_of(platform, by["ann2@example.com"]["id"]))[0]
    made = await platform.post(f"/api/v1/items/{mine}/annotations", {"label": POLO, "taskId": task["id"]},
                               token=tokens["ann1"])
    assert made.status_code == 201, made.text
    annotation = made.json()["id"]
    outside = await platform.request("PATCH", f"/api/v1/annotations/{annotation}", token=tokens["ann1"],
                                     json={"label": "men's clothes.jeans"})
    assert outside.status_code == 403 and "taskId" in outside.json()["detail"]
    changed = await platform.request("PATCH", f"/api/v1/annotations/{annotation}?taskId={task['id']}",
                                     token=tokens["ann1"], json={"label": "men's clothes.jeans"})
    assert changed.status_code == 200, changed.text
    assert (await platform.get(f"/api/v1/annotations/{annotation}")).json()["label"] == "men's clothes.jeans"
    # someone else's item in the task: refused by the task service, nothing changed
    other = await platform.post(f"/api/v1/items/{theirs}/annotations", {"label": POLO, "taskId": task["id"]},
                                token=tokens["ann2"])
    refused = await platform.request("DELETE", f"/api/v1/annotations/{other.json()['id']}?taskId={task['id']}",
                                     token=tokens["ann1"])
    assert refused.status_code == 403, refused.text
    assert (await platform.get(f"/api/v1/annotations/{other.json()['id']}")).status_code == 200
    removed = await platform.request("DELETE", f"/api/v1/annotations/{annotation}?taskId={task['id']}",
                                     token=tokens["ann1"])
    assert removed.status_code == 204, removed.text
    assert (await platform.get(f"/api/v1/annotations/{annotation}")).status_code == 404
