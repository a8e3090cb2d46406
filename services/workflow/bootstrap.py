"""Wires the workflow service: consumer group `workflow-svc` on the `workflow` command stream
and the task and annotation event streams; events on `events.workflow`; auto complete's
SetStatus on `status`; pulls and returns on `tasks`; the lease janitor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.workflow.handlers import Outlets, Produced, WorkflowHandlers
from services.workflow.reactions import Reactions
from services.workflow.repository import MongoTaskData, RedisQueues, connect
from shared.contracts import streams
from shared.contracts.envelope import Envelope
from shared.contracts.events import ANNOTATION_EVENT
from shared.contracts.tasks import TASK_EVENT, PullItems, ReturnItems, SetStatus
from shared.contracts.workflow import WORKFLOW_COMMAND, WorkflowEvent
from shared.platform.messaging import (
    Consumer,
    DeadLetters,
    attach,
    ensure_groups,
    make_broker,
    make_redis,
    stream_publisher,
)
from shared.platform.runtime import service_app
from shared.platform.settings import Settings

NAME = "workflow"
log = logging.getLogger("classifier.workflow")


class LeaseSettings(BaseSettings):
    """The workflow service's own settings (environment)."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    lease_ttl_s: float = Field(600.0, gt=0, validation_alias="WORKFLOW_LEASE_TTL_SECONDS")
    janitor_every_s: float = Field(0.0, ge=0, validation_alias="WORKFLOW_JANITOR_SECONDS")

    def every_s(self) -> float:
        return self.janitor_every_s or min(5.0, max(0.1, self.lease_ttl_s / 10))


@dataclass
class WorkflowService:
    broker: RedisBroker
    queues: RedisQueues
    data: MongoTaskData
    handlers: WorkflowHandlers
    reactions: Reactions
    app: AsgiFastStream


WAITING_MOVES_EVERY_S = 0.5
FACT_BATCH = 500  # facts per read (commands: CONSUMER_BATCH_SIZE)


def parse_fact(body: Any) -> Envelope:
    """Facts of other services, read tolerantly: the ones the workflow follows typed, any
    other envelope as it is (acknowledged and skipped)."""
    kind = body.get("type") if isinstance(body, dict) else None
    if kind in ("TaskChanged", "ItemsPulled", "ItemStatusChanged"):
        return TASK_EVENT.validate_python(body)
    if kind in ("ItemClassified", "CommandRejected"):
        return ANNOTATION_EVENT.validate_python(body)
    return Envelope.model_validate(body)


def build(settings: Settings, leases: LeaseSettings | None = None) -> WorkflowService:
    leases = leases or LeaseSettings()
    broker = make_broker(settings)
    redis = make_redis(settings)
    data = connect(settings.mongodb_url, settings.mongodb_db)
    queues = RedisQueues(redis, settings.namespace, int(leases.lease_ttl_s * 1000))
    events = stream_publisher(broker, settings, streams.WORKFLOW_EVENTS, schema=WorkflowEvent,
                              description="Workflow facts: moves, settings, queue changes, lease grants, "
                              "renewals, expiries and returns; CommandRejected for refused commands.")
    status = stream_publisher(broker, settings, streams.STATUS, schema=SetStatus, writer="workflow-svc",
                              description="Auto complete: `completed` for the item an annotator left.")
    tasks = stream_publisher(broker, settings, streams.TASKS, schema=PullItems | ReturnItems,
                             writer="workflow-svc",
                             description="Refills of pulling annotators and returns of expired leases.")
    async def send(produced: Produced) -> None:
        """Commands, events and their notes in one pipelined round trip."""
        async with redis.pipeline(transaction=False) as pipe:
            for publisher, messages in ((status, produced.status), (tasks, produced.tasks),
                                        (events, produced.events)):
                for message in messages:
                    await publisher.publish(message.wire(), correlation_id=message.id, pipeline=pipe)
            for key, value, ttl_s in produced.notes:
                pipe.set(key, value, ex=ttl_s)
            await pipe.execute()

    outlets = Outlets(send=send, outcomes=data.save_outcomes)
    handlers = WorkflowHandlers(queues, data, outlets)
    reactions = Reactions(handlers)
    dead_letters = DeadLetters(redis, settings.namespace)
    consumers = [
        Consumer(streams.WORKFLOW, streams.WORKFLOW_GROUP, WORKFLOW_COMMAND.validate_python,
                 handlers.handle_commands, streams.WORKFLOW,
                 "Annotators' workflow commands: next and previous item, settings, heartbeats, leaving."),
        Consumer(streams.TASK_EVENTS, streams.WORKFLOW_GROUP, parse_fact, reactions.on_task_events,
                 streams.TASK_EVENTS, "Task facts that move annotators' queues and leases.",
                 max_records=FACT_BATCH),
        Consumer(streams.ANNOTATION_EVENTS, streams.WORKFLOW_GROUP, parse_fact,
                 reactions.on_annotation_events, streams.ANNOTATION_EVENTS,
                 "Classifications in pulling tasks: work that renews the annotator's leases.",
                 wanted=reactions.classification_may_matter, max_records=FACT_BATCH),
    ]
    for consumer in consumers:
        attach(broker, consumer, settings=settings, service=NAME, dead_letters=dead_letters)
    stopping = asyncio.Event()
    janitor: list[asyncio.Task[None]] = []

    async def sweep() -> None:
        """The lease janitor. It stops by a flag, not by cancellation alone: a client library
        that swallows a CancelledError mid-call would otherwise keep it (and shutdown) going."""
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), leases.every_s())
                return
            try:
                await reactions.tick()
            except Exception:  # the next sweep tries again
                log.exception("lease sweep failed")

    async def follow_outcomes() -> None:
        """Moves that wait for a classification's outcome, looked at twice a second."""
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), WAITING_MOVES_EVERY_S)
                return
            try:
                await handlers.run_waiting_moves()
            except Exception:  # the next round tries again
                log.exception("waiting moves failed")

    async def start() -> None:
        await ensure_groups(redis, settings.namespace)
        stopping.clear()
        janitor.append(asyncio.create_task(sweep()))
        janitor.append(asyncio.create_task(follow_outcomes()))

    async def stop() -> None:
        stopping.set()
        for task in janitor:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
        janitor.clear()
        await redis.aclose()
        data.close()

    app = service_app(NAME, broker, checks={"mongodb": data.ping}, on_startup=[start], on_shutdown=[stop])
    return WorkflowService(broker, queues, data, handlers, reactions, app)

