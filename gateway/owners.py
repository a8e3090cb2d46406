"""Asking the task and annotation services for their data (request/reply,
shared.contracts.queries), instead of reading their collections: the gateway renders tasks,
assignments, statuses, bulks and annotations from what their owner answers.

Asked, not kept from events: an answer comes from the owner's own store, so a read made
after a command's outcome sees its change, on any replica. A large read comes in pages of
`queries.PAGE` documents, each handled before the next is asked, so memory stays flat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import bson
from faststream.redis import RedisBroker

from gateway.unavailable import DependencyUnavailable
from shared.contracts import queries
from shared.platform.queries import CODEC
from shared.platform.settings import Settings


class Asker:
    """The asking side for one owner: `one` for a read answered at once, `pages` and `all`
    for a paged read. An owner that does not answer in time is a 503, like a store that is
    down."""

    def __init__(self, broker: RedisBroker, settings: Settings, owner: str, timeout_s: float = 10.0) -> None:
        self.broker = broker
        self.owner = owner
        self.list = queries.channel(owner, settings.namespace)
        self.timeout_s = timeout_s

    async def page(self, name: str, args: dict[str, Any], after: Any = None,
                   limit: int = queries.PAGE) -> tuple[list[Any], Any]:
        body = queries.Query(query=name, args=args, after=after, limit=limit).model_dump(mode="json")
        try:
            reply = await self.broker.request(body, list=self.list, timeout=self.timeout_s)
        except TimeoutError as exc:
            raise DependencyUnavailable(f"{self.owner}-svc", f"the {self.owner} service did not answer {name}") from exc
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
