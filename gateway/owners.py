"""Asking the task and annotation services for their data (request/reply,
shared.contracts.queries), instead of reading their collections: the gateway renders tasks,
assignments, statuses, bulks and annotations from what their owner answers.

Asked, not kept from events: an answer comes from the owner's own store, so a read made
after a command's outcome sees its change, on any replica. A large read comes in pages of
`queries.PAGE` documents, each handled before the next is asked, so memory stays flat.

A query goes to the owner's list with the gateway replica's reply channel (the one its
commands' outcomes come back on) and a correlation id; the answer comes back there and
`Owners.answered` hands it to the waiting ask. So an ask takes one connection of the
gateway's pool for one round trip (the push, like a command's), and no subscription of its
own.

An owner none of whose replicas runs is a 503 naming it, at once: its replicas keep a
presence key alive in Redis (queries.presence, shared.platform.queries.Presence), which the
asker checks before asking (a key seen within ALIVE_FOR_S is trusted without asking Redis
again) and again every WATCH_S while it waits for an answer. Only an owner that runs but
does not answer waits the whole timeout."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import bson
from faststream.redis import RedisBroker

from gateway.unavailable import DependencyUnavailable
from shared.contracts import queries
from shared.platform.messaging import JSON_CONTENT
from shared.platform.queries import CODEC, FILTER_OPS
from shared.platform.settings import Settings

ALIVE_FOR_S = 1.0  # a presence seen this recently is trusted without reading it again
WATCH_S = 0.5  # while waiting for an answer, the presence is read again this often


OPERATORS = {mongo: op for op, mongo in FILTER_OPS.items()}  # the owner's table, read backwards


def plain_filters(query: dict[str, Any]) -> list[dict[str, Any]]:
    """A controller's list query, `{field: value}` or `{field: {"$in": [...]}}` (the API's
    and dtlpy's filters), as an owner's plain filters: [{field, op, value}]."""
    filters = []
    for field, value in query.items():
        if isinstance(value, dict):
            filters += [{"field": field, "op": OPERATORS[op], "value": v} for op, v in value.items()]
        else:
            filters.append({"field": field, "op": "eq", "value": value})
    return filters


class Asker:
    """The asking side for one owner: `one` for a read answered at once, `pages` and `all`
    for a paged read. An owner with no replica running, or that does not answer in time, is
    a 503, like a store that is down."""

    def __init__(self, broker: RedisBroker, settings: Settings, owner: str, reply_to: str,
                 timeout_s: float = 10.0, redis: Any = None) -> None:
        self.broker = broker
        self.reply_to = reply_to
        self.waiting: dict[str, asyncio.Future[bytes]] = {}  # correlation id -> its answer
        self.owner = owner
        self.list = queries.channel(owner, settings.namespace)
        self.presence = queries.presence(owner, settings.namespace)
        self.timeout_s = timeout_s
        self.redis = redis  # where the owner's presence is read; None: not checked
        self.seen_alive = -ALIVE_FOR_S  # monotonic time the presence was last seen

    def answered(self, correlation_id: str, body: bytes) -> bool:
        """Hand an answer to the ask waiting for it; False if none of this asker's is."""
        waiting = self.waiting.get(correlation_id)
        if waiting is None:
            return False
        if not waiting.done():
            waiting.set_result(body)
        return True

    def down(self, name: str, why: str = "no replica is running") -> DependencyUnavailable:
        return DependencyUnavailable(f"{self.owner}-svc", f"the {self.owner} service did not answer {name}: {why}")

    async def alive(self, *, again: bool = False) -> bool:
        """Whether a replica of the owner runs (its presence key exists)."""
        if self.redis is None or (not again and time.monotonic() - self.seen_alive < ALIVE_FOR_S):
            return True
        if await self.redis.exists(self.presence):
            self.seen_alive = time.monotonic()
            return True
        self.seen_alive = -ALIVE_FOR_S
        return False

    async def page(self, name: str, args: dict[str, Any], after: Any = None,
                   limit: int = queries.PAGE) -> tuple[list[Any], Any]:
        if not await self.alive():
            raise self.down(name)
        body = queries.Query(query=name, args=args, after=after, limit=limit).model_dump(mode="json")
        correlation = uuid.uuid4().hex
        answer_of = self.waiting[correlation] = asyncio.get_running_loop().create_future()
        try:
            await self._push(body, correlation)
            deadline = time.monotonic() + self.timeout_s
            while not answer_of.done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self.down(name, f"no answer within {self.timeout_s:g} s")
                await asyncio.wait((answer_of,), timeout=min(WATCH_S, left))
                if not answer_of.done() and not await self.alive(again=True):  # its last replica went
                    raise self.down(name)
            reply = answer_of.result()
        finally:
            self.waiting.pop(correlation, None)
        answer = bson.decode(reply, codec_options=CODEC)
        if answer.get("error"):
            raise RuntimeError(f"{self.owner} service could not answer {name}: {answer['error']}")
        return answer.get("docs", []), answer.get("after")

    async def _push(self, body: dict[str, Any], correlation: str) -> None:
        """The query onto the owner's list, in the broker's message format, through the
        gateway's own pool (the broker's connections are held by its readers)."""
        if self.redis is None:  # an in-memory broker (the unit layer): through it
            await self.broker.publish(body, list=self.list, reply_to=self.reply_to, correlation_id=correlation)
            return
        message = await self.broker.message_format.encode(
            message=json.dumps(body).encode(), reply_to=self.reply_to, correlation_id=correlation,
            headers=JSON_CONTENT)
        await self.redis.rpush(self.list, message)

    async def one(self, name: str, /, **args: Any) -> list[Any]:
        """A read answered in one reply (no paging)."""
        docs, _ = await self.page(name, args)
        return docs

    async def pages(self, name: str, /, limit: int = queries.PAGE, **args: Any) -> AsyncIterator[list[Any]]:
        after = None
        while True:
            docs, after = await self.page(name, args, after, limit)
            if docs:
                yield docs
            if after is None:
                return

    async def all(self, name: str, /, **args: Any) -> list[Any]:
        return [d async for page in self.pages(name, **args) for d in page]


class Owners:
    """The gateway's askers, one per owning service."""

    def __init__(self, broker: RedisBroker, settings: Settings, reply_to: str) -> None:
        self.task = Asker(broker, settings, queries.TASK, reply_to)
        self.annotation = Asker(broker, settings, queries.ANNOTATION, reply_to)

    def answered(self, correlation_id: str, body: bytes) -> bool:
        """Hand an answer from the reply channel to its ask; False if it is no ask's."""
        return self.task.answered(correlation_id, body) or self.annotation.answered(correlation_id, body)

    def connect(self, redis: Any) -> None:
        """Read the owners' presence on `redis` (the gateway's connection, made at start)."""
        self.task.redis = self.annotation.redis = redis
