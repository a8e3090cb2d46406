"""The annotation service's storage: the Protocol its handlers use and its MongoDB (motor)
implementation, the only module of the service that imports the driver."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase
from pymongo import ASCENDING, ReplaceOne, ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.platform.coalescing import Coalesced
from shared.platform.mongo import find_in, update_in

DUPLICATE_KEY = 11000


class AnnotationRepository(Protocol):
    async def outcomes(self, command_ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    async def save_outcomes(self, outcomes: list[dict[str, Any]]) -> None: ...
    async def insert_new(self, docs: list[dict[str, Any]]) -> set[str]: ...
    async def get_many(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    async def replace_many(self, docs: list[dict[str, Any]]) -> None: ...
    async def replace_classes(self, item_id: str, keep: str, before: str, tombstone: dict) -> list[str]: ...
    async def next_object_ids(self, counts: dict[str, int]) -> dict[str, int]: ...
    async def replace_unless_changed(self, writes: list[tuple[dict[str, Any], str | None]]) -> set[str]: ...
    async def live_scenes(self, item_id: str) -> dict[str, dict[str, Any]]: ...
    # bulks (services.annotation.bulk)
    async def bulk_record(self, bulk_id: str) -> dict[str, Any] | None: ...
    async def save_bulk_record(self, record: dict[str, Any]) -> None: ...
    async def mark_bulk(self, bulk_id: str, changes: dict[str, Any]) -> None: ...
    async def bulk_progressed(self, bulk_id: str, done: int) -> None: ...
    async def live_classes(self, item_ids: list[str]) -> dict[str, list[dict[str, Any]]]: ...
    async def insert_chunk(self, docs: list[dict[str, Any]]) -> None: ...
    async def tombstone(self, ids: list[str], tombstone: dict[str, Any]) -> None: ...
    async def revive(self, ids: list[str], command_id: str) -> None: ...
    async def ping(self) -> bool: ...


class MongoAnnotationRepository:
    """`annotations` holds Dataloop JSON (plus `_`-prefixed internal fields); `operations`
    each command's outcome record, keyed by command id (shared.platform.runner); `counters`
    the video object ids given per item. A bulk's plan is written once to
    `bulk_classifications` (with 10,000 items ~0.5 MB); its progress, state and undo live in
    a small `bulk_progress` document, so reporting progress does not rewrite the plan."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.db = db
        self.annotations = db["annotations"]
        self.operations = db["operations"]
        self.counters = db["counters"]
        self.bulk_plans = db["bulk_classifications"]
        self.bulk_states = db["bulk_progress"]
        # The runner's concurrent handlers each write one command's documents: those of one
        # batch go to the server as one request (shared.platform.coalescing).
        self._inserts = Coalesced(lambda docs: _insert_ignoring_duplicates(self.annotations, docs))
        self._reads = Coalesced(lambda ids: find_in(self.annotations, "_id", set(ids)))
        self._replaces = Coalesced(self._replace_all)

    async def create_indexes(self) -> None:
        """Only what reads use: annotations are read by id and by item. Every further index
        costs each write (on the embedded server ~40 us per document per index)."""
        await self.annotations.create_index([("itemId", ASCENDING)])

    async def outcomes(self, command_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(command_ids)
        cursor = self.operations.find({"_id": {"$in": ids}})
        return {doc["_id"]: doc async for doc in cursor}

    async def save_outcomes(self, outcomes: list[dict[str, Any]]) -> None:
        """Record outcomes; an outcome already recorded (a redelivery) stays as it was."""
        await _insert_ignoring_duplicates(self.operations, outcomes)

    async def insert_new(self, docs: list[dict[str, Any]]) -> set[str]:
        """Insert; return the ids that already existed (a redelivery of a done command)."""
        if not docs:
            return set()
        return await self._inserts(docs) & {d["_id"] for d in docs}

    def read_ahead(self, ids: Iterable[str]) -> Awaitable[Any] | None:
        """Start reading `ids` now, for the batch running in the caller's context (the
        runner's read-ahead, shared.platform.runner): the batch's first `get_many` of each is
        served from this read, once; later reads go to the server. A fast path
        (docs/fast-paths.md, Reads ahead of the outcome lookup)."""
        wanted = set(ids)
        if not wanted:
            return None
        reading = asyncio.ensure_future(self._reads(list(wanted)))
        _AHEAD.set(_Ahead(wanted, reading))
        return reading

    async def get_many(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = set(ids)
        if not wanted:
            return {}
        ahead = _AHEAD.get()
        if ahead is not None and (served := wanted & ahead.unserved):
            ahead.unserved -= served
            found = {d["_id"]: d for d in await asyncio.shield(ahead.reading) if d["_id"] in served}
            return found | (await self.get_many(wanted - served) if wanted - served else {})
        # Two callers asking for one id at once would share its document: the runner keeps
        # an annotation to one handler at a time (handlers.scope_of).
        return {d["_id"]: d for d in await self._reads(list(wanted)) if d["_id"] in wanted}

    async def replace_many(self, docs: list[dict[str, Any]]) -> None:
        if docs:
            await self._replaces(docs)

    async def _replace_all(self, docs: list[dict[str, Any]]) -> None:
        await self.annotations.bulk_write([ReplaceOne({"_id": d["_id"]}, d) for d in docs], ordered=False)

    async def replace_classes(self, item_id: str, keep: str, before: str, tombstone: dict) -> list[str]:
        """Tombstone the item's other live class annotations made before `before`; their ids."""
        query = {"itemId": item_id, "type": "class", "_id": {"$ne": keep},
                 "_deleted": {"$exists": False}, "createdAt": {"$lte": before},
                 "metadata.system.frame": {"$exists": False}}
        ids = [d["_id"] async for d in self.annotations.find(query, {"_id": 1})]
        if ids:
            await self.annotations.update_many({"_id": {"$in": ids}}, {"$set": {"_deleted": tombstone}})
        return ids

    async def live_scenes(self, item_id: str) -> dict[str, dict[str, Any]]:
        """The item's scenes that are not deleted, by id."""
        query = {"itemId": item_id, "type": "class", "_deleted": {"$exists": False},
                 "metadata.system.frame": {"$exists": True}}
        return {d["_id"]: d async for d in self.annotations.find(query)}

    async def replace_unless_changed(self, writes: list[tuple[dict[str, Any], str | None]]) -> set[str]:
        """Replace each scene only if its revision (`_scene.rev`) is still the one it was read
        with; the ids of those another writer changed meanwhile (left as they are)."""
        if not writes:
            return set()
        ops = [ReplaceOne({"_id": doc["_id"], "_scene.rev": rev}, doc) for doc, rev in writes]
        result = await self.annotations.bulk_write(ops, ordered=False)
        if result.matched_count == len(ops):
            return set()
        mine = {doc["_id"]: doc["_scene"]["rev"] for doc, _ in writes}
        cursor = self.annotations.find({"_id": {"$in": list(mine)}}, {"_scene.rev": 1})
        now = {d["_id"]: (d.get("_scene") or {}).get("rev") async for d in cursor}
        return {i for i, rev in mine.items() if now.get(i) != rev}

    async def next_object_ids(self, counts: dict[str, int]) -> dict[str, int]:
        """Reserve `counts[item]` video object ids per item ("1", "2", ... as Dataloop
        numbers tracks); the first reserved id per item. A redelivery reserves again and
        leaves a gap, which is harmless: stored scenes keep the id they were made with."""

        async def reserve(item_id: str, n: int) -> tuple[str, int]:
            doc = await self.counters.find_one_and_update(
                {"_id": f"objectId:{item_id}"}, {"$inc": {"seq": n}},
                upsert=True, return_document=ReturnDocument.AFTER)
            return item_id, doc["seq"] - n + 1

        return dict(await asyncio.gather(*(reserve(i, n) for i, n in counts.items())))

    async def bulk_record(self, bulk_id: str) -> dict[str, Any] | None:
        """A bulk's plan with its progress, state and undo; None before it is planned."""
        plan = await self.bulk_plans.find_one({"_id": bulk_id})
        if plan is None:
            return None
        return plan | (await self.bulk_states.find_one({"_id": bulk_id}) or {})

    async def save_bulk_record(self, record: dict[str, Any]) -> None:
        """Store a bulk's plan; a plan already stored (a redelivery) stays as it was."""
        try:
            await self.bulk_plans.insert_one(record)
        except DuplicateKeyError:
            pass

    async def mark_bulk(self, bulk_id: str, changes: dict[str, Any]) -> None:
        await self.bulk_states.update_one({"_id": bulk_id}, {"$set": changes}, upsert=True)

    async def bulk_progressed(self, bulk_id: str, done: int) -> None:
        await self.bulk_states.update_one({"_id": bulk_id}, {"$max": {"done": done}}, upsert=True)

    async def live_classes(self, item_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """item id -> its live class annotations (`_id`, `itemId`, `label`; images only:
        video scenes are not classes here)."""
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for d in await find_in(self.annotations, "itemId", item_ids, {
                "type": "class", "_deleted": {"$exists": False},
                "metadata.system.frame": {"$exists": False}}, {"itemId": 1, "label": 1}):
            found[d["itemId"]].append(d)
        return found

    async def insert_chunk(self, docs: list[dict[str, Any]]) -> None:
        """A bulk's chunk of new documents, as one request of its own (a bulk keeps two
        chunks on their way to the server; coalesced, they would go as one)."""
        await _insert_ignoring_duplicates(self.annotations, docs)

    async def tombstone(self, ids: list[str], tombstone: dict[str, Any]) -> None:
        await update_in(self.annotations, "_id", ids, {"$set": {"_deleted": tombstone}})

    async def revive(self, ids: list[str], command_id: str) -> None:
        """Undelete annotations `command_id` deleted (and only those)."""
        await update_in(self.annotations, "_id", ids, {"$unset": {"_deleted": ""}},
                        {"_deleted.commandId": command_id})

    async def ping(self) -> bool:
        try:
            await self.db.command("ping")
            return True
        except Exception:
            return False


@dataclass
class _Ahead:
    """A batch's read-ahead: the ids not served yet, and the read of them all."""

    unserved: set[str]
    reading: asyncio.Future[list[dict[str, Any]]]


_AHEAD: ContextVar[_Ahead | None] = ContextVar("annotation_read_ahead", default=None)


async def _insert_ignoring_duplicates(collection: Any, docs: list[dict[str, Any]]) -> set[str]:
    if not docs:
        return set()
    try:
        await collection.insert_many(docs, ordered=False)
        return set()
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return {docs[e["index"]]["_id"] for e in errors}


def connect(url: str, database: str) -> tuple[AsyncIOMotorClient, MongoAnnotationRepository]:
    client: AsyncIOMotorClient = AsyncIOMotorClient(url, serverSelectionTimeoutMS=3000, tz_aware=True)
    return client, MongoAnnotationRepository(client[database])
