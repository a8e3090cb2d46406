"""The task service's storage: the Protocol its handlers use and its MongoDB (motor)
implementation, the only module of the service that imports the driver.

`tasks` holds task documents; `assignments` holds each assignment with its `itemIds` in
work order (a pulling task's hidden queue is an assignment with `queue: true` and a `next`
cursor, so a pull is one atomic `$inc`); `allocations` says who holds each item of a task,
in buckets: the item's entry `h.<item>` (the assignment or hidden queue, without its item
list) in one of the task's ALLOCATION_BUCKETS documents (`_id` "<task>#<n>", n a stable
hash of the item), written by every step that moves items and read by `_id` for an item
command's check (an assignment's item list can be 100,000 ids long: asking the server which
one holds an item reads them; a document per item cost a 20,000-item task 0.6 s to create
on the embedded server, against 20 ms for its buckets: docs/fast-paths.md); `item_statuses` holds an item's status in a task
with its log; `task_progress` the status counts per task; `operations` each command's
outcome record (shared.platform.runner). A bulk's plan is in `bulk_operations`, its small
changing state in `bulk_states` and the statuses it changed in `bulk_status_changes`.
The items a task takes come resolved in its commands (the gateway's catalog holds them)."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from cachetools import TTLCache
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.contracts.envelope import utcnow
from shared.platform.mongo import find_in, update_in
from shared.rules.progress import progress_counts, status_count_pipeline, status_key

log = logging.getLogger("classifier.task")
DUPLICATE_KEY = 11000
HOLDER_FIELDS = ("_id", "taskId", "annotator", "queue", "removed", "locked", "active")
PLAN_FIELDS = ("items", "statusChanges")  # a bulk's plan, apart from its state
UNREAD = object()  # write_status: the status document was not read ahead
# Per status document, its last writes by single commands (command id, the status it
# replaced, the assignment that was counted under): a command redelivered after its write,
# even once later ones overwrote it, still counts what it changed. Read only then (a
# superseded command), never ahead: every status read would pay for it.
WRITTEN = 8
BEFORE = {"status": 1, "lastCommandId": 1, "assignmentId": 1, "position": 1, "log": {"$slice": -2}}


@dataclass(frozen=True)
class Written:
    """What a status write replaced; `current` False: a later command overwrote it since."""

    previous: str | None
    counted_under: str
    current: bool = True


def _was_written(before: dict[str, Any], doc: dict[str, Any]) -> Written:
    """A redelivered command whose write is the document's last: what it replaced, read from
    the log entry before its own, where a cleared status's entry names the status it removed
    (the status after it is none)."""
    log = before.get("log", [])
    if len(log) < 2:
        return Written(None, doc["assignmentId"])
    earlier = log[-2]
    status = earlier["status"].get("status") if earlier.get("action") != "deleted" else None
    return Written(status, earlier["status"].get("assignmentId", doc["assignmentId"]))


class TaskRepository(Protocol):
    """What the task service's handlers need of storage (tests/fakes/task_repository.py
    keeps it in memory)."""

    # outcome records (shared.platform.runner.OutcomeStore)
    async def outcomes(self, command_ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    async def save_outcomes(self, outcomes: list[dict[str, Any]]) -> None: ...
    # tasks and assignments
    async def task(self, task_id: str) -> dict[str, Any] | None: ...
    async def cached_task(self, task_id: str) -> dict[str, Any] | None: ...
    async def insert_task(self, task: dict[str, Any], assignments: list[dict[str, Any]]) -> None: ...
    async def update_task(self, task_id: str, changes: dict[str, Any]) -> dict[str, Any] | None: ...
    async def bump_allocation(self, task_id: str) -> int: ...
    async def assignments(self, task_id: str, with_items: bool = False) -> list[dict[str, Any]]: ...
    async def assignment(self, assignment_id: str) -> dict[str, Any] | None: ...
    async def holding(self, task: dict[str, Any], item_id: str) -> dict[str, Any] | None: ...
    async def allocations(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    async def allocate(self, task_id: str, item_ids: list[str], holder: dict[str, Any] | None,
                       new: bool = False) -> None: ...
    async def insert_assignment(self, doc: dict[str, Any]) -> None: ...
    async def set_assignment(self, assignment_id: str, changes: dict[str, Any]) -> None: ...
    async def take_from_queue(self, queue_id: str, count: int) -> list[str]: ...
    async def return_to_queue(self, queue_id: str, assignment_id: str, item_ids: list[str],
                              command_id: str) -> list[str]: ...
    # statuses and their counts
    async def statuses(self, task_id: str, item_ids: list[str]) -> dict[str, dict[str, Any]]: ...
    async def status_befores(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    async def write_status(self, doc: dict[str, Any], log_entry: dict[str, Any],
                           before: Any = UNREAD) -> Written | None: ...
    async def move_statuses(self, task_id: str, item_ids: list[str], assignment_id: str) -> None: ...
    async def count(self, task_id: str, command_id: str, deltas: dict[tuple[str, str], int]) -> None: ...
    def counted(self, task_id: str, command_id: str) -> None: ...
    async def status_counts(self, task_id: str) -> dict[tuple[str, str], int]: ...
    # bulks (services.task.bulk)
    async def bulk_record(self, bulk_id: str, summary: bool = False) -> dict[str, Any] | None: ...
    async def save_bulk_record(self, record: dict[str, Any]) -> None: ...
    async def mark_bulk(self, bulk_id: str, changes: dict[str, Any]) -> None: ...
    async def save_bulk_status_changes(self, bulk_id: str, changes: list[list[Any]]) -> None: ...
    async def status_docs(self, task_id: str, item_ids: list[str]) -> dict[str, dict[str, Any]]: ...
    async def insert_statuses(self, docs: list[dict[str, Any]]) -> set[str]: ...
    async def update_statuses(self, ids: list[str], unless_command: str, fields: dict[str, Any],
                              log: dict[str, Any]) -> None: ...


class MongoTaskRepository:
    def __init__(self, client: AsyncIOMotorClient, database: str) -> None:
        self.client = client
        self.db = client[database]
        self._tasks: TTLCache[str, dict[str, Any]] = TTLCache(10_000, 1.0)
        self._building: dict[str, asyncio.Future[None]] = {}  # task -> its allocation being built
        self._counting: dict[str, str] = {}  # command -> task, counted, its outcome not yet stored
        self._counted: dict[str, set[str]] = {}  # task -> commands whose outcome is stored

    async def create_indexes(self) -> None:
        await self.db.assignments.create_index([("itemIds", ASCENDING)])
        await self.db.assignments.create_index([("taskId", ASCENDING), ("annotator", ASCENDING)])
        # `item_statuses` and `allocations` have no index but `_id` ("<task>:<item>"): every
        # read is by id, and progress comes from `task_progress`. An index there cost each
        # status write, and a 10,000-item bulk ~1 s on the embedded server.
        await self.db.tasks.create_index([("projectId", ASCENDING)])

    async def ping(self) -> bool:
        try:
            await self.db.command("ping")
            return True
        except Exception:
            return False

    def close(self) -> None:
        self.client.close()

    # outcomes -------------------------------------------------------------------------------

    async def outcomes(self, command_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(command_ids)
        if not ids:
            return {}
        cursor = self.db.operations.find({"_id": {"$in": ids}})
        return {d["_id"]: d async for d in cursor}

    async def save_outcomes(self, outcomes: list[dict[str, Any]]) -> None:
        """Store outcome records (one already stored stays); the counts their commands made
        need no guard against a redelivery from then on (`count`)."""
        await insert_many_once(self.db.operations, outcomes)
        for outcome in outcomes:
            if (task_id := self._counting.pop(outcome["_id"], None)) is not None:
                self.counted(task_id, outcome["_id"])

    # tasks and assignments -----------------------------------------------------------------

    async def task(self, task_id: str) -> dict[str, Any] | None:
        return await self.db.tasks.find_one({"_id": task_id})

    async def cached_task(self, task_id: str) -> dict[str, Any] | None:
        """The task, read at most once a second per process: item-level commands read it
        on every call. This process's own changes drop the entry at once; another replica's
        change is seen within the second."""
        found = self._tasks.get(task_id)
        if found is None:
            found = await self.task(task_id)
            if found is not None:
                self._tasks[task_id] = found
        return found

    async def insert_task(self, task: dict[str, Any], assignments: list[dict[str, Any]]) -> None:
        """Assignments and their items' allocation first, the task last: a redelivered
        create finds the task and stops."""
        await insert_many_once(self.db.assignments, assignments)
        await self._insert_allocation(task["_id"], assignments)
        await insert_once(self.db.task_progress, {"_id": task["_id"], "counts": {}, "applying": {}})
        await insert_once(self.db.tasks, task)

    async def update_task(self, task_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        self._tasks.pop(task_id, None)
        return await self.db.tasks.find_one_and_update(
            {"_id": task_id}, changes, return_document=ReturnDocument.AFTER)

    async def assignments(self, task_id: str, with_items: bool = False) -> list[dict[str, Any]]:
        projection = None if with_items else {"itemIds": 0}
        cursor = self.db.assignments.find({"taskId": task_id}, projection).sort("_id", ASCENDING)
        return [d async for d in cursor]

    async def bump_allocation(self, task_id: str) -> int:
        """Mark that the task's allocation changed (TaskChanged and ItemsPulled carry the
        version, so readers of the facts know which is newer). The new version."""
        self._tasks.pop(task_id, None)
        task = await self.db.tasks.find_one_and_update({"_id": task_id}, {"$inc": {"allocationVersion": 1}},
                                                       {"allocationVersion": 1},
                                                       return_document=ReturnDocument.AFTER)
        return int((task or {}).get("allocationVersion", 0))

    async def assignment(self, assignment_id: str) -> dict[str, Any] | None:
        return await self.db.assignments.find_one({"_id": assignment_id})

    # allocation: who holds each item ---------------------------------------------------------

    async def holding(self, task: dict[str, Any], item_id: str) -> dict[str, Any] | None:
        """The assignment holding the item (without its item list), else the hidden queue
        if the item waits there, else None (not in the task): the item's entry in its
        allocation bucket. A task made before allocation documents were kept has them built
        from its assignments on first use, once."""
        holder = await self._held(task["_id"], item_id)
        if holder is not None:
            return holder
        if await self.db.allocations.find_one({"_id": built_mark(task["_id"])}, {"_id": 1}) is not None:
            return None
        await self._build_allocation(task["_id"])
        return await self._held(task["_id"], item_id)

    async def _held(self, task_id: str, item_id: str) -> dict[str, Any] | None:
        found = await self.db.allocations.find_one({"_id": bucket_of(task_id, item_id)},
                                                   {held_field(item_id): 1})
        return _entries(found).get(_key(item_id))

    async def allocations(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """"<task>:<item>" -> the assignment holding it, for those that have an entry (a
        batch's items read at once, one read of each bucket they fall in; `holding` answers
        the others)."""
        wanted: dict[str, list[tuple[str, str]]] = {}
        for allocation_id in ids:
            task_id, _, item_id = allocation_id.partition(":")
            wanted.setdefault(bucket_of(task_id, item_id), []).append((allocation_id, item_id))
        if not wanted:
            return {}
        fields = {held_field(item): 1 for pairs in wanted.values() for _, item in pairs}
        found: dict[str, dict[str, Any]] = {}
        for doc in await find_in(self.db.allocations, "_id", list(wanted), projection=fields):
            held = _entries(doc)
            found |= {allocation_id: held[_key(item)] for allocation_id, item in wanted[doc["_id"]]
                      if _key(item) in held}
        return found

    async def allocate(self, task_id: str, item_ids: list[str], holder: dict[str, Any] | None,
                       new: bool = False) -> None:
        """Say that `holder` (an assignment or the hidden queue) holds the items now; None:
        the items left the task; `new`: the items join the task (their entries are made as
        any other's is set). Written before the assignments change (a redelivered command
        plans again from the assignments as they were), and idempotent. A move of a task
        made before allocation documents were kept sets the moved items' entries only: the
        others are built from the assignments on first use."""
        if item_ids:
            lite = None if holder is None else holder_of(holder)
            await self._write_entries(task_id, dict.fromkeys(item_ids, lite))

    async def _write_entries(self, task_id: str, holders: dict[str, dict[str, Any] | None]) -> None:
        """Set (to a holder) or remove (None) items' entries: one upsert per bucket they
        fall in, sent together."""
        buckets: dict[str, dict[str, dict[str, Any] | None]] = {}
        for item, holder in holders.items():
            buckets.setdefault(bucket_of(task_id, item), {})[held_field(item)] = holder
        ops = []
        for bucket, entries in buckets.items():
            change: dict[str, Any] = {"$setOnInsert": {"taskId": task_id}}
            if kept := {f: h for f, h in entries.items() if h is not None}:
                change["$set"] = kept
            if gone := {f: "" for f, h in entries.items() if h is None}:
                change["$unset"] = gone
            ops.append(UpdateOne({"_id": bucket}, change, upsert=True))
        if ops:
            await self.db.allocations.bulk_write(ops, ordered=False)

    async def _insert_allocation(self, task_id: str, assignments: list[dict[str, Any]]) -> None:
        """The allocation entries of a task's assignments as they stand (a new task, or one
        made before they were kept), then the mark that the task has them: each bucket
        inserted whole. Where a bucket is there already (a redelivery, or a move of a task
        made before they were kept), its entries stay and only the missing ones are added."""
        holders: dict[str, dict[str, Any]] = {}
        for a in sorted(assignments, key=lambda a: not a.get("queue")):  # an assignment over the queue
            if a.get("active", True):
                lite = holder_of(a)
                holders |= dict.fromkeys(a.get("itemIds", []), lite)
        buckets: dict[str, dict[str, Any]] = {}
        for item, holder in holders.items():
            buckets.setdefault(bucket_of(task_id, item), {})[item] = holder
        there = await insert_many_once(self.db.allocations, [
            {"_id": bucket, "taskId": task_id, "h": {_key(item): h for item, h in entries.items()}}
            for bucket, entries in buckets.items()])
        if there:
            docs = await find_in(self.db.allocations, "_id", sorted(there))
            await self._write_entries(task_id, {item: h for doc in docs for item, h in buckets[doc["_id"]].items()
                                                if _key(item) not in _entries(doc)})
        await insert_once(self.db.allocations, {"_id": built_mark(task_id), "taskId": task_id})

    async def _build_allocation(self, task_id: str) -> None:
        """One build per task however many commands ask at once."""
        if task_id not in self._building:
            async def build() -> None:
                await self._insert_allocation(task_id, await self.assignments(task_id, with_items=True))
            self._building[task_id] = asyncio.ensure_future(build())
            self._building[task_id].add_done_callback(lambda _: self._building.pop(task_id, None))
        await asyncio.shield(self._building[task_id])

    async def insert_assignment(self, doc: dict[str, Any]) -> None:
        await insert_once(self.db.assignments, doc)

    async def set_assignment(self, assignment_id: str, changes: dict[str, Any]) -> None:
        await self.db.assignments.update_one({"_id": assignment_id}, changes)

    async def take_from_queue(self, queue_id: str, count: int) -> list[str]:
        """Atomically move the queue's cursor by up to `count`; the ids passed over. Read
        from the post-image: the write's own, where a pre-image may be stale under concurrent
        pulls on some MongoDB-wire servers (the embedded one handed out items twice)."""
        after = await self.db.assignments.find_one_and_update(
            {"_id": queue_id}, {"$inc": {"next": count}}, return_document=ReturnDocument.AFTER)
        start = after["next"] - count
        return after["itemIds"][start:start + count]

    async def return_to_queue(self, queue_id: str, assignment_id: str, item_ids: list[str],
                              command_id: str) -> list[str]:
        """Move items from an assignment back into the queue at its cursor (the next pull
        hands them out first); the ids moved. Never in two places: the assignment gives them
        up first, noting them under the command id, so a redelivery finishes the move."""
        mark = f"returning.{command_id}"
        doc = await self.db.assignments.find_one({"_id": assignment_id}, {"itemIds": 1, "returning": 1})
        taken = (doc.get("returning") or {}).get(command_id) if doc else None
        if taken is None:
            present = set(doc["itemIds"]) if doc else set()
            taken = [i for i in dict.fromkeys(item_ids) if i in present]
            if not taken:
                return []
            gave = await self.db.assignments.update_one(
                {"_id": assignment_id, "itemIds": {"$all": taken}, mark: {"$exists": False}},
                {"$pull": {"itemIds": {"$in": taken}}, "$set": {mark: taken}})
            if not gave.modified_count:  # changed meanwhile: start again from what is there
                return await self.return_to_queue(queue_id, assignment_id, item_ids, command_id)
        while True:  # insert at the cursor, unless a pull moved it meanwhile
            queue = await self.db.assignments.find_one({"_id": queue_id})
            if command_id in queue.get("returnedBy", []):
                break
            at = min(queue["next"], len(queue["itemIds"]))  # a pull may have run past the end
            put = await self.db.assignments.update_one(
                {"_id": queue_id, "next": queue["next"], "returnedBy": {"$ne": command_id}},
                {"$push": {"itemIds": {"$each": taken, "$position": at},
                           "returnedBy": {"$each": [command_id], "$slice": -1000}},
                 "$set": {"next": at}})
            if put.modified_count:
                break
        await self.db.assignments.update_one({"_id": assignment_id}, {"$unset": {mark: ""}})
        return taken

    # statuses ------------------------------------------------------------------------------

    async def statuses(self, task_id: str, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        ids = [f"{task_id}:{i}" for i in item_ids]
        return {d["itemId"]: d for d in await find_in(self.db.item_statuses, "_id", ids, {"status": {"$ne": None}})}

    async def status_befores(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Status documents by id, as `write_status` reads them (read ahead for a batch)."""
        ids = list(ids)
        if not ids:
            return {}
        return {d["_id"]: d for d in await find_in(self.db.item_statuses, "_id", ids, projection=BEFORE)}

    async def write_status(self, doc: dict[str, Any], log_entry: dict[str, Any],
                           before: Any = UNREAD) -> Written | None:
        """Write the status and its log entry, as a compare-and-set on what was read, so two
        replicas writing one item's status at once cannot both count from the same previous
        status (the loser reads again). Returns the status it replaced and the assignment
        that was counted under; None when a later command on the item (a greater
        `position`, its place in the status stream) is written already and this one never
        was: it is superseded. A redelivered command that was written (its outcome not
        stored: the process died in between) changes nothing and reports what it replaced,
        kept in the document's last `WRITTEN` writes, so its count can still be made once;
        `current` is False when a later command has overwritten it since. A cleared
        status's log entry names the status removed, as Dataloop's log does. `before` is the
        document read ahead (None: there was none), else it is read here. (A read, then an
        update by `_id`: the embedded server answers findAndModify on an existing document
        with a collection scan.)"""
        coll = self.db.item_statuses
        while True:
            if before is UNREAD:
                before = await coll.find_one({"_id": doc["_id"]}, BEFORE)
            if before and before.get("lastCommandId") == doc["lastCommandId"]:
                return _was_written(before, doc)
            if before and doc.get("position") and before.get("position", "") > doc["position"]:
                later = await coll.find_one({"_id": doc["_id"]}, {"written": 1})
                mine = [w for w in (later or {}).get("written", []) if w.get("c") == doc["lastCommandId"]]
                return Written(mine[-1].get("p"), mine[-1]["u"], current=False) if mine else None
            previous = (before or {}).get("status")
            counted_under = (before or {}).get("assignmentId", doc["assignmentId"])
            entry = log_entry
            if log_entry["action"] == "deleted":
                entry = log_entry | {"status": log_entry["status"] | {"status": previous}}
            if await self._swap(doc, entry, {"c": doc["lastCommandId"], "p": previous, "u": counted_under}, before):
                return Written(previous, counted_under)
            before = UNREAD  # someone wrote in between: read again

    async def _swap(self, doc: dict[str, Any], log_entry: dict[str, Any], written: dict[str, Any],
                    before: dict[str, Any] | None) -> bool:
        """Write the status only if the document is still as read (absent: still absent)."""
        coll = self.db.item_statuses
        if before is None:
            try:
                await coll.insert_one(doc | {"log": [log_entry], "written": [written]})
            except DuplicateKeyError:
                return False
            return True
        as_read = {k: before.get(k) for k in ("lastCommandId", "status", "assignmentId", "position")}
        result = await coll.update_one({"_id": doc["_id"]} | as_read, {
            "$set": doc, "$push": {"log": log_entry, "written": {"$each": [written], "$slice": -WRITTEN}}})
        return result.matched_count == 1

    # progress: status counts per task, kept as statuses change --------------------------------

    async def count(self, task_id: str, command_id: str, deltas: dict[tuple[str, str], int]) -> None:
        """Apply a command's change to the task's status counts exactly once. The command's
        id waits in `applying` while its outcome is not yet stored, so a redelivery after a
        crash in between finds it and does not count again; ids whose outcome is stored
        (`counted`) are cleared by this process's next count on the task."""
        if not deltas:
            return
        done = self._counted.get(task_id, set()) - {command_id}
        update: dict[str, Any] = {
            "$inc": {f"counts.{a}.{status_key(st)}": n for (a, st), n in deltas.items()},
            "$set": {f"applying.{command_id}": utcnow()}}
        if done:
            update["$unset"] = {f"applying.{c}": "" for c in done}
        result = await self.db.task_progress.update_one(
            {"_id": task_id, f"applying.{command_id}": {"$exists": False}}, update)
        if result.matched_count:
            self._counted[task_id] = self._counted.get(task_id, set()) - done
            self._counting[command_id] = task_id
        elif await self.db.task_progress.count_documents({"_id": task_id}, limit=1) == 0:
            await self.rebuild_progress(task_id)  # made before counts were kept: count all once

    def counted(self, task_id: str, command_id: str) -> None:
        """The command's outcome is stored: a redelivery stops there, so its guard may go
        (`save_outcomes` says so of the commands it stores)."""
        self._counted.setdefault(task_id, set()).add(command_id)

    async def status_counts(self, task_id: str) -> dict[tuple[str, str], int]:
        """(assignmentId, status) -> number of items."""
        progress = await self.db.task_progress.find_one({"_id": task_id}, {"counts": 1})
        if progress is None:
            return await self.rebuild_progress(task_id)
        return progress_counts(progress)

    async def rebuild_progress(self, task_id: str) -> dict[tuple[str, str], int]:
        """Count a task's statuses from `item_statuses` (a scan: for tasks made by versions
        that did not keep counts) and store the counts, unless someone stored them first."""
        counts = await recount(self.db, task_id)
        doc: dict[str, Any] = {"_id": task_id, "counts": {}, "applying": {}}
        for (a, st), n in counts.items():
            doc["counts"].setdefault(a, {})[status_key(st)] = n
        await insert_once(self.db.task_progress, doc)
        return counts

    async def move_statuses(self, task_id: str, item_ids: list[str], assignment_id: str) -> None:
        await update_in(self.db.item_statuses, "_id", [f"{task_id}:{i}" for i in item_ids],
                        {"$set": {"assignmentId": assignment_id}})

    # bulks: the plan written once, the small state apart (marking progress does not
    # rewrite a 10,000-item plan of ~0.5 MB), the statuses changed found as they are written

    async def bulk_record(self, bulk_id: str, summary: bool = False) -> dict[str, Any] | None:
        """The bulk's record (plan and state); with `summary`, its state only."""
        state = await self.db.bulk_states.find_one({"_id": bulk_id})
        if summary and state is not None:
            return state
        plan = await self.db.bulk_operations.find_one({"_id": bulk_id})
        if plan is None:
            return None
        if "statusChanges" not in plan and (found := await self.db.bulk_status_changes.find_one({"_id": bulk_id})):
            plan["statusChanges"] = found["statusChanges"]
        if state is None:  # the plan was stored, then the process died
            state = _state_of(plan)
            await insert_once(self.db.bulk_states, state)
        return state if summary else plan | state

    async def save_bulk_record(self, record: dict[str, Any]) -> None:
        await insert_once(self.db.bulk_operations, record)
        await insert_once(self.db.bulk_states, _state_of(record))

    async def mark_bulk(self, bulk_id: str, changes: dict[str, Any]) -> None:
        await self.db.bulk_states.update_one({"_id": bulk_id}, {"$set": changes})

    async def save_bulk_status_changes(self, bulk_id: str, changes: list[list[Any]]) -> None:
        """The statuses a bulk changes, found as it writes them (part of its plan)."""
        await insert_once(self.db.bulk_status_changes, {"_id": bulk_id, "statusChanges": changes})

    async def status_docs(self, task_id: str, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        """item id -> its status document in the task (also those with no status)."""
        docs = await find_in(self.db.item_statuses, "_id", [f"{task_id}:{i}" for i in item_ids],
                             projection={"log": 0})
        return {d["itemId"]: d for d in docs}

    async def insert_statuses(self, docs: list[dict[str, Any]]) -> set[str]:
        """Insert new status documents; one already there is left. The ids of those."""
        return await insert_many_once(self.db.item_statuses, docs)

    async def update_statuses(self, ids: list[str], unless_command: str, fields: dict[str, Any],
                              log: dict[str, Any]) -> None:
        """Set `fields` on the status documents `ids`, except where `unless_command` already
        wrote (a redelivery)."""
        await update_in(self.db.item_statuses, "_id", ids, {"$set": fields, "$push": {"log": log}},
                        {"lastCommandId": {"$ne": unless_command}})


def holder_of(assignment: dict[str, Any]) -> dict[str, Any]:
    """An assignment as an allocation document names it: what the item rules read of it."""
    return {k: assignment.get(k) for k in HOLDER_FIELDS}


ALLOCATION_BUCKETS = 1024  # a task's allocation entries, spread over this many documents
_ESCAPED = str.maketrans({"%": "%25", ".": "%2E", "$": "%24"})


def bucket_of(task_id: str, item_id: str) -> str:
    """The `_id` of the allocation document holding the item's entry (a stable hash of the
    item picks one of the task's ALLOCATION_BUCKETS)."""
    return f"{task_id}#{zlib.crc32(item_id.encode()) % ALLOCATION_BUCKETS}"


def _key(item_id: str) -> str:
    """The item's entry's name in its bucket's `h` (a field name holds no dot and starts
    with no dollar)."""
    return item_id.translate(_ESCAPED)


def _entries(bucket: dict[str, Any] | None) -> dict[str, Any]:
    """A bucket's entries (none for no bucket), by `_key` of the item."""
    return (bucket or {}).get("h") or {}


def held_field(item_id: str) -> str:
    return f"h.{_key(item_id)}"


def built_mark(task_id: str) -> str:
    """The `_id` of the document saying that a task's allocation documents are all written
    (no item has an empty id)."""
    return f"{task_id}:"


def _state_of(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in PLAN_FIELDS}


async def recount(db: Any, task_id: str) -> dict[tuple[str, str], int]:
    """(assignmentId, status) -> items, counted from the status documents themselves."""
    cursor = db.item_statuses.aggregate(status_count_pipeline(task_id))
    return {(d["_id"]["a"], d["_id"]["s"]): d["n"] async for d in cursor}


async def insert_once(collection: Any, doc: dict[str, Any]) -> None:
    """Insert, unless a redelivery inserted it already."""
    try:
        await collection.insert_one(doc)
    except DuplicateKeyError:
        pass


async def insert_many_once(collection: Any, docs: list[dict[str, Any]]) -> set[Any]:
    """Insert those not there yet (a redelivery finishes an interrupted insert); the ids of
    those that were there."""
    if not docs:
        return set()
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return {docs[e["index"]]["_id"] for e in errors}
    return set()


def connect(url: str, database: str) -> MongoTaskRepository:
    client: AsyncIOMotorClient = AsyncIOMotorClient(url, serverSelectionTimeoutMS=3000, tz_aware=True)
    return MongoTaskRepository(client, database)
