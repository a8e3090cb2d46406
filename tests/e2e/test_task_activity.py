"""A task's live activity (`GET /tasks/{id}/activity`) on real servers: a manager sees an
annotator's classification and status change as they happen; an annotator is refused it."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.waiting import eventually

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"


def events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line and not line.startswith(":"))
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


async def test_a_manager_sees_an_annotators_work_in_the_task_live_and_an_annotator_is_refused(platform):
    ann = await platform.add_member("ann1@example.com", "annotator")
    mgr = await platform.add_member("mgr@example.com", "manager")
    item = platform.ids["item"]
    task = (await platform.post(f"/api/v1/projects/{platform.ids['project']}/tasks",
                                {"name": "shirts", "datasetId": platform.ids["dataset"],
                                 "assignees": ["ann1@example.com"]})).json()
    path = f"/api/v1/tasks/{task['id']}/activity"
    refused = await platform.get(path, token=ann, params={"maxEvents": 1})
    assert refused.status_code == 403 and "manager" in refused.text
    feed = asyncio.create_task(platform.client.get(path, params={"maxEvents": 2}, headers=platform.auth(mgr)))
    assert await eventually(lambda: asyncio.sleep(0, task["id"] in platform.gateway.activity.listeners))
    made = await platform.post(f"/api/v1/items/{item}/annotations", {"label": POLO, "taskId": task["id"]}, token=ann)
    assert made.status_code == 201, made.text
    r = await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{item}/status", json={"status": "completed"},
                                  headers=platform.auth(ann))
    assert r.status_code == 200, r.text
    answer = await feed
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    got = events(answer.text)
    assert [kind for kind, _ in got] == ["snapshot", "ItemClassified", "ItemStatusChanged"]
    classified, status = got[1][1], got[2][1]
    assert classified["annotation"]["label"] == POLO and classified["actor"]["email"] == "ann1@example.com"
    assert status["status"] == "completed" and "previous" not in status and status["itemId"] == item
    assert status["actor"]["email"] == "ann1@example.com" and status["assignmentId"]
    assert task["id"] not in platform.gateway.activity.listeners  # closed after maxEvents
