"""Fast path of the task browser: per task, an in-memory index of its items in this gateway
process (gateway.browse_index), built on the task's first use (the items from the catalog;
holders, statuses and classes asked of the task and annotation services, gateway.owners) and
kept fresh from the event streams every replica already reads without a group.

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
BIG_PAGE = 10_000  # small documents (item, label or status) per answer of a big task's read


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
    db: Any  # the catalog's database: the items
    owners: Any  # gateway.owners.Owners: the task's holders, statuses and classes, asked
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
            rows = await load_rows(self.db, self.owners, task_id, known)
            index = await asyncio.to_thread(TaskIndex, rows)
            entry.stale = not all(self._apply(index, raw) for raw in entry.seen or [])
            entry.index, entry.built_at = index, started
            self.builds += 1
        except Exception as exc:  # the waiting request answers it (503 for MongoDB down or an owner not answering)
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


async def load_rows(db: Any, owners: Any, task_id: str, known: dict[str, dict[str, Any]] | None = None) -> Rows:
    """A task's items with who holds them, their statuses and their class annotations: the
    items from the catalog, the rest asked of the task and annotation services (page by
    page). Items in `known` (a previous index's) are not read again. The holders and the
    statuses are asked side by side, then the items and the classes (two owners and the
    catalog, each answering from its own process)."""
    tasks, annotations = owners.task, owners.annotation
    found = await tasks.one("task", taskId=task_id, fields={"datasetId": 1, "availableActions": 1})
    if not found:
        return Rows([], {}, {})
    task = found[0]
    holders: dict[str, str | None] = {}
    annotators: dict[str, str | None] = {}

    async def read_holders() -> None:
        async for page in tasks.pages("browse_holders", taskId=task_id):
            for a in page:
                if a.get("queue"):
                    holders.update((i, None) for i in a["itemIds"][a.get("next", 0):])
                else:
                    annotators[a["_id"]] = a.get("annotator")
                    holders.update((i, a["_id"]) for i in a["itemIds"])

    async def read_statuses() -> dict[str, str]:
        return {d["itemId"]: d["status"]
                async for page in tasks.pages("browse_statuses", limit=BIG_PAGE, taskId=task_id)
                for d in page if d.get("status")}

    _, statuses = await asyncio.gather(read_holders(), read_statuses())
    ids = list(holders)
    known = known or {}
    missing = [i for i in ids if i not in known]
    shown = {"name": 1, "dir": 1, "createdAt": 1, "thumbnailFileId": 1}
    big = len(ids) > SMALL_TASK

    async def read_items() -> list[dict[str, Any]]:
        # Up to SMALL_TASK ids are read by id; more in one pass over the dataset, which beats
        # a hundred thousand ids in slices.
        if len(missing) <= SMALL_TASK:
            return [known[i] for i in ids if i in known] + await find_in(db.items, "_id", missing, None, shown)
        return [d async for d in db.items.find({"datasetId": task["datasetId"]}, shown)]

    async def read_classes() -> dict[str, dict[str, str]]:
        classes: dict[str, dict[str, str]] = {}
        if big:
            pages = annotations.pages("classes_of_dataset", limit=BIG_PAGE, datasetId=task["datasetId"])
        else:
            pages = _each([await annotations.one("classes_of_items", itemIds=ids)] if ids else [])
        async for page in pages:
            for a in page:
                classes.setdefault(a["itemId"], {})[a["_id"]] = a["label"]
        return classes

    items, classes = await asyncio.gather(read_items(), read_classes())
    return Rows(items, holders, annotators, statuses, classes,
                [a["action"] for a in task.get("availableActions", [])])


async def _each(pages: list[Any]) -> Any:
    for page in pages:
        yield page
