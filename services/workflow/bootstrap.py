"""Wires the workflow service from settings: consumer group `workflow-svc` on the `workflow`
command stream and the task and annotation event streams (services.workflow.app); the task
service asked by request/reply for tasks never seen (services.workflow.repository.TaskOwner); events on
`events.workflow`; auto complete's SetStatus on `status`; pulls and returns on `tasks`; the
command runner, the lease janitor and the moves waiting for a classification's outcome.
Nothing connects before `build` is called."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio import Redis

from services.workflow import app, handlers
from services.workflow.reactions import Reactions
from services.workflow.repository import (
    MongoOutcomes,
    TaskOwner,
    WorkflowRepository,
    WorkflowStore,
    connect,
)
from shared.contracts import streams
from shared.contracts.envelope import utcnow
from shared.contracts.tasks import TASK_COMMAND, PullItems, ReturnItems, SetStatus
from shared.contracts.workflow import WORKFLOW_EVENT, WorkflowEvent
from shared.platform.messaging import (
    DeadLetters,
    ensure_groups,
    make_broker,
    make_redis,
    replier,
    stream_publisher,
)
from shared.platform.runner import Publish, Replies, Runner
from shared.platform.runtime import service_app
from shared.platform.settings import Settings

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
    queues: WorkflowStore
    data: MongoOutcomes
    runner: Runner
    reactions: Reactions
    app: AsgiFastStream


WAITING_MOVES_EVERY_S = 0.5
TASK_COMMANDS = ("SetStatus", "PullItems", "ReturnItems")


def parse_message(body: dict[str, Any]) -> Any:
    """A message of an outcome record, for replay: a workflow fact, or a command it caused."""
    return (TASK_COMMAND if body.get("type") in TASK_COMMANDS else WORKFLOW_EVENT).validate_python(body)


def runner(repo: WorkflowRepository, *, publish: Publish, clock: Callable[[], datetime] = utcnow,
           reply: Replies | None = None) -> Runner:
    """The service's command runner: its handler table, one lane per annotator's queue;
    `reply` sends each outcome to the channel its command named (a move waiting for a
    classification's outcome is answered by its record only)."""
    return Runner(handlers.table(), repo=repo, publish=publish, clock=clock, key=handlers.lane,
                  parse=parse_message, reply=reply)


def outlet(redis: Redis, events: Any, status: Any, tasks: Any) -> Publish:
    """Publish what the handlers and reactions produced, in order and in one round trip:
    facts on `events.workflow`, SetStatus on `status`, PullItems and ReturnItems on `tasks`."""
    def destination(message: Any) -> Any:
        if isinstance(message, SetStatus):
            return status
        return tasks if isinstance(message, (PullItems, ReturnItems)) else events

    async def publish(produced: list[Any], reply_to: Any = None) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            for message in produced:
                await destination(message).publish(message.wire(), correlation_id=message.id, pipeline=pipe)
            await pipe.execute()
    return publish


def build(settings: Settings, leases: LeaseSettings | None = None) -> WorkflowService:
    leases = leases or LeaseSettings()
    broker = make_broker(settings)
    redis = make_redis(settings)
    data = connect(settings.mongodb_url, settings.mongodb_db)
    repo = WorkflowStore(redis, settings.namespace, int(leases.lease_ttl_s * 1000), data,
                         TaskOwner(broker, settings.namespace, maxlen=settings.stream_maxlen))
    events = stream_publisher(broker, settings, streams.WORKFLOW_EVENTS, schema=WorkflowEvent,
                              description="Workflow facts: moves, settings, queue changes, lease grants, "
                              "renewals, expiries and returns; CommandRejected for refused commands.")
    status = stream_publisher(broker, settings, streams.STATUS, schema=SetStatus, writer="workflow-svc",
                              description="Auto complete: `completed` for the item an annotator left.")
    tasks = stream_publisher(broker, settings, streams.TASKS, schema=PullItems | ReturnItems,
                             writer="workflow-svc",
                             description="Refills of pulling annotators and returns of expired leases.")
    publish = outlet(redis, events, status, tasks)
    service_runner = runner(repo, publish=publish, reply=replier(redis, broker))
    reactions = Reactions(repo, publish)
    app.subscribe(broker, runner=service_runner, reactions=reactions, settings=settings,
                  dead_letters=DeadLetters(redis, settings.namespace))
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
                await handlers.run_waiting_moves(repo, service_runner)
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

    asgi = service_app(app.NAME, broker, checks={"mongodb": data.ping}, on_startup=[start], on_shutdown=[stop])
    return WorkflowService(broker, repo, data, service_runner, reactions, asgi)

