"""The task service's data as the gateway reads it: tasks, assignments, item statuses,
progress and bulks. The gateway never writes them.

What serves one request about a task or an item is still read from the task service's
collections directly (issue 19 has it left): the task and assignment views, progress, an
item's task refs. They must answer while the task service is down (a platform serves its
catalog and task views without its services; the bulk crash test reads a task after
stopping them), so asking the owner would turn them into 503s; a read model kept from the
task events is what replaces them. The large reads, which need the task service running
anyway (exports, imports' status plans, the task browser's index, bulk progress), are asked
of it (gateway.owners), page by page."""

from __future__ import annotations

from typing import Any

from cachetools import TTLCache

from gateway.cache import read_through
from gateway.owners import Asker
from shared.platform.mongo import find_in
from shared.rules.progress import progress_counts, status_count_pipeline

ASC = 1


class TaskReads:
    def __init__(self, owner: Asker, db: Any, ttl: float = 2.0) -> None:
        self.owner = owner
        self.db = db  # the reads that must answer without the task service (see above)
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

    async def task_names(self, *, dataset_id: str | None = None, project_id: str | None = None
                         ) -> list[dict[str, Any]]:
        """The tasks of a dataset or a project: `_id`, name, dataset, available actions (asked)."""
        where = {"datasetId": dataset_id} if dataset_id is not None else {"projectId": project_id}
        return await self.owner.one("task_names", **where)

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
        hidden queue): of the given items (read directly, see above), or of every task of a
        dataset (asked, page by page: exports and imports)."""
        found: dict[str, list[tuple[str, str]]] = {}
        if dataset_id is not None:
            async for page in self.owner.pages("memberships", datasetId=dataset_id):
                for a in page:
                    for item in a["itemIds"]:
                        found.setdefault(item, []).append((a["taskId"], a["_id"]))
            return found
        wanted = set(item_ids or [])
        cursor = self.db.assignments.find({"itemIds": {"$in": item_ids or []}, "active": True, "queue": {"$ne": True}},
                                          {"itemIds": 1, "taskId": 1})
        async for a in cursor:
            for item in a["itemIds"]:
                if item in wanted:
                    found.setdefault(item, []).append((a["taskId"], a["_id"]))
        return found

    async def statuses_of_items(self, holders: dict[str, list[tuple[str, str]]]
                                ) -> dict[str, list[dict[str, Any]]]:
        """item id -> its status documents in the tasks that hold it (`memberships`), read
        directly for the item views (see above); an item keeps its status only while a task
        holds it."""
        ids = [f"{task}:{item}" for item, held in holders.items() for task, _ in held]
        found: dict[str, list[dict[str, Any]]] = {}
        for d in await find_in(self.db.item_statuses, "_id", ids):
            found.setdefault(d["itemId"], []).append(d)
        return found

    async def asked_statuses_of_items(self, holders: dict[str, list[tuple[str, str]]]
                                      ) -> dict[str, list[dict[str, Any]]]:
        """As `statuses_of_items`, asked of the task service (exports and imports, which
        need it running anyway)."""
        ids = [f"{task}:{item}" for item, held in holders.items() for task, _ in held]
        found: dict[str, list[dict[str, Any]]] = {}
        if not ids:
            return found
        for d in await self.owner.one("statuses_by_id", ids=ids):
            found.setdefault(d["itemId"], []).append(d)
        return found

    async def task_items(self, task_id: str) -> tuple[set[str], dict[str, list[tuple[str, str]]]]:
        """The task's items (its annotators' and its queue's still to hand out) and, for
        those an annotator holds, [(task, assignment)]."""
        ids: set[str] = set()
        holders: dict[str, list[tuple[str, str]]] = {}
        async for page in self.owner.pages("browse_holders", taskId=task_id):
            for a in page:
                if a.get("queue"):
                    ids.update(a["itemIds"][a.get("next", 0):])
                    continue
                ids.update(a["itemIds"])
                for item in a["itemIds"]:
                    holders.setdefault(item, []).append((task_id, a["_id"]))
        return ids, holders

    async def bulk(self, task_id: str, bulk_id: str) -> dict[str, Any] | None:
        """A bulk's record in the task (with its state and status changes), or None."""
        found = await self.owner.one("bulk", taskId=task_id, bulkId=bulk_id)
        return found[0] if found else None


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
