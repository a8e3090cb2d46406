"""Read models of the task service's collections (tasks, assignments, item statuses); the
gateway never writes them. Uses the catalog's database handle."""

from __future__ import annotations

from typing import Any

from cachetools import TTLCache

from gateway.cache import read_through
from shared.platform.mongo import find_in
from shared.rules.progress import progress_counts, status_count_pipeline

ASC = 1


class TaskReads:
    def __init__(self, db: Any, ttl: float = 2.0) -> None:
        self.db = db
        # The gateway reads only a task's immutable facts (project, dataset, recipe,
        # allocation) on the hot path; what changes is checked by the task service.
        self.cache: TTLCache[str, Any] = TTLCache(10_000, ttl)

    async def task(self, task_id: str) -> dict[str, Any] | None:
        return await read_through(self.cache, task_id, lambda: self.fresh_task(task_id))

    async def fresh_task(self, task_id: str) -> dict[str, Any] | None:
        return await self.db.tasks.find_one({"_id": task_id})

    async def tasks(self, query: dict[str, Any], skip: int, limit: int) -> tuple[list[dict], int]:
        total = await self.db.tasks.count_documents(query)
        cursor = self.db.tasks.find(query).sort("_id", ASC).skip(skip).limit(limit)
        return [d async for d in cursor], total

    async def assignments(self, task_id: str, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The task's assignments (not its hidden queue), each with `totalItems`, without ids."""
        cursor = self.db.assignments.aggregate([
            {"$match": {"taskId": task_id, "queue": {"$ne": True}} | (query or {})},
            {"$addFields": {"totalItems": {"$size": "$itemIds"}}},
            {"$project": {"itemIds": 0}},
            {"$sort": {"_id": ASC}},
        ])
        return [d async for d in cursor]

    async def assignment(self, assignment_id: str, with_items: bool = False) -> dict[str, Any] | None:
        if with_items:
            return await self.db.assignments.find_one({"_id": assignment_id, "queue": {"$ne": True}})
        found = await self.db.assignments.aggregate([
            {"$match": {"_id": assignment_id, "queue": {"$ne": True}}},
            {"$addFields": {"totalItems": {"$size": "$itemIds"}}},
            {"$project": {"itemIds": 0}},
        ]).to_list(1)
        return found[0] if found else None

    async def queue_remaining(self, task_id: str) -> int:
        queue = await self.db.assignments.find_one({"taskId": task_id, "queue": True})
        return max(0, len(queue["itemIds"]) - queue["next"]) if queue else 0

    async def status_counts(self, task_id: str) -> dict[tuple[str, str], int]:
        """(assignment, status) -> items, as the task service counts them (`task_progress`);
        for a task it has not counted yet, from the status documents."""
        progress = await self.db.task_progress.find_one({"_id": task_id}, {"counts": 1})
        if progress is not None:
            return progress_counts(progress)
        cursor = self.db.item_statuses.aggregate(status_count_pipeline(task_id))
        return {(d["_id"]["a"], d["_id"]["s"]): d["n"] async for d in cursor}

    async def statuses(self, task_id: str, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        docs = await find_in(self.db.item_statuses, "_id", [f"{task_id}:{i}" for i in item_ids])
        return {d["itemId"]: d for d in docs}

    async def memberships(self, item_ids: list[str] | None = None, dataset_id: str | None = None
                          ) -> dict[str, list[tuple[str, str]]]:
        """item id -> [(task id, assignment id)] for items held by an assignment (not the
        hidden queue): of the given items, or of every task of a dataset (for exports)."""
        if dataset_id is not None:
            tasks = [t["_id"] async for t in self.db.tasks.find({"datasetId": dataset_id}, {"_id": 1})]
            query: dict[str, Any] = {"taskId": {"$in": tasks}}
        else:
            query = {"itemIds": {"$in": item_ids or []}}
        found: dict[str, list[tuple[str, str]]] = {}
        wanted = None if item_ids is None else set(item_ids)
        cursor = self.db.assignments.find(query | {"active": True, "queue": {"$ne": True}},
                                          {"itemIds": 1, "taskId": 1})
        async for a in cursor:
            for item in a["itemIds"]:
                if wanted is None or item in wanted:
                    found.setdefault(item, []).append((a["taskId"], a["_id"]))
        return found

    async def statuses_of_items(self, holders: dict[str, list[tuple[str, str]]]
                                ) -> dict[str, list[dict[str, Any]]]:
        """item id -> its status documents in the tasks that hold it (`memberships`); an
        item keeps its status only while a task holds it. Read by `_id`, the only index."""
        ids = [f"{task}:{item}" for item, held in holders.items() for task, _ in held]
        found: dict[str, list[dict[str, Any]]] = {}
        for d in await find_in(self.db.item_statuses, "_id", ids):
            found.setdefault(d["itemId"], []).append(d)
        return found


def with_refs(item: dict[str, Any], holders: list[tuple[str, str]],
              statuses: list[dict[str, Any]]) -> dict[str, Any]:
    """The item JSON with its task memberships where Dataloop keeps them: a `task` and an
    `assignment` entry in `metadata.system.refs` (with the status, if any), and the history
    of status changes in `metadata.system.taskStatusLog`."""
    by_task = {d["taskId"]: d for d in statuses}
    refs: list[dict[str, Any]] = []
    for task_id, assignment_id in holders:
        st = by_task.get(task_id)
        meta = {"status": st["status"], "creator": st["creator"], "timestamp": st["timestamp"]} \
            if st and st.get("status") else {}
        refs += [{"type": "task", "id": task_id, "metadata": meta},
                 {"type": "assignment", "id": assignment_id, "metadata": meta}]
    log = [entry for d in statuses for entry in d.get("log", [])]
    log.sort(key=lambda e: e["status"]["timestamp"])
    system = item["metadata"]["system"] | {"refs": refs, "taskStatusLog": log}
    return item | {"metadata": item["metadata"] | {"system": system}}
