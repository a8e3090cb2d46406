"""Wires the annotation service from settings: broker, Redis, MongoDB, subscribers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.annotation import bulk, handlers, scenes
from services.annotation.bulk_store import BulkAnnotationStore
from services.annotation.repository import MongoAnnotationRepository, connect
from shared.contracts import streams
from shared.contracts.bulk import ClassesStored, ClassifyItems, UnclassifyItems
from shared.contracts.commands import parse_classify_stream
from shared.contracts.events import AnnotationEvent
from shared.contracts.scene_commands import SCENE_COMMAND
from shared.platform.messaging import (
    Consumer,
    DeadLetters,
    attach,
    best_effort,
    ensure_groups,
    make_broker,
    make_redis,
    publish_all,
    stream_publisher,
)
from shared.platform.runtime import service_app
from shared.platform.settings import Settings

NAME = "annotation"


@dataclass
class AnnotationService:
    settings: Settings
    broker: RedisBroker
    redis: Redis
    mongo: Any
    repo: MongoAnnotationRepository
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

    bulk_store = BulkAnnotationStore(repo.db)
    bulk_replies = stream_publisher(
        broker, settings, streams.BULK_CLASSIFY, schema=ClassesStored, writer="annotation-svc",
        description="ClassesStored: the annotation side of a bulk classification is durable; "
        "for the task service, which completes the bulk.")

    async def reply(stored: ClassesStored) -> None:
        await bulk_replies.publish(stored.wire(), correlation_id=stored.id)

    async def on_classify_stream(commands: list[Any]) -> None:
        publish = lambda produced: publish_all(redis, events, produced)  # noqa: E731
        single = [c for c in commands if not isinstance(c, ClassifyItems | UnclassifyItems)]
        if single:
            await handlers.handle_commands(single, repo=repo, base_url=settings.public_url,
                                           publish=publish)
        for cmd in commands:
            if isinstance(cmd, ClassifyItems):
                await bulk.classify_items(cmd, store=bulk_store, base_url=settings.public_url,
                                          publish=publish, reply=reply)
            elif isinstance(cmd, UnclassifyItems):
                await bulk.unclassify_items(cmd, store=bulk_store, publish=publish)

    async def on_scene_stream(commands: list[Any]) -> None:
        await scenes.handle_scene_commands(
            commands, repo=repo, base_url=settings.public_url,
            publish=lambda produced: publish_all(redis, events, produced),
        )

    dead_letters = DeadLetters(redis, settings.namespace)
    attach(
        broker,
        Consumer(
            stream=streams.CLASSIFY,
            group=streams.ANNOTATION_GROUP,
            parse=parse_classify_stream,
            handle=on_classify_stream,
            title="classify",
            description="Classify, UpdateAnnotation and DeleteAnnotation commands from the gateway; "
            "ClassifyItems and UnclassifyItems (bulk classification) from the task service.",
        ),
        settings=settings,
        service=NAME,
        dead_letters=dead_letters,
    )
    attach(
        broker,
        Consumer(
            stream=streams.SCENE,
            group=streams.ANNOTATION_GROUP,
            parse=SCENE_COMMAND.validate_python,
            handle=on_scene_stream,
            title="scene",
            description="Video scene commands from the gateway: StartScene, SetSceneEnd, "
            "MoveSceneStart, ChangeSceneLabel, HideFrames, UnhideFrames, DeleteScene, PaintScenes.",
        ),
        settings=settings,
        service=NAME,
        dead_letters=dead_letters,
    )

    async def start() -> None:
        await ensure_groups(redis, settings.namespace)
        await best_effort("index creation", repo.create_indexes())

    async def stop() -> None:
        await redis.aclose()
        mongo.close()

    app = service_app(NAME, broker, checks={"mongodb": repo.ping}, on_startup=[start], on_shutdown=[stop])
    return AnnotationService(settings, broker, redis, mongo, repo, app)
