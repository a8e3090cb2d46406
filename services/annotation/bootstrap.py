"""Wires the annotation service from settings: broker, Redis, MongoDB, the runner and the
subscribers. Nothing connects before `build` is called (and the clients only on first use)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.annotation import app, handlers, queries
from services.annotation.events import Event
from services.annotation.repository import AnnotationRepository, MongoAnnotationRepository, connect
from shared.contracts import streams
from shared.contracts.bulk import ClassesStored
from shared.contracts.envelope import utcnow
from shared.contracts.events import AnnotationEvent
from shared.contracts.queries import ANNOTATION, AnnotationQuery
from shared.platform.messaging import (
    DeadLetters,
    best_effort,
    ensure_groups,
    make_broker,
    make_redis,
    publish_all,
    replier,
    stream_publisher,
)
from shared.platform.queries import serve
from shared.platform.runner import Publish, Replies, Runner
from shared.platform.runtime import service_app
from shared.platform.settings import Settings


def runner(repo: AnnotationRepository, *, base_url: str, publish: Publish,
           clock: Callable[[], datetime] = utcnow, reply: Replies | None = None) -> Runner:
    """The service's command runner: its handler table, keyed by item and annotation;
    outcomes replied to the gateway that waits for them (`reply`)."""
    return Runner(handlers.table(base_url), repo=repo, publish=publish, clock=clock, key=handlers.scope_of,
                  reply=reply)


async def handle_commands(commands: Iterable[Any], *, repo: AnnotationRepository, base_url: str,
                          publish: Publish) -> list[Event]:
    """One batch through the service's runner, as its subscribers run it, with the caller's
    outlet for the events."""
    return await runner(repo, base_url=base_url, publish=publish).run(commands)


@dataclass
class AnnotationService:
    settings: Settings
    broker: RedisBroker
    redis: Redis
    mongo: Any
    repo: MongoAnnotationRepository
    runner: Runner
    app: AsgiFastStream


def build(settings: Settings) -> AnnotationService:
    broker = make_broker(settings)
    redis = make_redis(settings)
    mongo, repo = connect(settings.mongodb_url, settings.mongodb_db)
    events = stream_publisher(
        broker, settings, streams.ANNOTATION_EVENTS, schema=AnnotationEvent,
        description="Annotation facts: ItemClassified, AnnotationUpdated, AnnotationDeleted, "
        "CommandRejected. Emitted after the change is durable in MongoDB.",
    )
    bulk_replies = stream_publisher(
        broker, settings, streams.BULK_CLASSIFY, schema=ClassesStored, writer="annotation-svc",
        description="ClassesStored: the annotation side of a bulk classification is durable; "
        "for the task service, which completes the bulk.")

    async def publish(produced: list[Any]) -> None:
        await publish_all(redis, events, produced)

    async def reply(stored: ClassesStored) -> None:
        await bulk_replies.publish(stored.wire(), correlation_id=stored.id)

    async def start() -> None:
        await ensure_groups(redis, settings.namespace)
        await best_effort("index creation", repo.create_indexes())

    async def stop() -> None:
        await redis.aclose()
        mongo.close()

    service_runner = runner(repo, base_url=settings.public_url, publish=publish, reply=replier(redis, broker))
    app.subscribe(broker, runner=service_runner, repo=repo, publish=publish, reply=reply, settings=settings,
                  dead_letters=DeadLetters(redis, settings.namespace))
    serve(broker, settings, ANNOTATION, AnnotationQuery, queries.table(repo.db))  # the gateway's reads of its data
    asgi = service_app(app.NAME, broker, checks={"mongodb": repo.ping}, on_startup=[start], on_shutdown=[stop])
    return AnnotationService(settings, broker, redis, mongo, repo, service_runner, asgi)
