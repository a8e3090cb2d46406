"""The gateway's adapters, built and connected in the app's lifespan (never at import)."""

from __future__ import annotations

from typing import Any

from faststream.redis import StreamSub

from gateway.access import Access
from gateway.auth import TokenResolver
from gateway.bus import CommandBus
from gateway.outcomes import OutcomeHub
from gateway.repository import Catalog, connect
from shared import streams
from shared.commands import ClassifyStreamCommand
from shared.messaging import ensure_groups, make_broker, make_redis, stream_publisher, subscribers_running
from shared.settings import Settings


class Gateway:
    def __init__(self, settings: Settings) -> None:
        """Declares the broker's publishers and subscriber; connects nothing."""
        s = self.settings = settings
        self.api = settings.public_url.rstrip("/") + "/api/v1"
        self.hub = OutcomeHub()
        self.broker = make_broker(s)
        self.publishers: dict[str, Any] = {
            streams.CLASSIFY: stream_publisher(
                self.broker, s, streams.CLASSIFY, schema=ClassifyStreamCommand,
                description="Classify, UpdateAnnotation, DeleteAnnotation; read by the annotation service.",
            ),
        }
        listener = StreamSub(
            streams.stream(streams.ANNOTATION_EVENTS, s.namespace), batch=True, max_records=500
        )

        @self.broker.subscriber(
            stream=listener,
            title=f"{listener.name}:gateway",
            description="Every gateway replica reads outcomes without a group (XREAD from $) "
            "to answer the requests it holds.",
        )
        async def on_outcomes(bodies: list[Any]) -> None:
            self.hub.deliver(bodies)

    async def start(self) -> None:
        s = self.settings
        self.redis = make_redis(s)
        self.catalog: Catalog = connect(s.mongodb_url, s.mongodb_db)
        self.tokens = TokenResolver(self.catalog)
        self.access = Access(self.catalog)
        self.bus = CommandBus(
            self.redis, self.catalog, self.hub, self.publishers, s.namespace, s.outcome_wait_s
        )
        await ensure_groups(self.redis, s.namespace)
        await self.catalog.create_indexes()
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()
        await self.redis.aclose()
        self.catalog.client.close()

    async def readiness(self) -> dict[str, bool]:
        async def redis_ok() -> bool:
            try:
                return bool(await self.redis.ping())
            except Exception:
                return False

        return {
            "redis": await redis_ok(),
            "mongodb": await self.catalog.ping(),
            "subscribers": subscribers_running(self.broker),
        }
