"""Wires the task service: consumer group `task-svc` on the tasks, status and bulk-classify
streams; events on `events.task`; accepted task-context commands forwarded to their stream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker

from services.task.bulk import BulkHandlers
from services.task.bulk_store import BulkStore
from services.task.handlers import TaskHandlers
from services.task.repository import MongoTaskRepository, connect
from shared.contracts import streams
from shared.contracts.bulk import BULK_COMMAND, BulkCompleted, BulkPreviewed
from shared.contracts.commands import ClassifyStreamCommand
from shared.contracts.envelope import Envelope
from shared.contracts.events import CommandRejected
from shared.contracts.scene_commands import SceneCommand, SceneStreamCommand
from shared.contracts.tasks import TASK_COMMAND, TaskEvent
from shared.platform.messaging import (
    Consumer,
    DeadLetters,
    attach,
    best_effort,
    decoded_object,
    ensure_groups,
    make_broker,
    make_redis,
    prepare_all,
    publish_all,
    stream_publisher,
)
from shared.platform.runtime import service_app
from shared.platform.settings import Settings

NAME = "task"


def positions(broker: RedisBroker) -> dict[str, str]:
    """Command id -> its entry id in the stream, as a sortable string, for the entries being
    handled (the live reader's batch or the reclaimer's one entry): an item's place in the
    log, which orders its status commands whichever replica reads them."""
    message = broker.context.get_local("message")
    if message is None:
        return {}
    bodies = message.body if isinstance(message.body, list) else [message.body]
    found = {}
    for raw_id, body in zip(message.raw_message["message_ids"], bodies, strict=False):
        entry = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        command = body if isinstance(body, dict) else decoded_object(body)
        if command and isinstance(command.get("id"), str):
            ms, _, seq = entry.partition("-")
            found[command["id"]] = f"{int(ms):015d}-{int(seq or 0):010d}"
    return found


@dataclass
class TaskService:
    broker: RedisBroker
    repo: MongoTaskRepository
    handlers: TaskHandlers
    app: AsgiFastStream


def build(settings: Settings) -> TaskService:
    broker = make_broker(settings)
    redis = make_redis(settings)
    repo = connect(settings.mongodb_url, settings.mongodb_db)
    events = stream_publisher(broker, settings, streams.TASK_EVENTS,
                              schema=TaskEvent | CommandRejected | BulkPreviewed | BulkCompleted,
                              description="Task facts: TaskChanged, ItemsPulled, ItemStatusChanged, "
                              "CommandRejected, BulkPreviewed, BulkCompleted. Emitted after the change is durable.")
    classify = stream_publisher(broker, settings, streams.CLASSIFY, schema=ClassifyStreamCommand,
                                description="Task-context Classify commands the task's rules accepted; "
                                "ClassifyItems and UnclassifyItems of accepted bulk classifications.",
                                writer="task-svc")

    scene = stream_publisher(broker, settings, streams.SCENE, schema=SceneStreamCommand,
                             description="Task-context scene commands the task's rules accepted.",
                             writer="task-svc")

    async def forward(command: Envelope) -> None:
        to = scene if isinstance(command, SceneCommand) else classify
        await to.publish(command.wire(), correlation_id=command.id)

    task_handlers = TaskHandlers(repo, lambda evs: publish_all(redis, events, evs), forward)
    dead_letters = DeadLetters(redis, settings.namespace)

    async def on_task_commands(commands: list[Any]) -> None:
        await task_handlers.handle(commands)

    async def on_status_commands(commands: list[Any]) -> None:
        await task_handlers.handle(commands, positions(broker))

    for stream, handle in ((streams.TASKS, on_task_commands), (streams.STATUS, on_status_commands)):
        attach(broker, Consumer(stream, streams.TASK_GROUP, TASK_COMMAND.validate_python,
                                handle, stream,
                                f"{stream} commands, checked against the task's allocation rules."),
               settings=settings, service=NAME, dead_letters=dead_letters)

    bulk = BulkHandlers(repo, BulkStore(repo.db), lambda evs: publish_all(redis, events, evs), forward,
                        prepare=lambda evs: prepare_all(events, evs))
    attach(broker, Consumer(streams.BULK_CLASSIFY, streams.TASK_GROUP, BULK_COMMAND.validate_python,
                            bulk.handle, streams.BULK_CLASSIFY,
                            "BulkClassify and UndoBulk, checked against the task's allocation rules; "
                            "ClassesStored from the annotation service."),
           settings=settings, service=NAME, dead_letters=dead_letters)

    async def start() -> None:
        await ensure_groups(redis, settings.namespace)
        await best_effort("index creation", repo.create_indexes())
        await best_effort("counting earlier tasks' statuses", repo.count_uncounted_tasks())

    async def stop() -> None:
        await redis.aclose()
        repo.close()

    app = service_app(NAME, broker, checks={"mongodb": repo.ping}, on_startup=[start], on_shutdown=[stop])
    return TaskService(broker, repo, task_handlers, app)
