"""Wires the annotation service from settings: broker, Redis, MongoDB, the runner and the
subscribers. Nothing connects before `build` is called (and the clients only on first use)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.annotation import app, handlers, queries
from services.annotation.bulk import handlers as bulk
from services.annotation.events import Event
from services.annotation.repository import AnnotationRepository, MongoAnnotationRepository, connect
from shared.contracts import streams
from shared.contracts.bulk import BulkCompleted, BulkPreviewed, ClassesStored
from shared.contracts.envelope import utcnow
from shared.contracts.events import AnnotationEvent
from shared.contracts.queries import ANNOTATION, AnnotationQuery
from shared.platform.messaging import (
    Ack,
    DeadLetters,
    best_effort,
    ensure_groups,
    make_broker,
    make_redis,
    publish_all,
    stream_publisher,
)
from shared.platform.queries import serve
from shared.platform.runner import Publish, Replies, Reply, Runner
from shared.platform.runtime import service_app
from shared.platform.settings import Settings


def runner(repo: AnnotationRepository, *, base_url: str, publish: Publish,
           clock: Callable[[], datetime] = utcnow, reply: Replies | None = None,
           bulk_events: Publish | None = None, joint: bool = False) -> Runner:
    """The service's command runner: its handler table and its bulk commands', keyed by item
    and annotation (a bulk command alone); outcomes replied to the gateway that waits for
    them (`reply`, or with the events by `publish` when `joint`). `bulk_events`: where a
    bulk's per-item events go as its chunks are written (`publish` unless named)."""
    table = handlers.table(base_url) | bulk.table(base_url, bulk_events or publish)
    reads = getattr(repo, "read_ahead", None)  # the MongoDB repository's: a fast path

    def read_ahead(commands: list[Any]) -> Any:
        return reads({i for c in commands if (i := handlers.read_first(c)) is not None})

    return Runner(table, repo=repo, publish=publish, clock=clock, key=bulk.scope(handlers.scope_of),
                  recorded=bulk.recorded, reply=reply, joint=joint, read_ahead=read_ahead if reads else None)


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
    bulk_ends = stream_publisher(
        broker, settings, streams.TASK_EVENTS, schema=BulkPreviewed | BulkCompleted, writer="annotation-svc",
        description="BulkCompleted: a bulk classification's classes are written (its statuses were "
        "before); BulkPreviewed: a dry run's counts. On the task events, where a bulk's readers "
        "find its outcome. Emitted after the outcome is durable.")
    # Declared so the contract keeps it: earlier versions sent it; this one does not (the
    # annotation service ends a bulk itself), and the task service leaves one that comes.
    stream_publisher(
        broker, settings, streams.BULK_CLASSIFY, schema=ClassesStored, writer="annotation-svc",
        description="ClassesStored: sent by earlier versions to the task service, which then "
        "completed the bulk; no longer sent.")

    async def publish_events(produced: list[Any]) -> None:
        await publish_all(redis, events, produced)

    async def publish(produced: list[Any], replies: Sequence[Reply] = (), ack: Ack | None = None) -> None:
        """The runner's outlet: a bulk's end on the task events, the rest on its own; the
        replies and the batch's ack after them all, with the last of them (one round trip
        for a batch of one stream's events)."""
        runs = [(bulk_ends if ends else events, list(run)) for ends, run in
                groupby(produced, key=lambda e: isinstance(e, BulkPreviewed | BulkCompleted))] or [(events, [])]
        for n, (publisher, run) in enumerate(runs, 1):
            last = n == len(runs)
            await publish_all(redis, publisher, run, replies=replies if last else (), ack=ack if last else None)

    async def start() -> None:
        await ensure_groups(redis, settings.namespace)
        await best_effort("index creation", repo.create_indexes())

    async def stop() -> None:
        await redis.aclose()
        mongo.close()

    service_runner = runner(repo, base_url=settings.public_url, publish=publish, bulk_events=publish_events,
                            joint=True)
    app.subscribe(broker, runner=service_runner, settings=settings, dead_letters=DeadLetters(redis, settings.namespace))
    presence = serve(broker, settings, ANNOTATION, AnnotationQuery, queries.table(repo.db), redis)  # the gateway's reads of its data
    asgi = service_app(app.NAME, broker, checks={"mongodb": repo.ping}, on_startup=[start, presence.start],
                       on_shutdown=[presence.stop, stop])
    return AnnotationService(settings, broker, redis, mongo, repo, service_runner, asgi)
