"""Annotation storage in MongoDB (motor). The only module of the service that imports it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase
from pymongo import ASCENDING, ReplaceOne
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000


class AnnotationRepository(Protocol):
    async def outcomes(self, command_ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    async def save_outcomes(self, outcomes: list[dict[str, Any]]) -> None: ...
    async def insert_new(self, docs: list[dict[str, Any]]) -> set[str]: ...
    async def get_many(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    async def replace_many(self, docs: list[dict[str, Any]]) -> None: ...
    async def replace_classes(self, item_id: str, keep: str, before: str, tombstone: dict) -> list[str]: ...
    async def ping(self) -> bool: ...


class MongoAnnotationRepository:
    """`annotations` holds Dataloop JSON (plus `_`-prefixed internal fields);
    `operations` holds each command's outcome, keyed by command id."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.db = db
        self.annotations = db["annotations"]
        self.operations = db["operations"]

    async def create_indexes(self) -> None:
        await self.annotations.create_index([("itemId", ASCENDING)])
        await self.annotations.create_index([("datasetId", ASCENDING)])

    async def outcomes(self, command_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(command_ids)
        cursor = self.operations.find({"_id": {"$in": ids}})
        return {doc["_id"]: doc async for doc in cursor}

    async def save_outcomes(self, outcomes: list[dict[str, Any]]) -> None:
        """Record outcomes; an outcome already recorded (a redelivery) stays as it was."""
        await _insert_ignoring_duplicates(self.operations, outcomes)

    async def insert_new(self, docs: list[dict[str, Any]]) -> set[str]:
        """Insert; return the ids that already existed (a redelivery of a done command)."""
        return await _insert_ignoring_duplicates(self.annotations, docs)

    async def get_many(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        cursor = self.annotations.find({"_id": {"$in": list(ids)}})
        return {doc["_id"]: doc async for doc in cursor}

    async def replace_many(self, docs: list[dict[str, Any]]) -> None:
        if docs:
            await self.annotations.bulk_write(
                [ReplaceOne({"_id": d["_id"]}, d) for d in docs], ordered=False
            )

    async def replace_classes(self, item_id: str, keep: str, before: str, tombstone: dict) -> list[str]:
        """Tombstone the item's other live class annotations made before `before`; their ids."""
        query = {"itemId": item_id, "type": "class", "_id": {"$ne": keep},
                 "_deleted": {"$exists": False}, "createdAt": {"$lte": before},
                 "metadata.system.frame": {"$exists": False}}
        ids = [d["_id"] async for d in self.annotations.find(query, {"_id": 1})]
        if ids:
            await self.annotations.update_many({"_id": {"$in": ids}}, {"$set": {"_deleted": tombstone}})
        return ids

    async def ping(self) -> bool:
        try:
            await self.db.command("ping")
            return True
        except Exception:
            return False


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
