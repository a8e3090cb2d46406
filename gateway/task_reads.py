"""The task service's data as the gateway reads it: tasks, assignments, item statuses,
progress and bulks, asked of the task service (gateway.owners), which answers from its own
collections. The gateway never reads or writes them itself.

A view asked while no task service replica runs answers 503 naming it (gateway.owners knows
at once, from the replicas' presence). The hot path does not ask per command: a task's and
an assignment's immutable facts (project, dataset, recipe, allocation; an assignment's task)
are read through a short-lived cache, and what changes is checked by the task service."""

from __future__ import annotations

from typing import Any

from cachetools import TTLCache

from gateway.cache import read_through
from gateway.owners import Asker, plain_filters


class TaskReads:
    def __init__(self, owner: Asker, ttl: float = 2.0) -> None:
        self.owner = owner
        # The gateway reads only a task's immutable facts (project, dataset, recipe,
        # allocation) and an assignment's task on the hot path; what changes is checked by
        # the task service.
        self.cache: TTLCache[str, Any] = TTLCache(10_000, ttl)
        self.assignments_cache: TTLCache[str, Any] = TTLCache(10_000, ttl)

    async def task(self, task_id: str) -> dict[str, Any] | None:
        return await read_through(self.cache, task_id, lambda: self.fresh_task(task_id))

    async def fresh_task(self, task_id: str) -> dict[str, Any] | None:
        found = await self.owner.one("task", taskId=task_id)
        return found[0] if found else None

    async def view(self, task_id: str) -> dict[str, Any] | None:
        """The task as it is now with what its view shows, in one ask: {task, assignments
        (as shown), counts ((assignment, status) -> items), remaining (a pulling task's
        queue, else None)}; None for no such task."""
        found = await self.owner.one("task_view", taskId=task_id)
        if not found:
            return None
        return found[0] | {"counts": _counts(found[0]["counts"])}

    async def tasks(self, query: dict[str, Any], skip: int, limit: int) -> tuple[list[dict], int]:
        """A page of the tasks matching `query` (`owners.plain_filters`), in `_id` order, and the total."""
        (found,) = await self.owner.one("tasks", filters=plain_filters(query), skip=skip, limit=limit)
        return found["tasks"], found["total"]

    async def task_names(self, *, dataset_id: str | None = None, project_id: str | None = None
                         ) -> list[dict[str, Any]]:
        """The tasks of a dataset or a project: `_id`, name, dataset, available actions."""
        where = {"datasetId": dataset_id} if dataset_id is not None else {"projectId": project_id}
        return await self.owner.one("task_names", **where)

    async def assignments(self, task_id: str) -> list[dict[str, Any]]:
        """The task's assignments (not its hidden queue), each with `totalItems`, without ids."""
        return await self.owner.one("assignments", taskId=task_id)

    async def assignment(self, assignment_id: str) -> dict[str, Any] | None:
        """The assignment as the guard resolves it (its task and project), cached: it may be a
        moment old (`fresh_assignment` for its view)."""
        return await read_through(self.assignments_cache, assignment_id,
                                  lambda: self.fresh_assignment(assignment_id))

    async def fresh_assignment(self, assignment_id: str, with_items: bool = False) -> dict[str, Any] | None:
        found = await self.owner.one("assignment", assignmentId=assignment_id, withItems=with_items)
        return found[0] if found else None

    async def status_counts(self, task_id: str) -> dict[tuple[str, str], int]:
        """(assignment, status) -> items, as the task service counts them."""
        return _counts(await self.owner.one("status_counts", taskId=task_id))

    async def statuses(self, task_id: str, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        docs = await self.owner.one("statuses", taskId=task_id, itemIds=item_ids) if item_ids else []
        return {d["itemId"]: d for d in docs}

    async def memberships(self, item_ids: list[str] | None = None, dataset_id: str | None = None
                          ) -> dict[str, list[tuple[str, str]]]:
        """item id -> [(task id, assignment id)] for items held by an assignment (not the
        hidden queue): of the given items, or of every task of a dataset (page by page:
        exports and imports)."""
        found: dict[str, list[tuple[str, str]]] = {}
        if dataset_id is not None:
            where: dict[str, Any] = {"datasetId": dataset_id}
        elif item_ids:
            where = {"itemIds": item_ids}
        else:
            return found
        async for page in self.owner.pages("memberships", **where):
            _add_holders(found, page)
        return found

    async def refs(self, item_ids: list[str]) -> tuple[dict[str, list[tuple[str, str]]],
                                                     dict[str, list[dict[str, Any]]]]:
        """`memberships(item_ids)` and `statuses_of_items` of them in one ask (an item view's
        task refs, or a page of items')."""
        holders: dict[str, list[tuple[str, str]]] = {}
        statuses: dict[str, list[dict[str, Any]]] = {}
        if not item_ids:
            return holders, statuses
        (found,) = await self.owner.one("item_refs", itemIds=item_ids)
        _add_holders(holders, found["memberships"])
        _add_statuses(statuses, found["statuses"])
        return holders, statuses

    async def statuses_of_items(self, holders: dict[str, list[tuple[str, str]]]
                                ) -> dict[str, list[dict[str, Any]]]:
        """item id -> its status documents in the tasks that hold it (`memberships`); an
        item keeps its status only while a task holds it."""
        ids = [f"{task}:{item}" for item, held in holders.items() for task, _ in held]
        found: dict[str, list[dict[str, Any]]] = {}
        if not ids:
            return found
        _add_statuses(found, await self.owner.one("statuses_by_id", ids=ids))
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


def _counts(rows: list[list[Any]]) -> dict[tuple[str, str], int]:
    """The task service's [assignment, status, items] rows as (assignment, status) -> items."""
    return {(a, s): n for a, s, n in rows}


def _add_holders(found: dict[str, list[tuple[str, str]]], assignments: list[dict[str, Any]]) -> None:
    for a in assignments:
        for item in a["itemIds"]:
            found.setdefault(item, []).append((a["taskId"], a["_id"]))


def _add_statuses(found: dict[str, list[dict[str, Any]]], docs: list[dict[str, Any]]) -> None:
    for d in docs:
        found.setdefault(d["itemId"], []).append(d)


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
