"""The workflow read model as the gateway sees it: annotators' queues in Redis (written only by
the workflow service; layout shared.contracts.read_model.ReadModel), answers to workflow commands, and the
live feed.

One group-less reader of `events.workflow` per gateway replica (XREAD from `$`, like the
outcome reader of the other event streams) resolves the requests waiting for a workflow
command's outcome and fans facts out to the live-feed connections of their annotator. The
feed is at-most-once: a page re-syncs from the snapshot each connection starts with.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cachetools import TTLCache
from faststream.redis import RedisBroker
from pydantic import ValidationError
from redis.asyncio import Redis

from gateway.outcomes import correlation_of
from shared.contracts import streams
from shared.contracts.read_model import ReadModel
from shared.contracts.workflow import WORKFLOW_EVENT
from shared.platform.messaging import batch_reader, decoded_object
from shared.platform.settings import Settings

FEED_BUFFER = 1000


def read_ahead_size(interval_s: float | None, horizon_s: float, most: int) -> int:
    """How many of an annotator's next items to read at once, from the time since their
    previous item was shown: as many as they would reach within `horizon_s` (while the
    items stay cached), at least 1 (the next item alone), at most `most`."""
    if interval_s is None:
        return 1
    return max(1, min(most, int(horizon_s / max(interval_s, 1e-3))))


def _text(found: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in found.items()}


def _ms(value: float | bytes | str) -> str:
    return datetime.fromtimestamp(float(value) / 1000, UTC).isoformat()


@dataclass(frozen=True)
class Snapshot:
    """One annotator's queue in one task, as one read."""

    meta: dict[str, str]
    state: dict[str, str]
    settings: dict[str, str]
    open_items: int

    @property
    def seeded(self) -> bool:
        return bool(self.meta)

    @property
    def assignment_id(self) -> str | None:
        return self.state.get("assignment") or None

    def shown_next(self, item_id: str) -> str | None:
        """The next item to show at once after classifying `item_id`, when the read model
        already holds it: the item is the one in hand, something comes after it, and the
        workflow service marked this annotator's moves as never refused (movesFreely)."""
        if self.settings.get("movesFreely") != "1" or self.state.get("current") != item_id:
            return None
        return self.state.get("next") or None

    def view(self) -> dict[str, Any]:
        return {
            "assignmentId": self.assignment_id,
            "currentItemId": self.state.get("current") or None,
            "nextItemId": self.state.get("next") or None,
            "openItems": self.open_items,
            "allocation": self.meta.get("allocation"),
            "autoNext": self.settings.get("autoNext") == "1",
            "autoComplete": self.settings.get("autoComplete") == "1",
            "allowNextOnlyOnDone": self.meta.get("allowNextOnlyOnDone") == "1",
            "left": self.state.get("left") == "1",
        }


# The events of a bulk that the live feed of its task carries.
_TASK_FACT = re.compile(rb'"type": ?"Bulk(?:Progressed|Completed|Undone)"')


class WorkflowFeed:
    """Per-connection queues of workflow facts, by (task, annotator)."""

    def __init__(self) -> None:
        self.listeners: dict[tuple[str, str], set[asyncio.Queue[dict[str, Any]]]] = {}

    @contextlib.contextmanager
    def subscribe(self, task_id: str, email: str) -> Any:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(FEED_BUFFER)
        key = (task_id, email)
        self.listeners.setdefault(key, set()).add(queue)
        try:
            yield queue
        finally:
            self.listeners[key].discard(queue)
            if not self.listeners[key]:
                del self.listeners[key]

    def publish(self, body: dict[str, Any]) -> None:
        self._put(self.listeners.get((body.get("taskId", ""), body.get("annotator", "")), ()), body)

    def publish_to_task(self, body: dict[str, Any]) -> None:
        """A fact about the whole task (a bulk's progress): every page open on it."""
        task_id = body.get("taskId", "")
        self._put([q for (task, _), queues in self.listeners.items() if task == task_id for q in queues], body)

    @staticmethod
    def _put(queues: Any, body: dict[str, Any]) -> None:
        for queue in queues:
            if queue.full():  # a slow page loses the oldest fact, never blocks the others
                queue.get_nowait()
            queue.put_nowait(body)


class WorkflowReads:
    """Built in the gateway's __init__ (declares the events.workflow reader on the broker);
    `connect` gives it the Redis client in start()."""

    def __init__(self, broker: RedisBroker, settings: Settings, hub: Any) -> None:
        self.rm = ReadModel(settings.namespace)
        self.hub = hub
        self.feed = WorkflowFeed()
        self.redis: Redis | None = None
        self.shown_at: TTLCache[tuple[str, str], float] = TTLCache(100_000, 60)
        name = streams.stream(streams.WORKFLOW_EVENTS, settings.namespace)

        @broker.subscriber(
            **batch_reader(name, max_records=500),
            title=f"{name}:gateway",
            description="Every gateway replica reads workflow facts without a group (XREAD from $): "
            "outcomes of the workflow commands it holds, and the live feed of next items.",
        )
        async def on_workflow_facts(bodies: list[Any]) -> None:
            self.deliver(bodies)

    def connect(self, redis: Redis) -> None:
        self.redis = redis

    def deliver_task_facts(self, raws: list[Any]) -> None:
        """Annotation and task events as sent (JSON bytes): a bulk's progress, completion and
        undo go to the live feed of its task. Looked at only while a feed is open."""
        if not self.feed.listeners:
            return
        for raw in raws:
            if isinstance(raw, (bytes, bytearray)) and _TASK_FACT.search(raw) \
                    and (body := decoded_object(raw)) is not None:
                self.feed.publish_to_task(body)

    def deliver(self, raws: list[Any]) -> None:
        """Facts as sent (JSON bytes): decoded only when a request waits for one or a live
        feed is open."""
        for raw in raws:
            future = self.hub.waiting.get(correlation_of(raw))
            if future is None and not self.feed.listeners:
                continue
            if (body := decoded_object(raw)) is None:
                continue
            if future is not None and not future.done():
                try:
                    future.set_result(WORKFLOW_EVENT.validate_python(body))
                except ValidationError as exc:  # a newer fact this replica cannot read
                    future.set_exception(exc)
            self.feed.publish(body)

    # reads -------------------------------------------------------------------------------------

    def _annotator(self, task_id: str, email: str, part: str) -> str:
        return self.rm.annotator(task_id, email, part)

    async def snapshot(self, task_id: str, email: str) -> Snapshot:
        assert self.redis is not None, "WorkflowReads.connect() was not called"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.rm.task(task_id, "meta"))
            pipe.hgetall(self._annotator(task_id, email, "state"))
            pipe.hgetall(self._annotator(task_id, email, "settings"))
            pipe.zcard(self._annotator(task_id, email, "open"))
            meta, state, settings, open_items = await pipe.execute()
        return Snapshot(_text(meta), _text(state), _text(settings), int(open_items))

    def pace(self, task_id: str, email: str) -> float | None:
        """Seconds since this annotator's previous next item was shown (None: none lately)."""
        now, key = time.monotonic(), (task_id, email)
        before = self.shown_at.get(key)
        self.shown_at[key] = now
        return None if before is None else now - before

    async def upcoming(self, task_id: str, email: str, item_id: str, n: int) -> list[str]:
        """Up to `n` open items from `item_id` on in work order (wrapping round): what moving
        on will reach, to read ahead."""
        assert self.redis is not None, "WorkflowReads.connect() was not called"
        open_key = self._annotator(task_id, email, "open")
        position = await self.redis.hget(self._annotator(task_id, email, "order"), item_id)
        start = float(position) if position is not None else "-inf"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrangebyscore(open_key, start, "+inf", start=0, num=n)
            pipe.zrange(open_key, 0, n - 1)
            after, first = await pipe.execute()
        return list(dict.fromkeys(i.decode() for i in after + first))[:n]

    async def queue_state(self, task_id: str, email: str, limit: int = 50) -> dict[str, Any]:
        """The annotator's whole queue: open items in work order, history, leases."""
        assert self.redis is not None, "WorkflowReads.connect() was not called"
        snap = await self.snapshot(task_id, email)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrange(self._annotator(task_id, email, "open"), 0, limit - 1)
            pipe.lrange(self._annotator(task_id, email, "history"), -limit, -1)
            pipe.zrange(self._annotator(task_id, email, "leases"), 0, -1, withscores=True)
            pipe.smembers(self._annotator(task_id, email, "opened"))
            pipe.hgetall(self.rm.task(task_id, "returning"))
            open_ids, history, leases, opened, returning = await pipe.execute()
        opened_ids = {o.decode() for o in opened}
        return snap.view() | {
            "taskId": task_id, "annotator": email,
            "open": [i.decode() for i in open_ids],
            "history": [i.decode() for i in history],
            "back": int(snap.state.get("back") or 0),
            "leases": [{"itemId": i.decode(), "expiresAt": _ms(score), "opened": i.decode() in opened_ids}
                       for i, score in leases],
            "returning": sorted(k.decode() for k, v in returning.items() if v.decode() == email),
            "leaseTtlSeconds": int(snap.meta.get("leaseTtlMs") or 0) / 1000 or None,
            "heartbeatEverySeconds": int(snap.meta.get("heartbeatEveryMs") or 0) / 1000 or None,
        }
