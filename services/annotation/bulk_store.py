"""MongoDB access of the annotation service's bulk use cases: the `bulk_classifications`
record (the plan of a bulk: which items get the class, which annotations it replaced, its
progress), class annotations written with `insert_many`, tombstones with `update_many`."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.annotation.repository import _insert_ignoring_duplicates
from shared.platform.mongo import find_in, update_in


class BulkAnnotationStore:
    """A bulk's plan in `bulk_classifications` is written once (with 10,000 items it is
    ~0.5 MB); its progress, state and undo live in a small `bulk_progress` document, so
    reporting progress does not rewrite the plan."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.records = db["bulk_classifications"]
        self.progress_docs = db["bulk_progress"]
        self.annotations = db["annotations"]
        self.operations = db["operations"]

    async def record(self, bulk_id: str) -> dict[str, Any] | None:
        plan = await self.records.find_one({"_id": bulk_id})
        if plan is None:
            return None
        return plan | (await self.progress_docs.find_one({"_id": bulk_id}) or {})

    async def save_record(self, record: dict[str, Any]) -> None:
        try:
            await self.records.insert_one(record)
        except DuplicateKeyError:
            pass

    async def mark(self, bulk_id: str, changes: dict[str, Any]) -> None:
        await self.progress_docs.update_one({"_id": bulk_id}, {"$set": changes}, upsert=True)

    async def progress(self, bulk_id: str, done: int) -> None:
        await self.progress_docs.update_one({"_id": bulk_id}, {"$max": {"done": done}}, upsert=True)

    async def live_classes(self, item_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """item id -> its live class annotations (images; video scenes are not classes here)."""
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for d in await find_in(self.annotations, "itemId", item_ids, {
                "type": "class", "_deleted": {"$exists": False},
                "metadata.system.frame": {"$exists": False}}, {"itemId": 1, "label": 1}):
            found[d["itemId"]].append(d)
        return found

    async def insert(self, docs: list[dict[str, Any]]) -> None:
        await _insert_ignoring_duplicates(self.annotations, docs)

    async def tombstone(self, ids: list[str], tombstone: dict[str, Any]) -> None:
        await update_in(self.annotations, "_id", ids, {"$set": {"_deleted": tombstone}})

    async def revive(self, ids: list[str], command_id: str) -> None:
        """Undelete annotations `command_id` deleted (and only those)."""
        await update_in(self.annotations, "_id", ids, {"$unset": {"_deleted": ""}},
                        {"_deleted.commandId": command_id})

    async def get_many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {d["_id"]: d for d in await find_in(self.annotations, "_id", ids)}

    async def outcome(self, command_id: str) -> dict[str, Any] | None:
        return await self.operations.find_one({"_id": command_id})

    async def save_outcome(self, outcome: dict[str, Any]) -> None:
        try:
            await self.operations.insert_one(outcome)
        except DuplicateKeyError:
            pass
