"""A classify in a task goes gateway -> task service (the check) -> annotation service (the
write), and its outcome comes back to the gateway by reply. Here the task service dies after
its check (before passing the command on, or after, before its acknowledgement) and the
annotation service dies before its write; replicas started afterwards take the entries the
dead ones left pending: the classify ends once (one annotation, one outcome, one event id),
nothing lost, nothing doubled, and a retry with its Idempotency-Key answers that outcome.

The services run in this process, each under its own consumer name; "dying" is a handler
that never returns (so its batch is never acknowledged), then the service stopped."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
from faststream.redis.parser import BinaryMessageFormatV1

from services.annotation.bootstrap import build as build_annotation
from services.task.bootstrap import build as build_task
from shared.contracts import streams
from shared.contracts.commands import Classify
from tests.e2e.test_tasks import add_member, assignments, create_task, items_of, register_items
from tests.platform import running_platform
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"


def named(settings: Any, consumer: str) -> Any:
    return settings.model_copy(update={"consumer_name": consumer})


@contextlib.asynccontextmanager
async def running(service: Any):
    async with service.app:
        yield service


async def killed(service: Any, handling: asyncio.Event) -> None:
    """Once `service` hangs in a handler, stop it: its batch is never acknowledged."""
    assert await eventually(lambda: _set(handling), timeout=30)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(service.app.__aexit__(None, None, None), 10)


async def _set(event: asyncio.Event) -> bool:
    return event.is_set()


async def hang() -> None:
    await asyncio.Event().wait()


@pytest.fixture
def settings(settings):
    # pending entries of a dead consumer are reclaimed after half a second; the gateway
    # answers 202 after one (the client follows the operation)
    return settings.model_copy(update={"reclaim_idle_ms": 500, "outcome_wait_s": 1.0})


@pytest.mark.parametrize("dies", ["before passing it on", "after passing it on"])
async def test_a_classify_in_a_task_ends_once_when_the_task_service_dies_after_its_check_and_the_annotation_service_before_its_write(
        settings, dies):
    async with running_platform(settings, services=False) as platform:
        await platform.seed()
        token = await add_member(platform, "ann1@example.com", "annotator")
        await register_items(platform, 3)
        async with running(build_task(named(settings, "task-setup"))):  # it answers the reads too
            created = await create_task(platform, assignees=["ann1@example.com"])
            assert created.status_code == 201, created.text
            task = created.json()
            mine = (await assignments(platform, task["id"]))["ann1@example.com"]
            item = (await items_of(platform, mine["id"]))[0]

        checked, writing = asyncio.Event(), asyncio.Event()
        doomed_task = build_task(named(settings, "task-1"))
        passing_on = doomed_task.runner.publish

        async def publish_then_die(events: list[Any], **kw: Any) -> None:
            if any(isinstance(e, Classify) for e in events):
                if dies == "after passing it on":
                    await passing_on(events, **kw)
                checked.set()
                await hang()
            await passing_on(events, **kw)
        doomed_task.runner.publish = publish_then_die

        doomed_annotation = build_annotation(named(settings, "annotation-1"))

        async def write_then_die(*args: Any, **kw: Any) -> Any:
            writing.set()
            await hang()
        doomed_annotation.repo.insert_new = write_then_die
        doomed_annotation.repo.replace_classes = write_then_die

        await doomed_task.app.__aenter__()
        await doomed_annotation.app.__aenter__()
        headers = platform.auth(token) | {"Idempotency-Key": "classify-once"}
        first = await platform.client.post(f"/api/v1/items/{item}/annotations",
                                           json={"label": POLO, "taskId": task["id"]}, headers=headers)
        assert first.status_code == 202, first.text  # nothing answered within the wait
        operation = first.json()["operationId"]
        await killed(doomed_task, checked)
        if dies == "after passing it on":
            await killed(doomed_annotation, writing)
        else:
            await doomed_annotation.app.__aexit__(None, None, None)

        async with running(build_task(named(settings, "task-2"))), \
                running(build_annotation(named(settings, "annotation-2"))) as annotation:
            async def done() -> bool:
                r = await platform.get(f"/api/v1/operations/{operation}", token=token)
                return r.status_code == 200 and r.json().get("status") == "succeeded"
            assert await eventually(done, timeout=30)
            for name in (streams.TASKS, streams.CLASSIFY):
                assert await eventually(lambda name=name: _settled(platform, settings, name), timeout=30)

            again = await platform.client.post(f"/api/v1/items/{item}/annotations",
                                               json={"label": POLO, "taskId": task["id"]}, headers=headers)
            db = annotation.repo.db
            stored = [d async for d in db.annotations.find({"itemId": item})]
            assert len(stored) == 1
            assert await db.operations.count_documents({"_id": operation}) == 1
            assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
            assert again.json()["id"] == stored[0]["_id"]
            classified = {e["id"] for e in await _events(platform, settings)
                          if e.get("type") == "ItemClassified" and e.get("correlationId") == operation}
            assert len(classified) == 1  # announced once, or again with the same id
            rejected = [e for e in await _events(platform, settings, streams.TASK_EVENTS)
                        if e.get("type") == "CommandRejected"]
            assert rejected == []


async def _settled(platform: Any, settings: Any, name: str) -> bool:
    """Everything on the stream handled and acknowledged by its reader group."""
    groups = await platform.gateway.redis.xinfo_groups(streams.stream(name, settings.namespace))
    return all(g["pending"] == 0 and not g.get("lag") for g in groups)


async def _events(platform: Any, settings: Any, name: str = streams.ANNOTATION_EVENTS) -> list[dict]:
    entries = await platform.gateway.redis.xrange(streams.stream(name, settings.namespace))
    return [json.loads(BinaryMessageFormatV1.parse(fields[b"__data__"])[0]) for _, fields in entries]
