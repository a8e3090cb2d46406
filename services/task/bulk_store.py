"""MongoDB access of the task service's bulk use cases: the `bulk_operations` record (what
a bulk changed, for redelivery and undo), statuses written in bulk, and read-only looks at
the annotation service's `annotations` for previews. Writes filter on `_id` (fast on the
embedded server); many documents go in one `insert_many` or one `update_many`."""

from __future__ import annotations

from typing import Any

from services.task.repository import insert_many_once, insert_once
from shared.platform.mongo import find_in, update_in

PLAN_FIELDS = ("items", "statusChanges")


class BulkStore:
    """A bulk's record is two documents: its plan in `bulk_operations` (written once; with
    10,000 items it is ~0.5 MB) and its small, changing state in `bulk_states`, so that
    marking progress does not rewrite the plan. The statuses it changes are found as they
    are written and kept in `bulk_status_changes` (plans of earlier versions hold them)."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.records = db["bulk_operations"]
        self.states = db["bulk_states"]
        self.statuses = db["item_statuses"]
        self.changes = db["bulk_status_changes"]

    async def record(self, bulk_id: str, summary: bool = False) -> dict[str, Any] | None:
        """The bulk's record (plan and state); with `summary`, its state only."""
        state = await self.states.find_one({"_id": bulk_id})
        if summary and state is not None:
            return state
        plan = await self.records.find_one({"_id": bulk_id})
        if plan is None:
            return None
        if "statusChanges" not in plan and (found := await self.changes.find_one({"_id": bulk_id})):
            plan["statusChanges"] = found["statusChanges"]
        if state is None:  # the plan was stored, then the process died
            state = _state_of(plan)
            await insert_once(self.states, state)
        return state if summary else plan | state

    async def save_record(self, record: dict[str, Any]) -> None:
        await insert_once(self.records, record)
        await insert_once(self.states, _state_of(record))

    async def mark(self, bulk_id: str, changes: dict[str, Any]) -> None:
        await self.states.update_one({"_id": bulk_id}, {"$set": changes})

    async def status_docs(self, task_id: str, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        """item id -> its status document in the task (also those with no status)."""
        docs = await find_in(self.statuses, "_id", [f"{task_id}:{i}" for i in item_ids], projection={"log": 0})
        return {d["itemId"]: d for d in docs}

    async def insert_statuses(self, docs: list[dict[str, Any]]) -> set[str]:
        """Insert new status documents; one already there is left. The ids of those."""
        return await insert_many_once(self.statuses, docs)

    async def save_status_changes(self, bulk_id: str, changes: list[list[Any]]) -> None:
        """The statuses a bulk changes, found as it writes them (part of its plan)."""
        await insert_once(self.changes, {"_id": bulk_id, "statusChanges": changes})

    async def update_statuses(self, ids: list[str], unless_command: str, fields: dict[str, Any],
                              log: dict[str, Any]) -> None:
        """Set `fields` on the status documents `ids`, except where `unless_command` already
        wrote (a redelivery)."""
        await update_in(self.statuses, "_id", ids, {"$set": fields, "$push": {"log": log}},
                        {"lastCommandId": {"$ne": unless_command}})

    async def items_with_label(self, item_ids: list[str], label: str) -> set[str]:
        """Items that carry a live class annotation with `label` (images; not video scenes)."""
        docs = await find_in(self.db.annotations, "itemId", item_ids, {
            "type": "class", "label": label, "_deleted": {"$exists": False},
            "metadata.system.frame": {"$exists": False}}, {"itemId": 1})
        return {d["itemId"] for d in docs}



def _state_of(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in PLAN_FIELDS}
