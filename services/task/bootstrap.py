"""Wires the task service: consumer group `task-svc` on the status and bulk-classify streams."""

from __future__ import annotations

from typing import Any

from faststream.asgi import AsgiFastStream

from services.task import handlers
from services.task.repository import connect
from shared import streams
from shared.envelope import Envelope
from shared.events import CommandRejected
from shared.messaging import (
    Consumer, DeadLetters, attach, ensure_groups, make_broker, make_redis, publish_all,
    stream_publisher,
)
from shared.runtime import service_app
from shared.settings import Settings

NAME = "task"


def _parse(body: Any) -> dict[str, Any]:
    Envelope.model_validate(body)  # poison check: an envelope with an actor
    return body


def build(settings: Settings) -> AsgiFastStream:
    broker = make_broker(settings)
    redis = make_redis(settings)
    repo = connect(settings.mongodb_url, settings.mongodb_db)
    events = stream_publisher(broker, settings, streams.TASK_EVENTS, schema=CommandRejected,
                              description="Task facts: item status changes and rejections.")

    async def on_commands(commands: list[dict[str, Any]]) -> None:
        await publish_all(redis, events, handlers.refuse_unknown(commands))

    for stream in (streams.STATUS, streams.BULK_CLASSIFY):
        attach(broker, Consumer(stream, streams.TASK_GROUP, _parse, on_commands, stream,
                                f"{stream} commands, checked against the task's allocation rules."),
               settings=settings, service=NAME, dead_letters=DeadLetters(redis, settings.namespace))

    async def start() -> None:
        await ensure_groups(redis, settings.namespace)

    async def stop() -> None:
        await redis.aclose()
        repo.close()

    return service_app(NAME, broker, checks={"mongodb": repo.ping}, on_startup=[start], on_shutdown=[stop])
