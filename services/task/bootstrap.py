"""Wires the task service from settings: broker, Redis, MongoDB, the runners and the
subscribers (consumer group `task-svc` on the tasks, status and bulk-classify streams; events
on `events.task`; accepted task-context commands onward to the `classify` or `scene`
stream). Nothing connects before `build` is called (and the clients only on first use)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.task import app, handlers, queries
from services.task.bulk import handlers as bulk_handlers
from services.task.repository import MongoTaskRepository, TaskRepository, connect
from shared.contracts import streams
from shared.contracts.bulk import BulkCompleted, BulkPreviewed, ClassifyItems, UnclassifyItems
from shared.contracts.commands import Classify as ClassifyCommand
from shared.contracts.commands import ClassifyStreamCommand, DeleteAnnotation, UpdateAnnotation
from shared.contracts.envelope import Envelope, utcnow
from shared.contracts.events import CommandRejected
from shared.contracts.queries import TASK, TaskQuery
from shared.contracts.scene_commands import SceneCommand, SceneStreamCommand
from shared.contracts.tasks import TaskEvent
from shared.platform.messaging import (
    DeadLetters,
    best_effort,
    ensure_groups,
    make_broker,
    make_redis,
    prepare_all,
    publish_all,
    replier,
    stream_publisher,
)
from shared.platform.queries import serve
from shared.platform.runner import Publish, Replies, Runner
from shared.platform.runtime import service_app
from shared.platform.settings import Settings

FORWARDED_TO_CLASSIFY = (ClassifyCommand, UpdateAnnotation, DeleteAnnotation, ClassifyItems, UnclassifyItems)


def runner(repo: TaskRepository, *, publish: Publish, clock: Callable[[], datetime] = utcnow,
           batch: handlers.StatusBatch | None = None, reply: Replies | None = None) -> Runner:
    """The service's command runner: its handler table, one lane per item; outcomes replied
    to the gateway that waits for them (`reply`)."""
    return Runner(handlers.table(batch), repo=repo, publish=publish, clock=clock, key=handlers.item_of,
                  recorded=handlers.recorded, reply=reply)


def status_runner(repo: TaskRepository, *, publish: Publish,
                  clock: Callable[[], datetime] = utcnow, reply: Replies | None = None) -> app.StatusRunner:
    """A runner per batch of the status stream, its statuses' places in the stream bound in
    (and their documents being read meanwhile)."""
    def make(commands: Sequence[Any], positions: Mapping[str, str]) -> Runner:
        return runner(repo, publish=publish, clock=clock, reply=reply,
                      batch=handlers.status_batch(commands, positions, repo))
    return make


def bulk_runner(repo: TaskRepository, *, publish: Publish, statuses: bulk_handlers.Statuses,
                clock: Callable[[], datetime] = utcnow, reply: Replies | None = None) -> Runner:
    """The bulk stream's runner: one command at a time (a bulk's plan is big), a refusal
    replied here, an accepted bulk or undo passed on to the annotation service with its
    reply address."""
    return Runner(bulk_handlers.table(statuses), repo=repo, publish=publish, clock=clock,
                  recorded=bulk_handlers.recorded, reply=reply)


def outlet(redis: Redis, events: Any, classify: Any, scene: Any) -> Publish:
    """Publish what the handlers returned, in order: events on `events.task`, commands
    passed on on their own stream, with their requester's reply address (`reply_to`)."""
    def destination(message: Envelope) -> Any:
        if isinstance(message, SceneCommand):
            return scene
        return classify if isinstance(message, FORWARDED_TO_CLASSIFY) else events

    async def publish(produced: list[Any], reply_to: Mapping[str, str] | None = None) -> None:
        for to, run in groupby(produced, key=destination):
            await publish_all(redis, to, list(run), reply_to)
    return publish


@dataclass
class TaskService:
    settings: Settings
    broker: RedisBroker
    redis: Redis
    repo: MongoTaskRepository
    runner: Runner
    bulk: Runner
    app: AsgiFastStream


def build(settings: Settings) -> TaskService:
    broker = make_broker(settings)
    redis = make_redis(settings)
    repo = connect(settings.mongodb_url, settings.mongodb_db)
    events = stream_publisher(broker, settings, streams.TASK_EVENTS,
                              schema=TaskEvent | CommandRejected | BulkPreviewed | BulkCompleted,
                              description="Task facts: TaskChanged, ItemsPulled, ItemStatusChanged, "
                              "CommandRejected; BulkPreviewed and BulkCompleted when a bulk's command is delivered "
                              "again after its end (the annotation service announces them). Emitted after the "
                              "change is durable.")
    classify = stream_publisher(broker, settings, streams.CLASSIFY, schema=ClassifyStreamCommand,
                                description="Task-context Classify commands the task's rules accepted; "
                                "ClassifyItems and UnclassifyItems of accepted bulk classifications.",
                                writer="task-svc")
    scene = stream_publisher(broker, settings, streams.SCENE, schema=SceneStreamCommand,
                             description="Task-context scene commands the task's rules accepted.",
                             writer="task-svc")
    publish = outlet(redis, events, classify, scene)

    reply = replier(redis, broker)
    service_runner = runner(repo, publish=publish, reply=reply)
    statuses = bulk_handlers.Statuses(repo, lambda evs: publish_all(redis, events, evs),
                                      prepare=lambda evs: prepare_all(events, evs))
    bulk = bulk_runner(repo, publish=publish, statuses=statuses, reply=reply)
    app.subscribe(broker, runner=service_runner, status_runner=status_runner(repo, publish=publish, reply=reply), bulk=bulk,
                  settings=settings, dead_letters=DeadLetters(redis, settings.namespace))
    presence = serve(broker, settings, TASK, TaskQuery, queries.table(repo.db), redis)  # the gateway's reads of its data

    async def start() -> None:
        await ensure_groups(redis, settings.namespace)
        await best_effort("index creation", repo.create_indexes())

    async def stop() -> None:
        await redis.aclose()
        repo.close()

    asgi = service_app(app.NAME, broker, checks={"mongodb": repo.ping}, on_startup=[start, presence.start],
                       on_shutdown=[presence.stop, stop])
    return TaskService(settings, broker, redis, repo, service_runner, bulk, asgi)
