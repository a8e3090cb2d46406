"""The task service's item -> assignment map: built once per allocation, however many
commands ask at once, and ahead of them when the allocation changes."""

from __future__ import annotations

import asyncio

import pytest

from services.task.holders import HolderCache

pytestmark = pytest.mark.unit


class Assignments:
    def __init__(self) -> None:
        self.reads, self.version = 0, 0

    async def held_assignments(self, task_id: str) -> list[dict]:
        self.reads += 1
        await asyncio.sleep(0.01)
        return [{"_id": "a1", "taskId": task_id, "annotator": "ann1", "itemIds": ["i1", "i2"]}]

    async def task(self, task_id: str) -> dict:
        return {"_id": task_id, "allocationVersion": self.version}

    async def holder(self, task_id: str, item_id: str) -> None:
        return None


async def test_commands_arriving_together_wait_for_one_build():
    repo = Assignments()
    cache = HolderCache(repo)  # type: ignore[arg-type]
    task = {"_id": "t1", "allocationVersion": 0}
    found = await asyncio.gather(*(cache.holder(task, "i1") for _ in range(20)))
    assert repo.reads == 1 and {f["_id"] for f in found} == {"a1"}


async def test_warming_builds_the_new_allocation_before_anyone_asks():
    repo = Assignments()
    cache = HolderCache(repo)  # type: ignore[arg-type]
    await cache.holder({"_id": "t1", "allocationVersion": 0}, "i1")
    repo.version = 1
    await cache.warm("t1")
    assert repo.reads == 2
    await cache.holder({"_id": "t1", "allocationVersion": 1}, "i2")
    assert repo.reads == 2
