"""The gateway's read models of the task service's data, kept from its events in the
gateway's own collections: `view_tasks` (each task as the task service stores it, with the
allocation version it was last seen at), `view_assignments` (who holds which items, the
pulling task's queue too), `view_statuses` (an item's status in a task and its log).

Why kept and not asked: the task and item views must answer while the task service is down
(a platform serves them without its services), which asking the owner cannot.

One writer per deployment: the gateway replicas share one consumer group (`GROUP`) on
`events.task`; a batch is acknowledged once its writes are done (shared.platform.messaging
`attach`: pending entries reclaimed, poison dead-lettered). Every write is idempotent, so an
event applied twice (a redelivery, or the reply path below and the group) counts once:
- a status's log entry is pushed once per event id (`seen`), its current value is set only
  by an event at least as recent as the one it holds (`at`, the event's time);
- a task is set only from a `TaskChanged` at least as recent; its assignments only from a
  copy of a newer allocation version than the one each holds (`v`), and a pull only onto an
  assignment older than the pull's version;
- progress is counted from the statuses themselves (no deltas to double).

Read-your-writes: the outcome event of a command this replica sent is applied before its
request is answered (`apply`, from the reply channel); other reads wait, bounded, until the
group has passed what the stream held when they began (`Barrier`), so a bulk's statuses or
another replica's change are seen once done.

A deployment with data from before these views builds them once by asking the task service
(`build`: only documents not there yet are inserted)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

from cachetools import LRUCache
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError
from redis.exceptions import ResponseError

from shared.contracts import streams
from shared.platform.messaging import Consumer
from shared.platform.mongo import find_in

log = logging.getLogger("classifier.gateway")

GROUP = "gateway-views"
VIEW_CONNECTIONS = 8  # the views' own broker: two streams, each read live and reclaimed
SEEN = 32  # event ids a status document remembers (a redelivery comes within a few)
DUPLICATE_KEY = 11000
TASK_FACTS = re.compile(rb'"type": ?"(ItemStatusChanged|ItemsPulled|TaskChanged)"')


def _moment(value: Any) -> datetime:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def stamp(occurred_at: Any) -> str:
    """Dataloop's timestamp (milliseconds, `Z`) of an event's time."""
    at = _moment(occurred_at)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def stored_task(view: dict[str, Any]) -> dict[str, Any]:
    """A task as the task service stores it, from its JSON in `TaskChanged.task`
    (shared.rules.progress.task_view)."""
    system = (view.get("metadata") or {}).get("system") or {}
    keep = ("name", "projectId", "datasetId", "recipeId", "creator", "createdAt", "updatedAt", "dueDate",
            "priority", "availableActions", "allocation", "singleClass", "allowNextOnlyOnDone", "totalItems")
    return {"_id": view["id"], **{k: view.get(k) for k in keep},
            **{k: system.get(k) for k in ("batchSize", "maxBatchWorkload", "allowedAssignees")}}


def _at(fact: dict[str, Any]) -> str:
    """An event's time as a fixed-width string, so that times compare as strings."""
    return _moment(fact["occurredAt"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Every view document holds `at` (its last event's time; "" before any) and an assignment
# `v`: a plain comparison, never an `$or` (the embedded server scans the collection for one).
def _newer(at: str) -> dict[str, Any]:
    return {"at": {"$lte": at}}


def _older_than(version: int) -> dict[str, Any]:
    return {"v": {"$lt": version}}


async def _writes(collection: Any, ops: list[Any], ordered: bool = False) -> set[int]:
    """A bulk write whose duplicate keys (an upsert of a document already newer) are fine:
    the positions of those."""
    if not ops:
        return set()
    try:
        await collection.bulk_write(ops, ordered=ordered)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return {e["index"] for e in errors}
    return set()


async def _inserts(collection: Any, docs: list[dict[str, Any]]) -> set[str]:
    """Insert the documents not there yet; the ids of those inserted (the others were there)."""
    if not docs:
        return set()
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        there = {docs[e["index"]]["_id"] for e in errors}
        return {d["_id"] for d in docs} - there
    return {d["_id"] for d in docs}


def _task_range(task_id: str) -> dict[str, Any]:
    return {"$gte": f"{task_id}:", "$lt": f"{task_id};"}


class TaskViews:
    """The task read models over the gateway's database: applying events, and the reads."""

    def __init__(self, db: Any) -> None:
        self.db = db
        # counts by (task, its `statusVersion`): a task's statuses are counted again only
        # after they changed (a count of 10,000 statuses takes the embedded server ~1.5 s)
        self.counts: LRUCache[tuple[str, int], dict[tuple[str, str], int]] = LRUCache(1000)

    async def create_indexes(self) -> None:
        await self.db.view_tasks.create_index([("projectId", 1), ("datasetId", 1)])
        await self.db.view_assignments.create_index([("taskId", 1)])
        await self.db.view_assignments.create_index([("itemIds", 1)])

    # applying events ------------------------------------------------------------------------

    async def apply(self, facts: list[dict[str, Any]]) -> None:
        """Apply events (wire JSON) in order; a run of statuses in one round of writes."""
        statuses: list[dict[str, Any]] = []
        for fact in facts:
            kind = fact.get("type")
            if kind == "ItemStatusChanged":
                statuses.append(fact)
                continue
            if kind not in ("TaskChanged", "ItemsPulled"):
                continue
            await self._statuses(statuses)
            statuses = []
            if kind == "TaskChanged":
                await self._task_changed(fact)
            else:
                await self._pulled(fact)
        await self._statuses(statuses)

    async def _statuses(self, facts: list[dict[str, Any]]) -> None:
        if not facts:
            return
        ops, fallbacks, fresh, firsts = [], [], [], {}
        for n, f in enumerate(facts):
            doc_id, at = f"{f['taskId']}:{f['itemId']}", _at(f)
            email, when = (f.get("actor") or {}).get("email"), stamp(f["occurredAt"])
            status = f.get("status")
            entry = {"action": "created" if status else "deleted",
                     "status": {"taskId": f["taskId"], "assignmentId": f["assignmentId"],
                                "status": status if status else f.get("previous"), "creator": email,
                                "timestamp": when}}
            current = {"assignmentId": f["assignmentId"], "status": status, "creator": email,
                       "timestamp": when, "at": at}
            if doc_id not in firsts:  # an item's first status in the batch: inserted, if new
                firsts[doc_id] = n
                fresh.append({"_id": doc_id, "taskId": f["taskId"], "itemId": f["itemId"], **current,
                              "log": [entry], "seen": [f["id"]]})
            logged = {"$push": {"log": entry, "seen": {"$each": [f["id"]], "$slice": -SEEN}}}
            # the usual case in one write: not seen yet, and newer than what the item holds
            ops.append(UpdateOne({"_id": doc_id, "seen": {"$ne": f["id"]}} | _newer(at), logged | {
                "$set": current, "$setOnInsert": {"taskId": f["taskId"], "itemId": f["itemId"]}}, upsert=True))
            fallbacks.append(UpdateOne({"_id": doc_id, "seen": {"$ne": f["id"]}}, logged))
        # Most statuses are an item's first in the task (a bulk's thousands): one insert of
        # them all; those already there go the way of the others, a write each.
        inserted = await _inserts(self.db.view_statuses, fresh)
        done = {firsts[doc_id] for doc_id in inserted}
        keep = [n for n in range(len(facts)) if n not in done]
        ops, fallbacks = [ops[n] for n in keep], [fallbacks[n] for n in keep]
        refused = await _writes(self.db.view_statuses, ops)
        await _writes(self.db.view_statuses, [fallbacks[n] for n in sorted(refused)])
        await self._statuses_changed({f["taskId"] for f in facts})

    async def _statuses_changed(self, task_ids: set[str]) -> None:
        """After the writes: a count made from here on is made again."""
        for task_id in task_ids:
            await self.db.view_tasks.update_one({"_id": task_id}, {"$inc": {"statusVersion": 1}})

    async def _task_changed(self, fact: dict[str, Any]) -> None:
        task, at = stored_task(fact["task"]), _at(fact)
        fields = {k: v for k, v in task.items() if k != "_id"} | {"at": at}
        found = await self.db.view_tasks.update_one({"_id": task["_id"]} | _newer(at), {"$set": fields})
        if not found.matched_count:
            try:
                # counted as changed: statuses applied before the task was there are counted
                await self.db.view_tasks.insert_one(task | {"at": at, "statusVersion": 1})
            except DuplicateKeyError:
                pass  # a newer copy is there
        version = fact.get("allocationVersion")
        if fact.get("assignments") is not None:
            await self._allocation(task["_id"], fact["assignments"], version or 0, fact)
        if fact.get("change") == "reassigned":  # the statuses went with the items
            summary = fact.get("summary") or {}
            source, target = summary.get("fromAssignment"), summary.get("toAssignment")
            if source and target:
                await self.db.view_statuses.update_many(
                    {"_id": _task_range(task["_id"]), "assignmentId": source}, {"$set": {"assignmentId": target}})
                await self._statuses_changed({task["_id"]})

    async def _allocation(self, task_id: str, assignments: list[dict[str, Any]], version: int,
                          fact: dict[str, Any]) -> None:
        summary = fact.get("summary") or {}
        ops = []
        for a in assignments:
            fields = {"taskId": task_id, "annotator": a.get("annotator"), "itemIds": a.get("itemIds", []),
                      "active": a.get("active", True), "queue": a.get("queue", False),
                      "removed": not a.get("active", True) and not a.get("queue", False),
                      "locked": not a.get("active", True) and not a.get("queue", False), "v": version}
            if a.get("queue"):
                fields["next"] = a.get("next", 0)
            if fact.get("change") == "reassigned" and a["id"] == summary.get("fromAssignment"):
                fields["reassignedTo"] = summary.get("toAssignment")
            ops.append(UpdateOne({"_id": a["id"]} | _older_than(version), {"$set": fields}, upsert=True))
        await _writes(self.db.view_assignments, ops)
        await self.db.view_tasks.update_one({"_id": task_id}, {"$max": {"allocationVersion": version}})

    async def _pulled(self, fact: dict[str, Any]) -> None:
        task_id, version, taken = fact["taskId"], fact.get("allocationVersion"), fact.get("itemIds") or []
        if not taken:
            return
        task = await self.db.view_tasks.find_one({"_id": task_id}, {"allocationVersion": 1}) or {}
        if version is not None and version <= task.get("allocationVersion", -1):
            return  # a copy of the allocation at or after this pull is there already
        v = version if version is not None else task.get("allocationVersion", 0)
        guard = _older_than(v) if version is not None else {}
        try:
            await self.db.view_assignments.update_one(
                {"_id": fact["assignmentId"]} | guard,
                {"$addToSet": {"itemIds": {"$each": taken}}, "$set": {"v": v},
                 "$setOnInsert": {"taskId": task_id, "annotator": (fact.get("actor") or {}).get("email"),
                                  "active": True, "queue": False, "removed": False, "locked": False}},
                upsert=True)
        except DuplicateKeyError:
            pass  # the assignment is at a newer version already
        queue = await self.db.view_assignments.find_one({"taskId": task_id, "queue": True} | guard)
        if queue is not None:
            where = {item: n for n, item in enumerate(queue.get("itemIds", []))}
            if handed := [where[i] for i in taken if i in where]:
                await self.db.view_assignments.update_one(
                    {"_id": queue["_id"]} | guard, {"$max": {"next": max(handed) + 1}, "$set": {"v": v}})
        if version is not None:
            await self.db.view_tasks.update_one({"_id": task_id}, {"$max": {"allocationVersion": version}})

    # reads ----------------------------------------------------------------------------------

    async def task(self, task_id: str) -> dict[str, Any] | None:
        return await self.db.view_tasks.find_one({"_id": task_id}, {"at": 0, "allocationVersion": 0,
                                                                   "statusVersion": 0})

    async def tasks(self, query: dict[str, Any], skip: int, limit: int) -> tuple[list[dict], int]:
        total = await self.db.view_tasks.count_documents(query)
        cursor = self.db.view_tasks.find(query, {"at": 0, "allocationVersion": 0, "statusVersion": 0}
                                         ).sort("_id", 1).skip(skip).limit(limit)
        return [d async for d in cursor], total

    async def assignments(self, task_id: str, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.db.view_assignments.aggregate([
            {"$match": {"taskId": task_id, "queue": {"$ne": True}} | (query or {})},
            {"$addFields": {"totalItems": {"$size": "$itemIds"}}},
            {"$project": {"itemIds": 0, "v": 0}},
            {"$sort": {"_id": 1}},
        ])
        return [d async for d in cursor]

    async def assignment(self, assignment_id: str, with_items: bool = False) -> dict[str, Any] | None:
        if with_items:
            return await self.db.view_assignments.find_one({"_id": assignment_id, "queue": {"$ne": True}}, {"v": 0})
        found = await self.db.view_assignments.aggregate([
            {"$match": {"_id": assignment_id, "queue": {"$ne": True}}},
            {"$addFields": {"totalItems": {"$size": "$itemIds"}}},
            {"$project": {"itemIds": 0, "v": 0}},
        ]).to_list(1)
        return found[0] if found else None

    async def queue_remaining(self, task_id: str) -> int:
        queue = await self.db.view_assignments.find_one({"taskId": task_id, "queue": True})
        return max(0, len(queue["itemIds"]) - queue.get("next", 0)) if queue else 0

    async def status_counts(self, task_id: str) -> dict[tuple[str, str], int]:
        """(assignment, status) -> items, counted from the statuses (exact whatever was
        delivered twice), again only once they changed."""
        task = await self.db.view_tasks.find_one({"_id": task_id}, {"statusVersion": 1}) or {}
        key = (task_id, task.get("statusVersion", 0))
        if (counted := self.counts.get(key)) is not None:
            return dict(counted)
        cursor = self.db.view_statuses.aggregate([
            {"$match": {"_id": _task_range(task_id), "status": {"$ne": None}}},
            {"$group": {"_id": {"a": "$assignmentId", "s": "$status"}, "n": {"$sum": 1}}}])
        counts = {(d["_id"]["a"], d["_id"]["s"]): d["n"] async for d in cursor}
        self.counts[key] = counts
        return dict(counts)

    async def statuses_by_id(self, ids: list[str]) -> list[dict[str, Any]]:
        return await find_in(self.db.view_statuses, "_id", ids, projection={"seen": 0, "at": 0})

    async def holding(self, item_ids: list[str]) -> list[dict[str, Any]]:
        """Active assignments (not queues) holding any of the items: `_id`, `taskId`, `itemIds`."""
        found = await find_in(self.db.view_assignments, "itemIds", item_ids,
                              {"active": True, "queue": {"$ne": True}}, {"itemIds": 1, "taskId": 1})
        return list({a["_id"]: a for a in found}.values())  # one found by several slices once

    # building once --------------------------------------------------------------------------

    async def built(self) -> bool:
        return await self.db.view_meta.count_documents({"_id": "tasks"}, limit=1) > 0

    async def build(self, owner: Any) -> None:
        """Fill the views from the task service's own documents (a deployment that had data
        before them): only documents not there yet are inserted, events keep them after."""
        for query, coll, extra in (("view_tasks", self.db.view_tasks, {"at": ""}),
                                   ("view_assignments", self.db.view_assignments, {"v": -1}),
                                   ("view_statuses", self.db.view_statuses, {"at": "", "seen": []})):
            async for page in owner.pages(query):
                try:
                    await coll.insert_many([dict(d) | extra for d in page], ordered=False)
                except BulkWriteError as exc:
                    if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                        raise
        try:
            await self.db.view_meta.insert_one({"_id": "tasks"})
        except DuplicateKeyError:
            pass


ANNOTATION_FACTS = re.compile(rb'"type": ?"(ItemClassified|AnnotationUpdated|AnnotationDeleted)"')


def _is_scene(annotation: dict[str, Any]) -> bool:
    system = (annotation.get("metadata") or {}).get("system") or {}
    return isinstance(system.get("frame"), int) and isinstance(system.get("endFrame"), int)


class AnnotationViews:
    """The annotations as the annotation service stores them (their Dataloop JSON, with
    `_projectId`, `_commandId` of the command that made it, a deletion's `_deleted`, a
    scene's `_scene.open`), kept from the annotation events, each set only by an event at
    least as recent as the one it holds."""

    def __init__(self, db: Any) -> None:
        self.db = db

    async def create_indexes(self) -> None:
        await self.db.view_annotations.create_index([("itemId", 1), ("createdAt", 1)])
        await self.db.view_annotations.create_index([("datasetId", 1)])

    async def apply(self, facts: list[dict[str, Any]]) -> None:
        ops: list[Any] = []
        for f in facts:
            kind = f.get("type")
            if kind not in ("ItemClassified", "AnnotationUpdated", "AnnotationDeleted"):
                continue
            at = _at(f)
            if kind == "AnnotationDeleted":
                ops.append(UpdateOne({"_id": f["annotationId"]} | _newer(at),
                                     {"$set": {"_deleted": {"at": f["occurredAt"]}, "at": at}}, upsert=True))
                continue
            open_scenes = set(f.get("openScenes") or [])
            made = f.get("annotations") or [f["annotation"]]
            for a in made:
                fields = a | {"_projectId": f.get("projectId"), "at": at}
                if _is_scene(a) and (kind == "ItemClassified" or "openScenes" in f):
                    fields["_scene"] = {"open": a["id"] in open_scenes}
                update: dict[str, Any] = {"$set": fields, "$unset": {"_deleted": ""}}
                if kind == "ItemClassified":
                    update["$setOnInsert"] = {"_commandId": f.get("correlationId", "")}
                ops.append(UpdateOne({"_id": a["id"]} | _newer(at), update, upsert=True))
            for gone in f.get("replaced") or []:
                ops.append(UpdateOne({"_id": gone} | _newer(at),
                                     {"$set": {"_deleted": {"at": f["occurredAt"]}, "at": at}}, upsert=True))
            for cut in f.get("trimmed") or []:
                ops.append(UpdateOne({"_id": cut["id"]} | _newer(at), {"$set": cut | {"at": at}}, upsert=True))
        # A deletion leaves a tombstone with its time, so the writes commute: each lands only
        # on an older state (a newer one makes the upsert a duplicate key, skipped).
        await _writes(self.db.view_annotations, ops)

    async def annotation(self, annotation_id: str) -> dict[str, Any] | None:
        return await self.db.view_annotations.find_one({"_id": annotation_id, "_deleted": {"$exists": False}},
                                                       {"at": 0})

    async def of_items(self, item_ids: list[str]) -> list[dict[str, Any]]:
        return await find_in(self.db.view_annotations, "itemId", item_ids, {"_deleted": {"$exists": False}},
                             {"at": 0}, sort=[("createdAt", 1)])

    async def built(self) -> bool:
        return await self.db.view_meta.count_documents({"_id": "annotations"}, limit=1) > 0

    async def build(self, owner: Any) -> None:
        """Fill the view from the annotation service's documents (a deployment that had
        data before it): only documents not there yet are inserted."""
        async for page in owner.pages("view_annotations"):
            try:
                await self.db.view_annotations.insert_many([dict(d) | {"at": ""} for d in page], ordered=False)
            except BulkWriteError as exc:
                if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                    raise
        try:
            await self.db.view_meta.insert_one({"_id": "annotations"})
        except DuplicateKeyError:
            pass


class Barrier:
    """Waits (bounded) until the gateway's group has passed every entry a stream held when
    the wait began: a read after it sees what was done before it. With Redis unreachable,
    or the group behind for longer than the bound, the read goes on (and later reads do not
    wait for `rest_s`)."""

    def __init__(self, redis: Any, stream: str, group: str = GROUP, bound_s: float = 5.0,
                 rest_s: float = 0.5) -> None:
        self.redis, self.stream, self.group = redis, stream, group
        self.bound_s, self.rest_s = bound_s, rest_s
        self.behind_until = 0.0

    async def wait(self) -> None:
        if self.redis is None or time.monotonic() < self.behind_until:
            return
        try:
            await asyncio.wait_for(self._wait(), self.bound_s)
        except TimeoutError:
            self.behind_until = time.monotonic() + self.rest_s
            log.warning("the gateway's views of %s are behind; reads answer from them as they are", self.stream)
        except Exception as exc:  # noqa: BLE001 - Redis down or busy: answer from the views as they are
            log.debug("barrier on %s skipped: %s", self.stream, exc)

    async def _group(self) -> dict[str, Any] | None:
        for g in await self.redis.xinfo_groups(self.stream):
            name = g.get("name")
            if (name.decode() if isinstance(name, bytes) else name) == self.group:
                return g
        return None

    async def _wait(self) -> None:
        g = await self._group()
        if g is None or (not g.get("pending") and g.get("lag") == 0):
            return
        last = (await self.redis.xinfo_stream(self.stream)).get("last-generated-id") or b"0-0"
        target = _entry(last)
        while True:
            if g is None or _entry(g.get("last-delivered-id") or b"0-0") >= target and (
                    not g.get("pending") or await self._pending_after(target)):
                return
            await asyncio.sleep(0.01)
            g = await self._group()

    async def _pending_after(self, target: tuple[int, int]) -> bool:
        summary = await self.redis.xpending(self.stream, self.group)
        low = summary.get("min")
        return low is None or _entry(low) > target


def _entry(entry_id: Any) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def _fact(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise TypeError("not an event")
    return body


def _wanted(pattern: re.Pattern[bytes]) -> Any:
    def wanted(raw: Any) -> bool:
        return not isinstance(raw, (bytes, bytearray)) or pattern.search(raw) is not None
    return wanted


def annotation_consumer(handle: Any) -> Consumer:
    """The gateway replicas' one reading of the annotation events for the views."""
    return Consumer(stream=streams.ANNOTATION_EVENTS, group=GROUP, parse=_fact, handle=handle,
                    title="gateway views", wanted=_wanted(ANNOTATION_FACTS), max_records=500,
                    description="The gateway replicas, as one group, keep their view of the annotations "
                    "from the annotation events (gateway.views).")


def task_consumer(handle: Any) -> Consumer:
    """The gateway replicas' one reading of the task events for the views (group `GROUP`)."""
    return Consumer(stream=streams.TASK_EVENTS, group=GROUP, parse=_fact, handle=handle,
                    title="gateway views", wanted=_wanted(TASK_FACTS), max_records=500,
                    description="The gateway replicas, as one group, keep their views of tasks, "
                    "assignments and item statuses from the task events (gateway.views).")


async def ensure_group(redis: Any, stream: str) -> None:
    """The views' group, made at the stream's end on first start: what came before is
    built from the owner once (`TaskViews.build`)."""
    try:
        await redis.xgroup_create(stream, GROUP, id="$", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class Kept:
    """The gateway's views and their upkeep: the group's handler, the reply path, the
    one-time build."""

    def __init__(self, db: Any, redis: Any, settings: Any, owners: Any) -> None:
        self.tasks = TaskViews(db)
        self.annotations = AnnotationViews(db)
        self.task_barrier = Barrier(redis, streams.stream(streams.TASK_EVENTS, settings.namespace))
        self.annotation_barrier = Barrier(redis, streams.stream(streams.ANNOTATION_EVENTS, settings.namespace))
        self.redis, self.settings, self.owners = redis, settings, owners
        self.building: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for views, barrier, owner in ((self.tasks, self.task_barrier, self.owners.task),
                                      (self.annotations, self.annotation_barrier, self.owners.annotation)):
            await views.create_indexes()
            await ensure_group(self.redis, barrier.stream)
            if not await views.built():
                self.building.append(asyncio.ensure_future(self._build(views, owner)))

    async def stop(self) -> None:
        for building in self.building:
            building.cancel()

    async def _build(self, views: Any, owner: Any) -> None:
        while True:
            try:
                await views.build(owner)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the owner not up yet: again later
                log.info("views not built yet (%s); trying again", exc)
                await asyncio.sleep(5)

    async def on_task_facts(self, facts: list[dict[str, Any]]) -> None:
        await self.tasks.apply(facts)

    async def on_annotation_facts(self, facts: list[dict[str, Any]]) -> None:
        await self.annotations.apply(facts)

    async def recorded(self, record: dict[str, Any]) -> None:
        """A finished command's stored outcome, before its operation is answered: its events
        are in the views when the client that saw it done reads next (applied again by the
        group, which changes nothing). A superseded status's events were never published."""
        if record.get("superseded"):
            return
        events = record.get("events") or ([record["event"]] if record.get("event") else [])
        for event in events:
            await self.replied(event, True)

    async def replied(self, event: Any, published: bool) -> None:
        """A command's outcome, before its request is answered: its change is in the views
        when the client reads next (the group applies it again, which changes nothing)."""
        if not published or not isinstance(event, dict):
            return
        try:
            if event.get("type") in ("TaskChanged", "ItemStatusChanged"):
                await self.tasks.apply([event])
            elif event.get("type") in ("ItemClassified", "AnnotationUpdated", "AnnotationDeleted"):
                await self.annotations.apply([event])
        except Exception as exc:  # noqa: BLE001 - the group applies it; a read waits for that
            log.warning("a reply's event was not applied to the views: %s", exc)
