"""The task and workflow services on real servers, driven through their streams: publish a
command, read the facts it caused. Used by the workflow service's integration tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from faststream.redis.parser.binary import BinaryMessageFormatV1

from services.task.bootstrap import build as build_task
from services.workflow.bootstrap import LeaseSettings
from services.workflow.bootstrap import build as build_workflow
from shared.contracts import streams
from shared.contracts.envelope import Actor, Envelope, new_id
from shared.contracts.tasks import CreateTask, PullItems, SetStatus
from shared.contracts.workflow import ChangeWorkflowSettings, Heartbeat, LeaveTask, MoveOn, StepBack
from shared.platform.messaging import make_broker
from shared.platform.settings import Settings

MANAGER = Actor(user_id="m", email="mgr@example.com", role="manager")


def annotator(n: int) -> Actor:
    return Actor(user_id=f"u{n}", email=f"ann{n}@example.com", role="annotator")


def decode(fields: dict[bytes, bytes]) -> dict[str, Any]:
    body, _ = BinaryMessageFormatV1.parse(fields[b"__data__"])
    return json.loads(body)


@dataclass
class Stack:
    settings: Settings
    redis: Any
    broker: Any
    workflow: Any
    mongo: Any
    seen: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    cursors: dict[str, str] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    catalog: dict[str, list[str]] = field(default_factory=dict)  # dataset -> items, as the gateway resolves

    def name(self, stream: str) -> str:
        return streams.stream(stream, self.settings.namespace)

    async def send(self, stream: str, command: Envelope) -> Envelope:
        await self.broker.publish(command.wire(), stream=self.name(stream), correlation_id=command.id)
        return command

    async def read(self, stream: str) -> list[dict[str, Any]]:
        """Every entry of an event stream so far (decoded), oldest first."""
        async with self.lock:
            start = f"({self.cursors[stream]}" if stream in self.cursors else "-"
            entries = await self.redis.xrange(self.name(stream), min=start)
            found = self.seen.setdefault(stream, [])
            for entry_id, fields in entries:
                body = decode(fields)
                found.append(body)
                self.answers.setdefault(body.get("correlationId"), body)
                self.cursors[stream] = entry_id.decode()
            return found

    async def wait(self, stream: str, check: Any, timeout: float = 10.0) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        checked = 0
        while True:
            bodies = await self.read(stream)
            for body in bodies[checked:]:
                if check(body):
                    return body
            checked = len(bodies)
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"nothing on {stream} matched within {timeout} s")
            await asyncio.sleep(0.003)

    async def outcome(self, stream: str, command: Envelope, timeout: float = 10.0) -> dict[str, Any]:
        """The first fact on `stream` correlated with `command`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (found := self.answers.get(command.id)) is None:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no answer to {command.type} on {stream} within {timeout} s")
            await asyncio.sleep(0.003)
            await self.read(stream)
        return found

    async def facts(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        bodies = await self.read(streams.WORKFLOW_EVENTS)
        return [b for b in bodies if b["type"] == kind and all(b.get(k) == v for k, v in match.items())]

    # the domain, in the words of the tests ----------------------------------------------------

    async def items(self, n: int, dataset: str = "d1") -> list[str]:
        ids = [f"{dataset}-item{i:05d}" for i in range(n)]
        await self.mongo.items.insert_many([{"_id": i, "datasetId": dataset, "name": i} for i in ids])
        self.catalog[dataset] = sorted(self.catalog.get(dataset, []) + ids)
        return ids

    async def create_task(self, assignees: list[str], **over: Any) -> dict[str, Any]:
        cmd = CreateTask(actor=MANAGER, task_id=new_id(), project_id="p1", dataset_id="d1", recipe_id="r1",
                         name="t", assignees=assignees,
                         **{"resolved_item_ids": self.catalog.get("d1", [])} | over)
        event = await self.outcome(streams.TASK_EVENTS, await self.send(streams.TASKS, cmd))
        assert event["type"] == "TaskChanged", event
        return event["task"]

    async def workflow_command(self, command: Envelope) -> dict[str, Any]:
        return await self.outcome(streams.WORKFLOW_EVENTS, await self.send(streams.WORKFLOW, command))

    async def settings_of(self, who: Actor, task: dict, auto_next: bool, auto_complete: bool) -> dict:
        return await self.workflow_command(ChangeWorkflowSettings(
            actor=who, task_id=task["id"], project_id="p1", auto_next=auto_next, auto_complete=auto_complete))

    async def move_on(self, who: Actor, task: dict, from_item: str | None = None) -> dict:
        return await self.workflow_command(MoveOn(actor=who, task_id=task["id"], project_id="p1",
                                                  from_item_id=from_item))

    async def step_back(self, who: Actor, task: dict) -> dict:
        return await self.workflow_command(StepBack(actor=who, task_id=task["id"], project_id="p1"))

    async def heartbeat(self, who: Actor, task: dict, item: str | None = None) -> dict:
        return await self.workflow_command(Heartbeat(actor=who, task_id=task["id"], project_id="p1",
                                                     item_id=item))

    async def leave(self, who: Actor, task: dict) -> dict:
        return await self.workflow_command(LeaveTask(actor=who, task_id=task["id"], project_id="p1"))

    async def pull(self, who: Actor, task: dict) -> dict:
        cmd = PullItems(actor=who, task_id=task["id"], project_id="p1")
        return await self.outcome(streams.TASK_EVENTS, await self.send(streams.TASKS, cmd))

    async def set_status(self, who: Actor, task: dict, item: str, status: str | None) -> dict:
        cmd = SetStatus(actor=who, task_id=task["id"], project_id="p1", item_id=item, status=status)
        return await self.outcome(streams.TASK_EVENTS, await self.send(streams.STATUS, cmd))

    async def statuses(self, task: dict) -> dict[str, str | None]:
        return {d["itemId"]: d.get("status") async for d in self.mongo.item_statuses.find({"taskId": task["id"]})}

    async def assignment_of(self, task: dict, email: str) -> dict[str, Any]:
        return await self.mongo.assignments.find_one({"taskId": task["id"], "annotator": email,
                                                      "removed": {"$ne": True}})

    async def open_items(self, task: dict, email: str) -> list[str]:
        """An annotator's items without a status, as the task service holds them."""
        assignment = await self.assignment_of(task, email)
        done = await self.statuses(task)
        return [i for i in assignment["itemIds"] if not done.get(i)]


@contextlib.asynccontextmanager
async def running(settings: Settings, redis: Any, *, ttl_s: float = 600.0,
                  task_replicas: int = 1, workflow: bool = True) -> AsyncIterator[Stack]:
    from motor.motor_asyncio import AsyncIOMotorClient

    async with contextlib.AsyncExitStack() as stack:
        for n in range(task_replicas):
            own = settings.model_copy(update={"consumer_name": f"{settings.consumer_name}-task{n}"})
            await stack.enter_async_context(build_task(own).app)
        service = build_workflow(settings, LeaseSettings(WORKFLOW_LEASE_TTL_SECONDS=ttl_s,
                                                         WORKFLOW_JANITOR_SECONDS=0.05))
        if workflow:
            await stack.enter_async_context(service.app)
        broker = make_broker(settings)
        await stack.enter_async_context(broker)
        await broker.connect()
        client = AsyncIOMotorClient(settings.mongodb_url, tz_aware=True)
        stack.callback(client.close)
        yield Stack(settings, redis, broker, service, client[settings.mongodb_db])
