"""Read models of the task service's collections (tasks, assignments, item statuses); the
gateway never writes them. Uses the catalog's database handle."""

from __future__ import annotations

from typing import Any

ASC = 1


class TaskReads:
    def __init__(self, db: Any) -> None:
        self.db = db

    async def task(self, task_id: str) -> dict[str, Any] | None:
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
        cursor = self.db.item_statuses.aggregate([
            {"$match": {"taskId": task_id, "status": {"$ne": None}}},
            {"$group": {"_id": {"a": "$assignmentId", "s": "$status"}, "n": {"$sum": 1}}},
        ])
        return {(d["_id"]["a"], d["_id"]["s"]): d["n"] async for d in cursor}

    async def statuses(self, task_id: str, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        cursor = self.db.item_statuses.find({"_id": {"$in": [f"{task_id}:{i}" for i in item_ids]}})
        return {d["itemId"]: d async for d in cursor}

    async def refs_of(self, item_id: str) -> tuple[list[dict], list[dict]]:
        """The item's task memberships as Dataloop `refs`, and its `taskStatusLog`."""
        holders = [d async for d in self.db.assignments.find(
            {"itemIds": item_id, "active": True, "queue": {"$ne": True}}, {"itemIds": 0})]
        statuses = {d["taskId"]: d async for d in self.db.item_statuses.find({"itemId": item_id})}
        refs: list[dict] = []
        log: list[dict] = []
        for a in holders:
            st = statuses.get(a["taskId"])
            meta = {"status": st["status"], "creator": st["creator"], "timestamp": st["timestamp"]} \
                if st and st.get("status") else {}
            refs += [{"type": "task", "id": a["taskId"], "metadata": meta},
                     {"type": "assignment", "id": a["_id"], "metadata": meta}]
        for st in statuses.values():
            log += st.get("log", [])
        return refs, log
