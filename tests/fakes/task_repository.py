"""The task service's repository in memory: what the MongoDB one does, in dicts, for handler
tests (tests/unit/test_task_handlers.py)."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from services.task.repository import (
    UNREAD,
    WRITTEN,
    TaskRepository,
    Written,
    _was_written,
    holder_of,
)


def _copy(doc: Any) -> Any:
    return copy.deepcopy(doc)


def _update(doc: dict[str, Any], changes: dict[str, Any]) -> None:
    """The `$set`, `$inc` and `$push` (with `$each`) of a MongoDB update, on top-level fields."""
    for key, value in changes.get("$set", {}).items():
        doc[key] = _copy(value)
    for key, value in changes.get("$inc", {}).items():
        doc[key] = doc.get(key, 0) + value
    for key, value in changes.get("$push", {}).items():
        doc.setdefault(key, []).extend(_copy(value["$each"]) if isinstance(value, dict) else [_copy(value)])


class FakeTaskRepository(TaskRepository):
    def __init__(self) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}
        self.assignment_docs: dict[str, dict[str, Any]] = {}
        self.allocation_docs: dict[str, dict[str, Any]] = {}  # "<task>:<item>" -> its holder
        self.allocated: set[str] = set()  # tasks whose allocation is written (the built mark)
        self.item_statuses: dict[str, dict[str, Any]] = {}
        self.counts: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
        self.applying: dict[str, set[str]] = defaultdict(set)
        self.operations: dict[str, dict[str, Any]] = {}
        self.bulk_plans: dict[str, dict[str, Any]] = {}
        self.bulk_states: dict[str, dict[str, Any]] = {}
        self.bulk_changes: dict[str, list[list[Any]]] = {}

    # outcomes ---------------------------------------------------------------------------------

    async def outcomes(self, command_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {i: _copy(self.operations[i]) for i in command_ids if i in self.operations}

    async def save_outcomes(self, outcomes: list[dict[str, Any]]) -> None:
        for outcome in outcomes:
            self.operations.setdefault(outcome["_id"], _copy(outcome))
            for applying in self.applying.values():
                applying.discard(outcome["_id"])

    # tasks and assignments ----------------------------------------------------------------------

    async def task(self, task_id: str) -> dict[str, Any] | None:
        return _copy(self.tasks.get(task_id))

    async def cached_task(self, task_id: str) -> dict[str, Any] | None:
        return await self.task(task_id)

    async def insert_task(self, task: dict[str, Any], assignments: list[dict[str, Any]]) -> None:
        for doc in assignments:
            self.assignment_docs.setdefault(doc["_id"], _copy(doc))
        self._insert_allocation(task["_id"], assignments)
        self.tasks.setdefault(task["_id"], _copy(task))

    async def update_task(self, task_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        if task_id not in self.tasks:
            return None
        _update(self.tasks[task_id], changes)
        return _copy(self.tasks[task_id])

    async def bump_allocation(self, task_id: str) -> int:
        _update(self.tasks[task_id], {"$inc": {"allocationVersion": 1}})
        return self.tasks[task_id]["allocationVersion"]

    async def assignments(self, task_id: str, with_items: bool = False) -> list[dict[str, Any]]:
        found = [_copy(a) for _, a in sorted(self.assignment_docs.items()) if a["taskId"] == task_id]
        return found if with_items else [{k: v for k, v in a.items() if k != "itemIds"} for a in found]

    async def assignment(self, assignment_id: str) -> dict[str, Any] | None:
        return _copy(self.assignment_docs.get(assignment_id))

    async def holding(self, task: dict[str, Any], item_id: str) -> dict[str, Any] | None:
        if task["_id"] not in self.allocated:  # made before allocation documents were kept
            self._insert_allocation(task["_id"], await self.assignments(task["_id"], with_items=True))
        return _copy(self.allocation_docs.get(f"{task['_id']}:{item_id}"))

    async def allocations(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {i: _copy(self.allocation_docs[i]) for i in ids if i in self.allocation_docs}

    async def allocate(self, task_id: str, item_ids: list[str], holder: dict[str, Any] | None,
                       new: bool = False) -> None:
        for i in item_ids:
            key = f"{task_id}:{i}"
            if holder is None:
                self.allocation_docs.pop(key, None)
            elif new or key in self.allocation_docs:
                self.allocation_docs[key] = holder_of(holder)

    def _insert_allocation(self, task_id: str, assignments: list[dict[str, Any]]) -> None:
        holders = {}
        for a in sorted(assignments, key=lambda a: not a.get("queue")):  # an assignment over the queue
            if a.get("active", True):
                for i in a.get("itemIds", []):
                    holders[f"{task_id}:{i}"] = holder_of(a)
        for key, holder in holders.items():  # one there was written by a later move
            self.allocation_docs.setdefault(key, holder)
        self.allocated.add(task_id)

    async def insert_assignment(self, doc: dict[str, Any]) -> None:
        self.assignment_docs.setdefault(doc["_id"], _copy(doc))

    async def set_assignment(self, assignment_id: str, changes: dict[str, Any]) -> None:
        _update(self.assignment_docs[assignment_id], changes)

    async def take_from_queue(self, queue_id: str, count: int) -> list[str]:
        queue = self.assignment_docs[queue_id]
        queue["next"] += count
        return list(queue["itemIds"][queue["next"] - count:queue["next"]])

    async def return_to_queue(self, queue_id: str, assignment_id: str, item_ids: list[str],
                              command_id: str) -> list[str]:
        queue, source = self.assignment_docs[queue_id], self.assignment_docs[assignment_id]
        taken = [i for i in dict.fromkeys(item_ids) if i in source["itemIds"]]
        if command_id in queue.get("returnedBy", []) or not taken:
            return taken
        source["itemIds"] = [i for i in source["itemIds"] if i not in taken]
        at = min(queue["next"], len(queue["itemIds"]))
        queue["itemIds"][at:at] = taken
        queue["next"] = at
        queue.setdefault("returnedBy", []).append(command_id)
        return taken

    # statuses ---------------------------------------------------------------------------------

    async def statuses(self, task_id: str, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        docs = (self.item_statuses.get(f"{task_id}:{i}") for i in item_ids)
        return {d["itemId"]: _copy(d) for d in docs if d is not None and d.get("status") is not None}

    async def status_befores(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {i: _copy(self.item_statuses[i]) for i in ids if i in self.item_statuses}

    async def write_status(self, doc: dict[str, Any], log_entry: dict[str, Any],
                           before: Any = UNREAD) -> Written | None:
        """As the MongoDB one; the document is read here whatever was read ahead (nothing
        writes between a read and a write in one event loop)."""
        stored = self.item_statuses.get(doc["_id"])
        if stored and stored.get("lastCommandId") == doc["lastCommandId"]:
            return _was_written(stored, doc)
        if stored and doc.get("position") and stored.get("position", "") > doc["position"]:
            mine = [w for w in stored.get("written", []) if w.get("c") == doc["lastCommandId"]]
            return Written(mine[-1].get("p"), mine[-1]["u"], current=False) if mine else None
        previous = (stored or {}).get("status")
        counted_under = (stored or {}).get("assignmentId", doc["assignmentId"])
        if log_entry["action"] == "deleted":
            log_entry = log_entry | {"status": log_entry["status"] | {"status": previous}}
        new = (_copy(stored) or {"log": [], "written": []}) | _copy(doc)
        new["log"].append(_copy(log_entry))
        new["written"] = (new["written"] + [{"c": doc["lastCommandId"], "p": previous, "u": counted_under}])[-WRITTEN:]
        self.item_statuses[doc["_id"]] = new
        return Written(previous, counted_under)

    async def move_statuses(self, task_id: str, item_ids: list[str], assignment_id: str) -> None:
        for i in item_ids:
            if (doc := self.item_statuses.get(f"{task_id}:{i}")) is not None:
                doc["assignmentId"] = assignment_id

    async def count(self, task_id: str, command_id: str, deltas: dict[tuple[str, str], int]) -> None:
        if not deltas or command_id in self.applying[task_id]:
            return
        self.applying[task_id].add(command_id)
        counts = self.counts[task_id]
        for key, n in deltas.items():
            counts[key] = counts.get(key, 0) + n

    def counted(self, task_id: str, command_id: str) -> None:
        self.applying[task_id].discard(command_id)

    async def status_counts(self, task_id: str) -> dict[tuple[str, str], int]:
        return {k: n for k, n in self.counts[task_id].items() if n}

    # bulks ------------------------------------------------------------------------------------

    async def bulk_record(self, bulk_id: str, summary: bool = False) -> dict[str, Any] | None:
        if bulk_id not in self.bulk_plans:
            return None
        state = _copy(self.bulk_states[bulk_id])
        if summary:
            return state
        plan = _copy(self.bulk_plans[bulk_id])
        if "statusChanges" not in plan and bulk_id in self.bulk_changes:
            plan["statusChanges"] = _copy(self.bulk_changes[bulk_id])
        return plan | state

    async def save_bulk_record(self, record: dict[str, Any]) -> None:
        self.bulk_plans.setdefault(record["_id"], _copy(record))
        state = {k: v for k, v in record.items() if k not in ("items", "statusChanges")}
        self.bulk_states.setdefault(record["_id"], _copy(state))

    async def mark_bulk(self, bulk_id: str, changes: dict[str, Any]) -> None:
        self.bulk_states[bulk_id].update(_copy(changes))

    async def save_bulk_status_changes(self, bulk_id: str, changes: list[list[Any]]) -> None:
        self.bulk_changes.setdefault(bulk_id, _copy(changes))

    async def status_docs(self, task_id: str, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        docs = (self.item_statuses.get(f"{task_id}:{i}") for i in item_ids)
        return {d["itemId"]: {k: v for k, v in d.items() if k != "log"} for d in docs if d is not None}

    async def insert_statuses(self, docs: list[dict[str, Any]]) -> set[str]:
        existed = {d["_id"] for d in docs if d["_id"] in self.item_statuses}
        for doc in docs:
            self.item_statuses.setdefault(doc["_id"], _copy(doc))
        return existed

    async def update_statuses(self, ids: list[str], unless_command: str, fields: dict[str, Any],
                              log: dict[str, Any]) -> None:
        for i in ids:
            doc = self.item_statuses.get(i)
            if doc is not None and doc.get("lastCommandId") != unless_command:
                doc.update(_copy(fields))
                doc.setdefault("log", []).append(_copy(log))
