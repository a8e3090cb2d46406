"""The gateway's MongoDB access (motor): the catalog it owns (users, tokens, organizations,
projects, datasets, items, recipes, files, the audit log) and read-only views of what the
services write (annotations, operations). The only gateway module that imports motor."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from gridfs.errors import CorruptGridFile
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorGridFSBucket
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from gateway.owners import plain_filters
from shared.contracts.tasks import ItemFilter
from shared.platform.mongo import find_in

NOT_DELETED = {"_deleted": {"$exists": False}}
FILE_CHUNK = 255 * 1024  # GridFS's default chunk size, as the driver writes uploads
# A task command naming up to this many items has them looked up by id; more, and one read of
# the dataset's ids costs less than the id slices (figures: docs/fast-paths.md).
NAMED_BY_ID = 1000


def item_query(f: ItemFilter | None) -> dict[str, Any]:
    """The `items` query of a task's item filter (its fields combined with AND)."""
    query: dict[str, Any] = {}
    if f is None:
        return query
    if f.dir:
        query["dir"] = f.dir
    if f.mimetype_prefix:
        query["metadata.system.mimetype"] = {"$regex": "^" + re.escape(f.mimetype_prefix)}
    if f.name_prefix:
        query["name"] = {"$regex": "^" + re.escape(f.name_prefix)}
    return query


def new_id() -> str:
    return str(ObjectId())


def _out(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    doc = dict(doc)
    doc["id"] = doc.pop("_id")
    return doc


class StoredFile:
    """A GridFS file: its size, and any span of its bytes, read from exactly the chunks that
    span covers (a query on `n` between the first and the last; GridOut's own seek reads on
    to the end of the file in batches of up to 16 MiB), a few chunks per round trip."""

    def __init__(self, chunks: Any, doc: dict[str, Any], batch: int = 4) -> None:
        self._chunks, self.id, self._batch = chunks, doc["_id"], batch
        self.length: int = doc["length"]
        self._chunk_size: int = doc["chunkSize"]

    async def read(self, start: int, length: int) -> AsyncIterator[bytes]:
        if length <= 0:
            return
        size = self._chunk_size
        first, last = start // size, (start + length - 1) // size
        cursor = self._chunks.find({"files_id": self.id, "n": {"$gte": first, "$lte": last}},
                                   sort=[("n", ASCENDING)], batch_size=self._batch)
        offset, expected = start - first * size, first
        async for chunk in cursor:
            if chunk["n"] != expected:
                raise CorruptGridFile(f"file {self.id} has no chunk {expected}")
            data = bytes(chunk["data"][offset:offset + length])
            offset, expected, length = 0, expected + 1, length - len(data)
            yield data
        if expected <= last:
            raise CorruptGridFile(f"file {self.id} ends before chunk {expected}")


class Catalog:
    def __init__(self, client: AsyncIOMotorClient, database: str) -> None:
        self.client = client
        self.db = client[database]
        self.files = AsyncIOMotorGridFSBucket(self.db, bucket_name="files")
        # The annotation service, asked for annotations (gateway.owners; set by the container).
        self.annotations: Any = None

    async def create_indexes(self) -> None:
        await self.db.users.create_index([("email", ASCENDING)], unique=True)
        await self.db.tokens.create_index([("userId", ASCENDING)])
        await self.db.tokens.create_index([("tokenId", ASCENDING)], unique=True)
        await self.db.organizations.create_index([("members.userId", ASCENDING)])
        await self.db.projects.create_index([("members.userId", ASCENDING)])
        await self.db.projects.create_index([("organizationId", ASCENDING)])
        await self.db.audit.create_index([("projectId", ASCENDING), ("at", DESCENDING)])
        await self.db.datasets.create_index([("projectId", ASCENDING)])
        await self.db.items.create_index([("datasetId", ASCENDING), ("filename", ASCENDING)])
        await self.db.recipes.create_index([("projectIds", ASCENDING)])

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

    async def projects_not_owned_by(self, member_id: str, owner_id: str) -> list[str]:
        """The projects `member_id` belongs to where `owner_id` is not an owner."""
        found = self.db.projects.find({"members.userId": member_id}, {"members": 1})
        return [p["_id"] async for p in found
                if not any(m["userId"] == owner_id and m["role"] == "owner" for m in p["members"])]

    async def user(self, user_id: str) -> dict[str, Any] | None:
        return _out(await self.db.users.find_one({"_id": user_id}))

    async def keymap(self, user_id: str) -> dict[str, str] | None:
        """The user's saved studio key map (gateway.keymap); None when never saved."""
        doc = await self.db.keymaps.find_one({"_id": user_id})
        return {b["action"]: b["key"] for b in doc["bindings"]} if doc else None

    async def save_keymap(self, user_id: str, bindings: dict[str, str], at: Any) -> None:
        # a list, not an object: an action names a label path, whose dots a field name cannot hold
        rows = [{"action": action, "key": key} for action, key in bindings.items()]
        await self.db.keymaps.replace_one({"_id": user_id}, {"bindings": rows, "updatedAt": at},
                                          upsert=True)

    async def preferences(self, user_id: str) -> dict[str, Any] | None:
        """The user's saved task-browser preferences; None when never saved."""
        return await self.db.preferences.find_one({"_id": user_id}, {"_id": 0, "updatedAt": 0})

    async def save_preferences(self, user_id: str, values: dict[str, Any], at: Any) -> None:
        await self.db.preferences.replace_one({"_id": user_id}, values | {"updatedAt": at}, upsert=True)

    async def add_token(self, doc: dict[str, Any]) -> None:
        await self.db.tokens.insert_one(doc)

    async def token(self, digest: str) -> dict[str, Any] | None:
        return await self.db.tokens.find_one({"_id": digest})

    async def tokens_of(self, user_id: str) -> list[dict[str, Any]]:
        cursor = self.db.tokens.find({"userId": user_id}).sort("createdAt", ASCENDING)
        return [doc async for doc in cursor]

    async def revoke_token(self, user_id: str, token_id: str, at: Any) -> dict[str, Any] | None:
        """The token (revoked now, or earlier); None when the user has no such token."""
        mine = {"tokenId": token_id, "userId": user_id}
        await self.db.tokens.update_one(mine | {"revokedAt": None}, {"$set": {"revokedAt": at}})
        return await self.db.tokens.find_one(mine)

    # membership ----------------------------------------------------------------------------

    async def organizations_of(self, user_id: str) -> dict[str, Any]:
        """The query of the organizations a user sees: theirs, and those of their projects."""
        via_projects = await self.db.projects.distinct(
            "organizationId", {"members.userId": user_id, "organizationId": {"$ne": None}})
        return {"$or": [{"members.userId": user_id}, {"_id": {"$in": via_projects}}]}

    async def member_of_any(self, user_id: str, query: dict[str, Any]) -> bool:
        found = await self.db.projects.find_one(query | {"members.userId": user_id}, {"_id": 1})
        return found is not None

    async def replace_members(
        self, project_id: str, members: list[dict[str, Any]], version: int
    ) -> bool:
        """Compare-and-set on `membersVersion`: False when someone changed the members first
        (a project made before versions counts as version 0)."""
        expected = {"membersVersion": version if version else {"$in": [0, None]}}
        result = await self.db.projects.update_one(
            {"_id": project_id} | expected,
            {"$set": {"members": members, "membersVersion": version + 1}},
        )
        return result.modified_count == 1

    # audit ----------------------------------------------------------------------------------

    async def insert_audit(self, entries: list[dict[str, Any]]) -> None:
        await self.db.audit.insert_many(entries, ordered=False)

    # projects, datasets, recipes, items -----------------------------------------------------

    async def insert(self, collection: str, doc: dict[str, Any]) -> dict[str, Any]:
        await self.db[collection].insert_one(doc)
        return _out(doc)

    async def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        return _out(await self.db[collection].find_one({"_id": doc_id}))

    async def get_many(self, collection: str, doc_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The documents found among `doc_ids`, by id (one query)."""
        return {doc["id"]: doc for doc in map(_out, await find_in(self.db[collection], "_id", doc_ids))}

    async def update(self, collection: str, doc_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        doc = await self.db[collection].find_one_and_update(
            {"_id": doc_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        return _out(doc)

    async def page(
        self, collection: str, query: dict[str, Any], skip: int, limit: int,
        sort: tuple[str, int] = ("_id", ASCENDING),
    ) -> tuple[list[dict[str, Any]], int]:
        total = await self.db[collection].count_documents(query)
        cursor = self.db[collection].find(query).sort(*sort).skip(skip).limit(limit)
        return [_out(d) async for d in cursor], total

    async def iterate(self, collection: str, query: dict[str, Any],
                      batch_size: int = 0) -> AsyncIterator[dict[str, Any]]:
        """The documents in `_id` order; `batch_size` bounds how many the driver holds at once
        (0: the server's batches, up to 16 MB of BSON each, several times that once decoded)."""
        async for doc in self.db[collection].find(query, batch_size=batch_size).sort("_id", ASCENDING):
            yield _out(doc)

    async def selected_items(self, dataset_id: str, item_ids: list[str] | None,
                             item_filter: ItemFilter | None) -> tuple[list[str], list[str]]:
        """The dataset's items a task command takes: the `item_ids` it names, in their order and
        once each, or (None) every item `item_filter` matches, in id order; and the named ids
        that are not among them (not in the dataset, or not matching the filter)."""
        query = {"datasetId": dataset_id} | item_query(item_filter)
        named = None if item_ids is None else list(dict.fromkeys(item_ids))
        if named is not None and len(named) <= NAMED_BY_ID:
            known = {d["_id"] for d in await find_in(self.db.items, "_id", named, query, {"_id": 1})}
        else:
            cursor = self.db.items.find(query, {"_id": 1}).sort("_id", ASCENDING)
            in_dataset = [d["_id"] async for d in cursor]
            if named is None:
                return in_dataset, []
            known = set(in_dataset)
        return [i for i in named if i in known], [i for i in named if i not in known]

    # files --------------------------------------------------------------------------------------

    async def put_file(self, name: str, data: bytes, mimetype: str) -> str:
        file_id = await self.files.upload_from_stream(name, data, metadata={"mimetype": mimetype})
        return str(file_id)

    async def write_file(self, file_id: str, name: str, chunks: AsyncIterator[bytes], mimetype: str) -> int:
        """Store what `chunks` yields as the GridFS file `file_id` (an export job's result); its
        size. Written a GridFS chunk at a time, each inserted as it fills: the driver's own
        upload stream buffers 32 MB of chunks before it inserts them. The file's document comes
        last, so a write cut short leaves no file, only chunks, which the next write of the
        same id drops first."""
        await self.discard_file(file_id)
        oid, size, n, pending = ObjectId(file_id), 0, 0, bytearray()
        chunk_size = FILE_CHUNK
        try:
            async for data in chunks:
                pending += data
                size += len(data)
                while len(pending) >= chunk_size:
                    await self.db["files.chunks"].insert_one(
                        {"files_id": oid, "n": n, "data": bytes(pending[:chunk_size])})
                    del pending[:chunk_size]
                    n += 1
            if pending:
                await self.db["files.chunks"].insert_one({"files_id": oid, "n": n, "data": bytes(pending)})
        except BaseException:
            await self.discard_file(file_id)
            raise
        await self.db["files.files"].insert_one({
            "_id": oid, "length": size, "chunkSize": chunk_size, "uploadDate": datetime.now(UTC),
            "filename": name, "metadata": {"mimetype": mimetype}})
        return size

    async def discard_file(self, file_id: str) -> None:
        oid = ObjectId(file_id)
        await self.db["files.files"].delete_many({"_id": oid})
        await self.db["files.chunks"].delete_many({"files_id": oid})

    async def open_file(self, file_id: str) -> StoredFile | None:
        """A stored file to read in parts (for Range requests); None when there is none."""
        if not ObjectId.is_valid(file_id):
            return None
        doc = await self.db["files.files"].find_one({"_id": ObjectId(file_id)})
        return StoredFile(self.db["files.chunks"], doc) if doc else None

    # the annotation service's data ---------------------------------------------------------
    # Asked of the annotation service (gateway.owners): the gateway reads no annotation itself.

    async def annotation(self, annotation_id: str) -> dict[str, Any] | None:
        """A live annotation, as stored now (a scene's change is checked against it)."""
        found = await self.annotations.one("annotation", annotationId=annotation_id)
        return found[0] if found else None

    async def annotations_of_items(self, item_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """item id -> its live annotations, in creation order."""
        found: dict[str, list[dict[str, Any]]] = {i: [] for i in item_ids}
        if item_ids:
            for doc in await self.annotations.one("of_items", itemIds=item_ids):
                found[doc["itemId"]].append(doc)
        return found

    async def annotations_page(self, dataset_id: str, query: dict[str, Any], skip: int, limit: int
                               ) -> tuple[list[dict[str, Any]], int]:
        """A page of the dataset's live annotations matching `query` (`owners.plain_filters`:
        dtlpy's filter on id, item, label, type), in `_id` order, each with `id`; and the total."""
        (found,) = await self.annotations.one("page_of_dataset", datasetId=dataset_id, filters=plain_filters(query),
                                              skip=skip, limit=limit)
        return [_out(d) for d in found["annotations"]], found["total"]

    async def labels_of_dataset(self, dataset_id: str) -> list[str]:
        """The labels the dataset's live annotations use."""
        return await self.annotations.one("labels_of_dataset", datasetId=dataset_id)

    async def bulk_classes(self, bulk_id: str) -> dict[str, Any]:
        """A bulk's classes side: what it classifies and how far it got ({} before it starts)."""
        (found,) = await self.annotations.one("bulk", bulkId=bulk_id)
        return found

    async def label_counts(self, dataset_ids: list[str], labels: list[str]) -> dict[str, int]:
        """label -> live annotations holding it in the datasets."""
        return dict(await self.annotations.one("label_counts", datasetIds=dataset_ids, labels=labels)) \
            if labels else {}

    async def record_outcome(self, record: dict[str, Any]) -> None:
        """Store the outcome of a command the gateway refused before sending it (its answer
        names the operation, which then answers as a service's refusal would); once."""
        try:
            await self.db.operations.insert_one(record)
        except DuplicateKeyError:
            pass

    async def operation(self, command_id: str) -> dict[str, Any] | None:
        return await self.db.operations.find_one({"_id": command_id})


def connect(url: str, database: str, selection_timeout_ms: int = 2000) -> Catalog:
    """A client that fails within `selection_timeout_ms` while MongoDB is down (the gateway
    answers 503), rather than after pymongo's 30 s."""
    client: AsyncIOMotorClient = AsyncIOMotorClient(
        url, serverSelectionTimeoutMS=selection_timeout_ms, tz_aware=True, maxPoolSize=50
    )
    return Catalog(client, database)
