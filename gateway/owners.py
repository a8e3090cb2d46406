"""Asking the task and annotation services for their data (request/reply,
shared.contracts.queries), instead of reading their collections: the gateway renders tasks,
assignments, statuses, bulks and annotations from what their owner answers.

Asked, not kept from events: an answer comes from the owner's own store, so a read made
after a command's outcome sees its change, on any replica. A large read comes in pages of
`queries.PAGE` documents, each handled before the next is asked, so memory stays flat.

An owner none of whose replicas runs is a 503 naming it, at once: its replicas keep a
presence key alive in Redis (queries.presence, shared.platform.queries.Presence), which the
asker checks before asking (a key seen within ALIVE_FOR_S is trusted without asking Redis
again) and again every WATCH_S while it waits for an answer. Only an owner that runs but
does not answer waits the whole timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import bson
from faststream.redis import RedisBroker

from gateway.unavailable import DependencyUnavailable
from shared.contracts import queries
from shared.platform.queries import CODEC
from shared.platform.settings import Settings

ALIVE_FOR_S = 1.0  # a presence seen this recently is trusted without reading it again
WATCH_S = 0.5  # while waiting for an answer, the presence is read again this often


class Asker:
    """The asking side for one owner: `one` for a read answered at once, `pages` and `all`
    for a paged read. An owner with no replica running, or that does not answer in time, is
    a 503, like a store that is down."""

    def __init__(self, broker: RedisBroker, settings: Settings, owner: str, timeout_s: float = 10.0,
                 redis: Any = None) -> None:
        self.broker = broker
        self.owner = owner
        self.list = queries.channel(owner, settings.namespace)
        self.presence = queries.presence(owner, settings.namespace)
        self.timeout_s = timeout_s
        self.redis = redis  # where the owner's presence is read; None: not checked
        self.seen_alive = -ALIVE_FOR_S  # monotonic time the presence was last seen

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
        asked = asyncio.ensure_future(self.broker.request(body, list=self.list, timeout=self.timeout_s))
        try:
            while not (await asyncio.wait((asked,), timeout=WATCH_S))[0]:
                if not await self.alive(again=True):  # its last replica stopped meanwhile
                    raise self.down(name)
            reply = asked.result()
        except TimeoutError as exc:
            raise self.down(name, f"no answer within {self.timeout_s:g} s") from exc
        finally:
            asked.cancel()
        answer = bson.decode(reply.body, codec_options=CODEC)
        if answer.get("error"):
            raise RuntimeError(f"{self.owner} service could not answer {name}: {answer['error']}")
        return answer.get("docs", []), answer.get("after")

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

    def __init__(self, broker: RedisBroker, settings: Settings) -> None:
        self.task = Asker(broker, settings, queries.TASK)
        self.annotation = Asker(broker, settings, queries.ANNOTATION)

    def connect(self, redis: Any) -> None:
        """Read the owners' presence on `redis` (the gateway's connection, made at start)."""
        self.task.redis = self.annotation.redis = redis
