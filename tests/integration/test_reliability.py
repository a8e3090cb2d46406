"""At-least-once delivery made exactly-once in effect, against real Valkey and MongoDB-wire."""

from __future__ import annotations

import asyncio

import pytest
from bson import ObjectId
from faststream.redis import RedisBroker

from services.annotation.bootstrap import build
from shared.contracts import streams
from shared.contracts.commands import Classify
from shared.contracts.envelope import Actor
from shared.platform.messaging import Consumer, DeadLetters, attach, ensure_groups, make_broker
from shared.platform.runtime import service_app

pytestmark = pytest.mark.integration

ACTOR = Actor(user_id="u1", email="ann@example.com")


def command(**over) -> Classify:
    fields = dict(annotation_id=str(ObjectId()), item_id="i1", dataset_id="d1", project_id="p1",
                  label="cat", actor=ACTOR)
    return Classify(**(fields | over))


async def eventually(check, timeout: float = 15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.05)


async def publish(settings, *commands: Classify) -> None:
    broker = make_broker(settings)
    async with broker:
        await broker.connect()
        for cmd in commands:
            await broker.publish(cmd.wire(), stream=streams.stream(streams.CLASSIFY, settings.namespace))


async def test_the_same_command_delivered_twice_makes_one_annotation(settings, redis):
    svc = build(settings)
    cmd = command()
    async with svc.app:
        await publish(settings, cmd, cmd)
        events = streams.stream(streams.ANNOTATION_EVENTS, settings.namespace)
        assert await eventually(lambda: _xlen_at_least(redis, events, 2))
        assert await svc.repo.annotations.count_documents({}) == 1
        published = await redis.xrange(events)
        assert len(published) == 2  # the outcome is re-announced, with the same event id
        assert await svc.repo.operations.count_documents({}) == 1


async def _xlen_at_least(redis, name: str, n: int) -> bool:
    return await redis.xlen(name) >= n


async def test_entries_left_pending_by_a_dead_consumer_are_reclaimed_and_done_once(settings, redis):
    """A consumer that read a batch and died (never acked) leaves it pending; the live
    consumers never see it again, and the reclaimer completes every entry exactly once."""
    await ensure_groups(redis, settings.namespace)
    name = streams.stream(streams.CLASSIFY, settings.namespace)
    cmds = [command() for _ in range(8)]
    await publish(settings, *cmds)
    taken = await redis.xreadgroup(streams.ANNOTATION_GROUP, "dead-consumer", {name: ">"}, count=8)
    assert len(taken[0][1]) == 8
    pending = await redis.xpending(name, streams.ANNOTATION_GROUP)
    assert pending["pending"] == 8

    svc = build(settings)
    async with svc.app:
        assert await eventually(lambda: _annotations(svc, 8), timeout=30)
        assert await eventually(lambda: _no_pending(redis, name), timeout=30)
        ids = {d["_id"] async for d in svc.repo.annotations.find({})}
    assert ids == {c.annotation_id for c in cmds}


async def _annotations(svc, n: int) -> bool:
    return await svc.repo.annotations.count_documents({}) == n


async def _no_pending(redis, name: str) -> bool:
    return (await redis.xpending(name, streams.ANNOTATION_GROUP))["pending"] == 0


async def test_a_poison_entry_goes_to_the_dead_letter_stream_with_its_reason(settings, redis):
    await ensure_groups(redis, settings.namespace)
    name = streams.stream(streams.CLASSIFY, settings.namespace)
    await redis.xadd(name, {"garbage": "not a command"})
    good = command()
    svc = build(settings)
    async with svc.app:
        await publish(settings, good)
        dlq = name + streams.DLQ_SUFFIX
        assert await eventually(lambda: _xlen_at_least(redis, dlq, 1))
        assert await eventually(lambda: _annotations(svc, 1))
        assert await eventually(lambda: _no_pending(redis, name))
    [(_, fields)] = await redis.xrange(dlq)
    assert fields[b"reason"].startswith(b"unparseable")
    assert fields[b"group"] == streams.ANNOTATION_GROUP.encode()


async def test_an_entry_whose_handler_keeps_failing_is_dead_lettered_after_max_deliveries(settings, redis):
    await ensure_groups(redis, settings.namespace)
    attempts: list[int] = []

    async def always_fails(batch: list) -> None:
        attempts.append(len(batch))
        raise RuntimeError("the store refused the write")

    broker = make_broker(settings)
    consumer = Consumer(streams.CLASSIFY, streams.ANNOTATION_GROUP, dict, always_fails, "t", "t")
    attach(broker, consumer, settings=settings, service="test",
           dead_letters=DeadLetters(redis, settings.namespace))
    name = streams.stream(streams.CLASSIFY, settings.namespace)
    async with service_app("test", broker, checks={}):
        await redis.xadd(name, {"x": "1"})  # raw entry; parse=dict accepts the fallback body
        dlq = name + streams.DLQ_SUFFIX
        assert await eventually(lambda: _xlen_at_least(redis, dlq, 1), timeout=30)
    [(_, fields)] = await redis.xrange(dlq)
    assert b"the store refused the write" in fields[b"reason"]
    assert int(fields[b"deliveries"]) == settings.max_deliveries
    assert len(attempts) == settings.max_deliveries
    assert (await redis.xpending(name, streams.ANNOTATION_GROUP))["pending"] == 0


async def test_publishing_survives_a_redis_restart(tmp_path):
    from deploy.embedded import embedded_valkey, free_port
    from shared.platform.settings import Settings

    port = free_port()
    settings = Settings(REDIS_URL=f"redis://127.0.0.1:{port}", STREAM_NAMESPACE="restart")
    with embedded_valkey(tmp_path / "v", port=port):
        broker: RedisBroker = make_broker(settings)
        await broker.connect()
        await broker.publish({"n": 1}, stream="s")
    with embedded_valkey(tmp_path / "v", port=port) as url:
        await broker.publish({"n": 2}, stream="s")  # stale pooled connection: retried
        import redis as sync_redis

        assert sync_redis.Redis.from_url(url).xlen("s") == 2  # AOF kept the first entry
        await broker.stop()
