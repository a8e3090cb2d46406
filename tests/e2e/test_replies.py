"""Outcomes come back by request/reply: the service that answers a command sends its
outcome to the reply channel the gateway named, and the gateway answers from it without
reading the event streams for it (gateway.outcomes). A classify in a task goes to the task
service, which checks it and passes it on (same id, same reply address) to the annotation
service, whose outcome comes back directly; a refusal is the task service's own reply."""

from __future__ import annotations

import pytest

from tests.e2e.test_tasks import assignments, create_task, items_of, team  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"


def event_streams_unread_for_outcomes(gateway) -> list[str]:
    """Makes the gateway's event reader unable to resolve any request; the commands it was
    asked to look for there are recorded."""
    looked_for: list[str] = []

    def deliver(raws):
        looked_for.extend(gateway.hub.scanned)
        gateway.hub.scanned.clear()
    gateway.hub.deliver = deliver
    return looked_for


async def test_a_classify_is_answered_from_its_reply_not_from_the_event_streams(platform):
    looked_for = event_streams_unread_for_outcomes(platform.gateway)
    r = await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations", {"label": POLO})
    assert r.status_code == 201, r.text
    assert r.json()["label"] == POLO
    assert looked_for == []


async def test_a_classify_in_a_task_and_its_refusal_are_answered_from_their_replies(platform, team):  # noqa: F811
    tokens, _ = team
    task = (await create_task(platform)).json()
    by = await assignments(platform, task["id"])
    mine = (await items_of(platform, by["ann1@example.com"]["id"]))[0]
    theirs = (await items_of(platform, by["ann2@example.com"]["id"]))[0]
    looked_for = event_streams_unread_for_outcomes(platform.gateway)
    made = await platform.post(f"/api/v1/items/{mine}/annotations", {"label": POLO, "taskId": task["id"]},
                               token=tokens["ann1"])
    assert made.status_code == 201, made.text
    assert made.json()["label"] == POLO
    refused = await platform.post(f"/api/v1/items/{theirs}/annotations", {"label": POLO, "taskId": task["id"]},
                                  token=tokens["ann1"])
    assert refused.status_code == 403, refused.text
    assert looked_for == []
    stored = await platform.catalog.db.operations.find_one({"_id": refused.headers["operation-id"]})
    assert stored["status"] == "rejected" and stored["commandType"] == "Classify"


async def test_a_bulk_its_preview_refusal_and_undo_are_answered_from_their_replies(platform, team):  # noqa: F811
    _, items = team
    task = (await create_task(platform)).json()
    looked_for = event_streams_unread_for_outcomes(platform.gateway)
    api = f"/api/v1/tasks/{task['id']}"
    body = {"label": POLO, "itemIds": items[:3], "mode": "classify-and-set-status"}
    preview = await platform.post(f"{api}/bulk-classify/preview", body)
    assert preview.status_code == 200 and preview.json()["total"] == 3, preview.text
    done = await platform.post(f"{api}/bulk-classify", body)
    assert done.status_code == 200 and done.json()["status"] == "completed", done.text
    refused = await platform.post(f"{api}/bulk-classify", body | {"status": "approved"})
    assert refused.status_code == 422, refused.text
    undone = await platform.post(f"{api}/bulk/{done.json()['id']}/undo")
    assert undone.status_code == 200 and undone.json()["removed"] == 3, undone.text
    assert looked_for == []
    stored = await platform.catalog.db.operations.find_one({"_id": done.json()["id"]})
    assert stored["commandType"] == "BulkClassify" and stored["event"]["type"] == "BulkCompleted"
