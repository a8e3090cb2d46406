"""A move's pulls, decided by the workflow service, over HTTP on real servers: a move that
needs a batch the task service refuses is answered as that pull's refusal, under the pull's
id (the id the task service's outcome record is kept by), and the gateway sends no pull."""

from __future__ import annotations

import pytest

from shared.contracts.workflow import pull_id
from tests.e2e.test_tasks import add_member, create_task, register_items
from tests.e2e.workflow_platform import workflow_platform

pytestmark = pytest.mark.e2e


@pytest.fixture
async def platform(settings, monkeypatch):
    async with workflow_platform(settings, monkeypatch) as p:
        yield p


async def test_a_move_whose_pull_is_refused_answers_the_pulls_refusal_under_its_id(platform):
    await add_member(platform, "ann1@example.com", "annotator")
    await register_items(platform, 3)
    task = (await create_task(platform, assignees=["ann1@example.com"], allocation="pulling",
                              batchSize=3, maxBatchWorkload=5)).json()
    r = await platform.post(f"/api/v1/tasks/{task['id']}/next-item", None)  # the owner holds no assignment
    assert r.status_code == 403, r.text
    body, pull = r.json(), r.headers["Operation-Id"]
    assert body["reason"] == "forbidden" and body["operationId"] == pull
    record = await platform.catalog.db.operations.find_one({"_id": pull})
    assert record["commandType"] == "PullItems" and record["status"] == "rejected"
    move = await platform.catalog.db.operations.find_one({"commandType": "MoveOn", "status": "rejected"})
    assert pull_id(move["_id"]) == pull
