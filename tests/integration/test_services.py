"""Every service process: its consumer groups, its readiness, its first behaviour."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from deploy.embedded import free_port
from services.annotation.bootstrap import build as build_annotation
from services.task.bootstrap import build as build_task
from services.workflow.bootstrap import build as build_workflow
from shared.contracts import streams
from shared.contracts.envelope import Actor, Envelope
from shared.contracts.events import ANNOTATION_EVENT, ItemClassified
from shared.platform.messaging import make_broker
from tests.integration.test_reliability import eventually

pytestmark = pytest.mark.integration
ACTOR = Actor(user_id="u1", email="m@example.com")


async def ready(app) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
        return await c.get("/health/ready")


async def test_the_task_service_dead_letters_a_bulk_command_it_cannot_read(settings, redis):
    app = build_task(settings).app
    async with app:
        broker = make_broker(settings)
        async with broker:
            await broker.connect()
            command = Envelope(actor=ACTOR).wire() | {"type": "BulkClassify"}
            await broker.publish(command, stream=streams.stream(streams.BULK_CLASSIFY, settings.namespace))
        dlq = streams.dead_letter(streams.BULK_CLASSIFY, settings.namespace)
        assert await eventually(lambda: _has_entries(redis, dlq))
        assert (await ready(app)).json()["checks"] == {"redis": True, "mongodb": True, "subscribers": True}


async def _has_entries(redis, name) -> bool:
    return await redis.xlen(name) > 0


async def test_the_workflow_service_reads_annotation_events_in_its_own_group(settings, redis):
    app = build_workflow(settings).app
    name = streams.stream(streams.ANNOTATION_EVENTS, settings.namespace)
    async with app:
        event = ItemClassified(actor=ACTOR, item_id="i", dataset_id="d", project_id="p",
                               annotation={"id": "a"})
        assert ANNOTATION_EVENT.validate_python(event.wire()) == event
        broker = make_broker(settings)
        async with broker:
            await broker.connect()
            await broker.publish(event.wire(), stream=name)

        async def consumed() -> bool:
            groups = {g["name"].decode(): g for g in await redis.xinfo_groups(name)}
            g = groups.get(streams.WORKFLOW_GROUP)
            return bool(g) and g["entries-read"] == 1 and g["pending"] == 0

        assert await eventually(consumed)


async def test_readiness_fails_when_a_subscriber_has_stopped(settings):
    svc = build_annotation(settings)
    async with svc.app:
        assert (await ready(svc.app)).status_code == 200
        await svc.broker.subscribers[0].stop()
        answer = await ready(svc.app)
        assert answer.status_code == 503 and answer.json()["checks"]["subscribers"] is False


async def test_readiness_fails_when_mongodb_is_unreachable(settings):
    unreachable = settings.model_copy(update={"mongodb_url": f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300"})
    for app in (build_task(unreachable).app, build_workflow(unreachable).app):
        async with app:
            answer = await ready(app)
            assert answer.status_code == 503 and answer.json()["checks"]["mongodb"] is False


async def test_readiness_fails_when_redis_is_unreachable(settings, tmp_path):
    from deploy.embedded import embedded_valkey

    with embedded_valkey() as url:
        svc = build_annotation(settings.model_copy(update={"redis_url": url}))
        await svc.app.start()
    try:  # the server is gone now
        answer = await ready(svc.app)
        assert answer.status_code == 503 and answer.json()["checks"]["redis"] is False
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(svc.app.stop(), 10)
