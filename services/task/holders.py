"""Which assignment holds an item, answered from memory on the hot path: a fast path of the
task repository (`MongoTaskRepository.holding`).

An assignment keeps its item ids in one document, so asking the server "who holds item X"
reads documents as long as the task's share of items. This cache keeps, per task, item -> holding assignment (without item lists), built from one read of the
task's held assignments and rebuilt when the task's `allocationVersion` changes (every
change of allocation bumps it). Other replicas see a change within the task cache's second.
Items not held by an assignment (in the hidden queue, or not in the task) fall back to the
repository's query, which only refusals pay.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

LITE = ("_id", "taskId", "annotator", "queue", "removed", "locked", "active")


class Assignments(Protocol):
    """What the cache reads (the MongoDB repository's queries)."""

    async def task(self, task_id: str) -> dict[str, Any] | None: ...
    async def held_assignments(self, task_id: str) -> list[dict[str, Any]]: ...
    async def holder(self, task_id: str, item_id: str) -> dict[str, Any] | None: ...


class HolderCache:
    def __init__(self, repo: Assignments, max_tasks: int = 64) -> None:
        self.repo = repo
        self.max_tasks = max_tasks
        self.maps: dict[str, tuple[int, dict[str, dict[str, Any]]]] = {}
        self.building: dict[tuple[str, int], asyncio.Future[dict[str, dict[str, Any]]]] = {}

    async def holder(self, task: dict[str, Any], item_id: str) -> dict[str, Any] | None:
        version = task.get("allocationVersion", 0)
        entry = self.maps.get(task["_id"])
        held = entry[1] if entry is not None and entry[0] == version else \
            await self._load(task["_id"], version)
        found = held.get(item_id)
        return found if found is not None else await self.repo.holder(task["_id"], item_id)

    async def warm(self, task_id: str) -> None:
        """Build the task's map now (after its allocation changed), so that the first item
        commands do not wait for it."""
        task = await self.repo.task(task_id)
        if task is not None:
            await self._load(task_id, task.get("allocationVersion", 0))

    async def _load(self, task_id: str, version: int) -> dict[str, dict[str, Any]]:
        """One build per task and version, however many commands ask at once."""
        key = (task_id, version)
        if key not in self.building:
            self.building[key] = asyncio.ensure_future(self._build(task_id))
            self.building[key].add_done_callback(lambda _: self.building.pop(key, None))
        held = await asyncio.shield(self.building[key])
        current = self.maps.get(task_id)
        if current is None or current[0] <= version:
            if task_id not in self.maps and len(self.maps) >= self.max_tasks:
                self.maps.pop(next(iter(self.maps)))
            self.maps[task_id] = (version, held)
        return held

    async def _build(self, task_id: str) -> dict[str, dict[str, Any]]:
        held: dict[str, dict[str, Any]] = {}
        for a in await self.repo.held_assignments(task_id):
            lite = {k: a.get(k) for k in LITE}
            for item in a["itemIds"]:
                held[item] = lite
        return held
