"""Telling every gateway replica to drop a cached catalog entry (Redis pub/sub).

Replicas cache projects (their members and roles), datasets and recipes for two seconds.
When one replica changes such a document it publishes `<collection>:<id>` and every replica
(itself included) drops the entry, so a removed member or a lowered role takes effect at
once. Pub/sub is at-most-once: a replica that misses a message is stale for at most the
cache period. Token revocation does not rely on this (see gateway.ratelimit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from gateway.access import Access

log = logging.getLogger("classifier.gateway")


class Invalidation:
    def __init__(self, redis: Redis, namespace: str, access: Access) -> None:
        self.redis = redis
        self.access = access
        self.channel = f"{namespace}:gateway:invalidate"
        self.pubsub: PubSub | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self.pubsub.subscribe(**{self.channel: self._on_message})
        self.task = asyncio.create_task(self.pubsub.run(exception_handler=self._on_error))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.pubsub is not None:
            await self.pubsub.aclose()

    async def changed(self, collection: str, doc_id: str) -> None:
        self.access.forget(collection, doc_id)
        await self.redis.publish(self.channel, f"{collection}:{doc_id}")

    def _on_message(self, message: dict[str, Any]) -> None:
        data = message.get("data")
        text = data.decode() if isinstance(data, bytes) else str(data)
        collection, _, doc_id = text.partition(":")
        self.access.forget(collection, doc_id)

    async def _on_error(self, exc: BaseException, _: PubSub) -> None:
        log.warning("cache invalidation listener: %s; retrying", exc)
        await asyncio.sleep(0.5)
