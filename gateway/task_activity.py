"""A task's live activity for its managers: each status change, classification, bulk's progress
and change of the task's items or assignments, as this gateway replica's group-less readers of
the annotation and task event streams see them (gateway.container), fanned out to the activity
connections open on the task (`GET /tasks/{id}/activity`).

At-most-once, like the annotators' feed: a connection re-syncs from its snapshot. A connection
that falls behind, or meets a burst of per-item facts (a 10,000-item bulk sends ~20,000), gets
one `Resync` in place of the per-item facts it skipped, and its page re-reads the task once.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter, deque
from collections.abc import Iterator
from typing import Any

from shared.platform.messaging import decoded_object

BUFFER = 2000  # facts held for a slow connection; past it the oldest go and it re-syncs
BURST = 50  # per-item facts in one read past which a connection gets one Resync instead

# Facts about one item: counted by the page as they come, or collapsed in a burst.
PER_ITEM = frozenset({"ItemStatusChanged", "ItemClassified", "AnnotationUpdated"})
# Facts about the task as a whole: always sent.
WHOLE_TASK = frozenset({"TaskChanged", "ItemsPulled", "BulkProgressed", "BulkCompleted", "BulkUndone"})
_TYPE = re.compile(rb'"type": ?"(' + b"|".join(t.encode() for t in sorted(PER_ITEM | WHOLE_TASK)) + rb')"')


def task_of(body: dict[str, Any]) -> str | None:
    """The task a fact belongs to: its `taskId`, or for a classification, the task it was made
    in (`metadata.system.taskId` of its annotation; None outside any task)."""
    if body.get("taskId"):
        return str(body["taskId"])
    system = ((body.get("annotation") or {}).get("metadata") or {}).get("system") or {}
    return system.get("taskId") or None


def collapse(facts: list[dict[str, Any]], lost: int, burst: int = BURST) -> list[dict[str, Any]]:
    """What one connection is sent for the facts read since its last send: all of them, or,
    when some were lost or the per-item ones are more than `burst`, the whole-task facts and
    one `Resync` counting the per-item facts left out (by type)."""
    per_item = [f for f in facts if f.get("type") in PER_ITEM]
    if not lost and len(per_item) <= burst:
        return facts
    kept = [f for f in facts if f.get("type") not in PER_ITEM]
    skipped = Counter(str(f.get("type")) for f in per_item)
    return kept + [{"type": "Resync", "facts": len(per_item) + lost, "lost": lost, "byType": dict(skipped)}]


class Listener:
    """One connection's facts not sent yet."""

    def __init__(self) -> None:
        self.facts: deque[dict[str, Any]] = deque()
        self.lost = 0
        self.ready = asyncio.Event()

    def put(self, body: dict[str, Any]) -> None:
        if len(self.facts) >= BUFFER:  # a slow page loses the oldest, never blocks the others
            self.facts.popleft()
            self.lost += 1
        self.facts.append(body)
        self.ready.set()

    async def take(self, timeout: float) -> list[dict[str, Any]]:
        """Everything that came since the last take (waiting up to `timeout` for something),
        collapsed (an empty list: nothing came)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ready.wait(), max(timeout, 0.001))
        facts, lost = list(self.facts), self.lost
        self.facts.clear()
        self.lost = 0
        self.ready.clear()
        return collapse(facts, lost) if facts or lost else []


class TaskActivity:
    """The activity connections open on this replica, by task."""

    def __init__(self) -> None:
        self.listeners: dict[str, set[Listener]] = {}

    @contextlib.contextmanager
    def subscribe(self, task_id: str) -> Iterator[Listener]:
        listener = Listener()
        self.listeners.setdefault(task_id, set()).add(listener)
        try:
            yield listener
        finally:
            self.listeners[task_id].discard(listener)
            if not self.listeners[task_id]:
                del self.listeners[task_id]

    def deliver(self, raws: list[Any]) -> None:
        """Annotation and task events as sent (JSON bytes): looked at only while an activity
        connection is open, decoded only when of a kind shown and naming a watched task."""
        if not self.listeners:
            return
        watched = [t.encode() for t in self.listeners]
        for raw in raws:
            if not isinstance(raw, (bytes, bytearray)) or not _TYPE.search(raw) \
                    or not any(t in raw for t in watched):
                continue
            body = decoded_object(raw)
            if body is not None and (task_id := task_of(body)) in self.listeners:
                for listener in self.listeners[task_id]:
                    listener.put(body)
