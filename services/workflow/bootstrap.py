"""Wires the workflow service: consumer group `workflow-svc` on the annotation and task event
streams. Auto next and auto complete (issue 5) build on these subscriptions."""

from __future__ import annotations

from typing import Any

from faststream.asgi import AsgiFastStream

from services.workflow.repository import connect
from shared import streams
from shared.envelope import Envelope
from shared.messaging import Consumer, DeadLetters, attach, ensure_groups, make_broker, make_redis
from shared.runtime import service_app
from shared.settings import Settings

NAME = "workflow"


def build(settings: Settings) -> AsgiFastStream:
    broker = make_broker(settings)
    redis = make_redis(settings)
    repo = connect(settings.mongodb_url, settings.mongodb_db)

    async def on_events(events: list[Envelope]) -> None:
        """No workflow rule reacts to these facts yet; reading them keeps the group current."""

    for stream in (streams.ANNOTATION_EVENTS, streams.TASK_EVENTS):
        attach(broker, Consumer(stream, streams.WORKFLOW_GROUP, Envelope.model_validate, on_events,
                                stream, f"{stream} facts that move annotators' queues."),
               settings=settings, service=NAME, dead_letters=DeadLetters(redis, settings.namespace))

    async def start() -> None:
        await ensure_groups(redis, settings.namespace)

    async def stop() -> None:
        await redis.aclose()
        repo.close()

    return service_app(NAME, broker, checks={"mongodb": repo.ping}, on_startup=[start], on_shutdown=[stop])
