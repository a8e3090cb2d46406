"""Fast path of the task browser: per task, an in-memory index of its items in this gateway
process (gateway.browse_index), built from MongoDB on the task's first use and kept fresh
from the event streams every replica already reads without a group.

MongoDB cannot answer the browser in time (a filtered, sorted page of a big task and its
count, even with compound indexes); the index can (figures: docs/fast-paths.md, The task
browser's index).

Freshness:
- Events change the index as they are read, before the requests waiting for them are
  answered (gateway.container), so a status set or a classify answered to a client is in
  this replica's list already, and in other replicas' after their next read.
- Events it cannot follow (items added or removed, a redistribution or reassignment, a
  status of an item or assignment it has not seen) mark it stale: the next request waits for
  a rebuild, while events read meanwhile are kept and replayed over the rebuilt index.
- An index older than `max_age_s` is rebuilt in the background (the old one answers
  meanwhile), so one that missed events (a reader restarted past a trimmed stream) is wrong
  for at most that long; one unused for `idle_s` is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.browse_index import Rows, TaskIndex
from shared.platform.messaging import decoded_object
from shared.platform.mongo import find_in

log = logging.getLogger("classifier.gateway")

_TYPE = re.compile(rb'"type": ?"(ItemStatusChanged|ItemsPulled|TaskChanged|ItemClassified|'
                   rb'AnnotationUpdated|AnnotationDeleted)"')
_TASK = re.compile(rb'"taskId": ?"([^"]*)"')
_ITEM = re.compile(rb'"itemId": ?"([^"]*)"')
TASK_FACTS = {b"ItemStatusChanged", b"ItemsPulled", b"TaskChanged"}
SMALL_TASK = 5_000  # up to this many items, read items and classes by id; else by dataset
NOT_DELETED = {"_deleted": {"$exists": False}}


@dataclass
class Entry:
    index: TaskIndex | None = None
    built_at: float = 0.0
    used_at: float = 0.0
    stale: bool = False
    building: asyncio.Task[None] | None = None
    seen: list[Any] | None = None  # events read while building, replayed over the new index
    error: Exception | None = None


@dataclass
class Browser:
    db: Any
    max_age_s: float = 300.0
    idle_s: float = 600.0
    most_tasks: int = 20
    clock: Callable[[], float] = time.monotonic
    entries: dict[str, Entry] = field(default_factory=dict)
    builds: int = 0  # for tests and the bench

    async def index(self, task_id: str) -> TaskIndex:
        """The task's index: built on first use (the caller waits), rebuilt when stale (the
        caller waits) or old (in the background)."""
        now = self.clock()
        self._forget_idle(now)
        entry = self.entries.setdefault(task_id, Entry())
        entry.used_at = now
        for _ in range(3):  # a change landing during a rebuild makes it stale again
            if entry.index is not None and not entry.stale:
                break
            if entry.building is None:
                self._build(task_id, entry)
            await asyncio.shield(entry.building)  # type: ignore[arg-type]
            if entry.index is None and entry.error is not None:
                raise entry.error
        if now - entry.built_at > self.max_age_s and entry.building is None:
            self._build(task_id, entry)
        assert entry.index is not None
        return entry.index

    def _build(self, task_id: str, entry: Entry) -> None:
        entry.seen, entry.error = [], None
        entry.building = asyncio.ensure_future(self._rebuild(task_id, entry))

    async def _rebuild(self, task_id: str, entry: Entry) -> None:
        started = self.clock()
        try:
            known = await asyncio.to_thread(entry.index.item_facts) if entry.index else {}
            rows = await load_rows(self.db, task_id, known)
            index = await asyncio.to_thread(TaskIndex, rows)
            entry.stale = not all(self._apply(index, raw) for raw in entry.seen or [])
            entry.index, entry.built_at = index, started
            self.builds += 1
        except Exception as exc:  # the waiting request answers it (503 for MongoDB down)
            log.warning("browse index of task %s not built: %r", task_id, exc)
            entry.error = exc
        finally:
            entry.seen, entry.building = None, None

    def _forget_idle(self, now: float) -> None:
        """Drop indexes unused for `idle_s`, and the least recently used past `most_tasks`."""
        idle = sorted((e.used_at, t) for t, e in self.entries.items() if e.building is None)
        for used_at, task_id in idle:
            if now - used_at > self.idle_s or len(self.entries) >= self.most_tasks:
                del self.entries[task_id]

    # events ---------------------------------------------------------------------------------

    def deliver(self, raws: list[Any]) -> None:
        """Events as sent (JSON bytes); only those about a task or item held here are decoded."""
        if not self.entries:
            return
        for raw in raws:
            if not isinstance(raw, (bytes, bytearray)) or (kind := _TYPE.search(raw)) is None:
                continue
            if kind.group(1) in TASK_FACTS:
                task = _TASK.search(raw)
                entry = self.entries.get(task.group(1).decode()) if task else None
                targets = [entry] if entry is not None else []
            else:
                item = _ITEM.search(raw)
                item_id = item.group(1).decode() if item else ""
                targets = [e for e in self.entries.values()
                           if e.seen is not None or (e.index is not None and e.index.holds(item_id))]
            for entry in targets:
                if entry.seen is not None:
                    entry.seen.append(raw)
                if entry.index is not None and not self._apply(entry.index, raw):
                    entry.stale = True

    @staticmethod
    def _apply(index: TaskIndex, raw: Any) -> bool:
        fact = decoded_object(raw)
        if fact is None:
            return True
        try:
            return index.apply(fact)
        except (KeyError, TypeError, IndexError):  # an event of another shape: start over
            return False


async def load_rows(db: Any, task_id: str, known: dict[str, dict[str, Any]] | None = None) -> Rows:
    """A task's items with who holds them, their statuses and their class annotations, read
    from the task service's and the catalog's collections (read only). Items in `known` (a
    previous index's) are not read again. One read after the other: the embedded server took
    longer for two side by side."""
    task = await db.tasks.find_one({"_id": task_id}, {"datasetId": 1, "availableActions": 1})
    if task is None:
        return Rows([], {}, {})
    holders: dict[str, str | None] = {}
    annotators: dict[str, str | None] = {}
    async for a in db.assignments.find({"taskId": task_id, "active": True}):
        if a.get("queue"):
            holders.update((i, None) for i in a["itemIds"][a.get("next", 0):])
        else:
            annotators[a["_id"]] = a.get("annotator")
            holders.update((i, a["_id"]) for i in a["itemIds"])
    ids = list(holders)
    known = known or {}
    missing = [i for i in ids if i not in known]
    shown = {"name": 1, "dir": 1, "createdAt": 1, "thumbnailFileId": 1}
    classes_q = {"type": "class"} | NOT_DELETED
    # Up to SMALL_TASK ids are read by id; more in one pass over the dataset, which beats a
    # hundred thousand ids in slices.
    if len(missing) <= SMALL_TASK:
        items = [known[i] for i in ids if i in known] + await find_in(db.items, "_id", missing, None, shown)
    else:
        items = [d async for d in db.items.find({"datasetId": task["datasetId"]}, shown)]
    if len(ids) <= SMALL_TASK:
        annotations = await find_in(db.annotations, "itemId", ids, classes_q, {"itemId": 1, "label": 1})
    else:
        annotations = [d async for d in db.annotations.find(
            {"datasetId": task["datasetId"]} | classes_q, {"itemId": 1, "label": 1})]
    statuses = {d["itemId"]: d["status"] async for d in db.item_statuses.find(
        {"_id": {"$gte": f"{task_id}:", "$lt": f"{task_id};"}}, {"itemId": 1, "status": 1})
        if d.get("status")}
    classes: dict[str, dict[str, str]] = {}
    for a in annotations:
        classes.setdefault(a["itemId"], {})[a["_id"]] = a["label"]
    return Rows(items, holders, annotators, statuses, classes,
                [a["action"] for a in task.get("availableActions", [])])
