"""The gateway's MongoDB access (motor): the catalog it owns (users, tokens, projects,
datasets, items, recipes, files) and read-only views of what the services write
(annotations, operations). The only gateway module that imports motor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorGridFSBucket
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError
from gridfs.errors import NoFile

NOT_DELETED = {"_deleted": {"$exists": False}}


def new_id() -> str:
    return str(ObjectId())


def _out(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    doc = dict(doc)
    doc["id"] = doc.pop("_id")
    return doc


class Catalog:
    def __init__(self, client: AsyncIOMotorClient, database: str) -> None:
        self.client = client
        self.db = client[database]
        self.files = AsyncIOMotorGridFSBucket(self.db, bucket_name="files")

    async def create_indexes(self) -> None:
        await self.db.users.create_index([("email", ASCENDING)], unique=True)
        await self.db.tokens.create_index([("userId", ASCENDING)])
        await self.db.projects.create_index([("members.userId", ASCENDING)])
        await self.db.datasets.create_index([("projectId", ASCENDING)])
        await self.db.items.create_index([("datasetId", ASCENDING), ("filename", ASCENDING)])
        await self.db.recipes.create_index([("projectIds", ASCENDING)])
        await self.db.annotations.create_index([("itemId", ASCENDING)])
        await self.db.annotations.create_index([("datasetId", ASCENDING)])

    async def ping(self) -> bool:
        try:
            await self.db.command("ping")
            return True
        except Exception:
            return False

    # users and tokens --------------------------------------------------------------------

    async def ensure_user(self, email: str, name: str = "") -> dict[str, Any]:
        try:
            await self.db.users.insert_one({"_id": new_id(), "email": email, "name": name or email})
        except DuplicateKeyError:
            pass
        return _out(await self.db.users.find_one({"email": email}))

    async def user(self, user_id: str) -> dict[str, Any] | None:
        return _out(await self.db.users.find_one({"_id": user_id}))

    async def add_token(self, doc: dict[str, Any]) -> None:
        await self.db.tokens.insert_one(doc)

    async def token(self, digest: str) -> dict[str, Any] | None:
        return await self.db.tokens.find_one({"_id": digest})

    # projects, datasets, recipes, items -----------------------------------------------------

    async def insert(self, collection: str, doc: dict[str, Any]) -> dict[str, Any]:
        await self.db[collection].insert_one(doc)
        return _out(doc)

    async def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        return _out(await self.db[collection].find_one({"_id": doc_id}))

    async def update(self, collection: str, doc_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        doc = await self.db[collection].find_one_and_update(
            {"_id": doc_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        return _out(doc)

    async def page(
        self, collection: str, query: dict[str, Any], skip: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        total = await self.db[collection].count_documents(query)
        cursor = self.db[collection].find(query).sort("_id", ASCENDING).skip(skip).limit(limit)
        return [_out(d) async for d in cursor], total

    async def iterate(self, collection: str, query: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        async for doc in self.db[collection].find(query).sort("_id", ASCENDING):
            yield _out(doc)

    # files --------------------------------------------------------------------------------------

    async def put_file(self, name: str, data: bytes, mimetype: str) -> str:
        file_id = await self.files.upload_from_stream(name, data, metadata={"mimetype": mimetype})
        return str(file_id)

    async def get_file(self, file_id: str) -> bytes | None:
        try:
            stream = await self.files.open_download_stream(ObjectId(file_id))
        except (NoFile, Exception):
            return None
        return await stream.read()

    # read models of the services' data ----------------------------------------------------

    async def annotation(self, annotation_id: str) -> dict[str, Any] | None:
        return await self.db.annotations.find_one({"_id": annotation_id} | NOT_DELETED)

    async def annotations_of_items(self, item_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {i: [] for i in item_ids}
        cursor = self.db.annotations.find({"itemId": {"$in": item_ids}} | NOT_DELETED).sort(
            "createdAt", ASCENDING
        )
        async for doc in cursor:
            found[doc["itemId"]].append(doc)
        return found

    async def operation(self, command_id: str) -> dict[str, Any] | None:
        return await self.db.operations.find_one({"_id": command_id})


def connect(url: str, database: str) -> Catalog:
    client: AsyncIOMotorClient = AsyncIOMotorClient(
        url, serverSelectionTimeoutMS=3000, tz_aware=True, maxPoolSize=50
    )
    return Catalog(client, database)
