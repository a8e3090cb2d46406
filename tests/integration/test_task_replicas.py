"""Two task-service replicas on one MongoDB-wire server making assignments at once: each
annotator gets an assignment of their own (tests/e2e/test_replicas.py runs the replicas as
processes; this is the race it is unlikely to hit)."""

from __future__ import annotations

import asyncio

import pytest

from services.task.handlers import assignments_for
from services.task.repository import connect

pytestmark = pytest.mark.integration


async def test_two_replicas_making_assignments_for_two_annotators_at_once_make_two(settings):
    repos = [connect(settings.mongodb_url, settings.mongodb_db) for _ in range(2)]
    try:
        task = {"_id": "t1", "projectId": "p1"}
        await repos[0].insert_task(task, [])
        a, b = repos
        made = await asyncio.gather(assignments_for(a, task, ["ann1@example.com"]),
                                    assignments_for(b, task, ["ann2@example.com"]),
                                    assignments_for(a, task, ["ann2@example.com"]))
        stored = {d["_id"]: d["annotator"] async for d in repos[0].db.assignments.find({"taskId": "t1"})}
        assert sorted(stored.values()) == ["ann1@example.com", "ann2@example.com"]
        assert stored[made[0]["ann1@example.com"]["_id"]] == "ann1@example.com"
        assert made[1]["ann2@example.com"]["_id"] == made[2]["ann2@example.com"]["_id"]  # one, made twice
    finally:
        for repo in repos:
            repo.close()
