"""Which assignment holds an item, answered from memory on the hot path.

An assignment keeps its item ids in one document; with 100,000 items, reading that
document to answer "who holds item X" costs ~20 ms on the embedded server. This cache keeps,
per task, item -> holding assignment (without item lists), built from one read of the
task's held assignments and rebuilt when the task's `allocationVersion` changes (every
change of allocation bumps it). Other replicas see a change within the task cache's second.
Items not held by an assignment (in the hidden queue, or not in the task) fall back to the
repository's query, which only refusals pay.
"""

from __future__ import annotations

from typing import Any

from services.task.repository import MongoTaskRepository

LITE = ("_id", "taskId", "annotator", "queue", "removed", "locked", "active")


class HolderCache:
    def __init__(self, repo: MongoTaskRepository, max_tasks: int = 64) -> None:
        self.repo = repo
        self.max_tasks = max_tasks
        self.maps: dict[str, tuple[int, dict[str, dict[str, Any]]]] = {}

    async def holder(self, task: dict[str, Any], item_id: str) -> dict[str, Any] | None:
        version = task.get("allocationVersion", 0)
        entry = self.maps.get(task["_id"])
        if entry is None or entry[0] != version:
            entry = (version, await self._build(task["_id"]))
            if len(self.maps) >= self.max_tasks:
                self.maps.pop(next(iter(self.maps)))
            self.maps[task["_id"]] = entry
        found = entry[1].get(item_id)
        return found if found is not None else await self.repo.holder(task["_id"], item_id)

    async def _build(self, task_id: str) -> dict[str, dict[str, Any]]:
        held: dict[str, dict[str, Any]] = {}
        for a in await self.repo.held_assignments(task_id):
            lite = {k: a.get(k) for k in LITE}
            for item in a["itemIds"]:
                held[item] = lite
        return held
