"""An owner none of whose replicas runs is a 503 at once (gateway.owners): its replicas keep
a presence key with a short time to live (shared.platform.queries.Presence), which the asker
reads before asking and again while it waits. And a task list's filter goes to the task
service as plain JSON, never as MongoDB operators."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from faststream.redis import RedisBroker, TestRedisBroker

from gateway import owners
from gateway.owners import Asker, plain_filters
from gateway.unavailable import DependencyUnavailable
from services.task.queries import TASK_FILTER_FIELDS
from shared.contracts.queries import TASK, TaskQuery, presence
from shared.platform import queries
from shared.platform.queries import Presence, filtered, serve
from shared.platform.settings import Settings
from tests.unit.test_owner_queries import asker


class FakeRedis:
    """The few Redis calls presence makes: SET with PX and EXISTS (expiry by the clock)."""

    def __init__(self) -> None:
        self.keys: dict[str, float] = {}
        self.exists_calls = 0

    async def set(self, key: str, value: str, px: int) -> None:
        self.keys[key] = time.monotonic() + px / 1000

    async def rpush(self, key: str, message: bytes) -> None:
        """A query pushed: nobody takes it here (see `through_the_broker`)."""

    async def exists(self, key: str) -> int:
        self.exists_calls += 1
        return int(self.keys.get(key, 0) > time.monotonic())


def through_the_broker(asking: Asker, broker: RedisBroker) -> Asker:
    """Queries pushed through the in-memory broker, where its owner takes them."""
    async def push(body: dict[str, Any], correlation: str) -> None:
        await broker.publish(body, list=asking.list, reply_to=asking.reply_to, correlation_id=correlation)

    asking._push = push  # type: ignore[method-assign]
    return asking


async def answered(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
    return [{"_id": args["taskId"]}], None


async def test_an_owner_with_no_replica_running_is_a_503_at_once_naming_it() -> None:
    settings, broker = Settings(), RedisBroker()
    serve(broker, settings, TASK, TaskQuery, {"task": answered})
    async with TestRedisBroker(broker):
        asking = Asker(broker, settings, TASK, "replies", timeout_s=10, redis=FakeRedis())
        started = time.monotonic()
        with pytest.raises(DependencyUnavailable) as refused:
            await asking.one("task", taskId="t1")
        assert time.monotonic() - started < 0.5
        assert refused.value.dependency == "task-svc"


async def test_a_running_owner_is_asked_and_its_presence_read_once_a_second_at_most() -> None:
    settings, broker, redis = Settings(), RedisBroker(), FakeRedis()
    there = serve(broker, settings, TASK, TaskQuery, {"task": answered}, redis)
    asking = through_the_broker(asker(broker, settings, timeout_s=2, redis=redis), broker)
    async with TestRedisBroker(broker):
        await there.start()
        try:
            for _ in range(5):
                assert await asking.one("task", taskId="t1") == [{"_id": "t1"}]
            assert redis.exists_calls == 1
        finally:
            await there.stop()


async def test_an_owner_whose_last_replica_goes_while_asked_is_a_503_before_the_timeout(monkeypatch) -> None:
    monkeypatch.setattr(owners, "WATCH_S", 0.05)
    settings, broker, redis = Settings(), RedisBroker(), FakeRedis()  # the query is never taken
    redis.keys[presence(TASK, settings.namespace)] = time.monotonic() + 0.2  # killed: it expires
    asking = asker(broker, settings, timeout_s=10, redis=redis)
    async with TestRedisBroker(broker):
        started = time.monotonic()
        with pytest.raises(DependencyUnavailable):
            await asking.one("task", taskId="t1")
        assert time.monotonic() - started < 2


async def test_a_replica_keeps_its_presence_alive_while_it_runs(monkeypatch) -> None:
    monkeypatch.setattr(queries, "PRESENCE_EVERY_S", 0.02)
    monkeypatch.setattr(queries, "PRESENCE_TTL_MS", 60)
    redis = FakeRedis()
    replica = Presence(redis, "queries.task.alive")
    await replica.start()
    await asyncio.sleep(0.2)  # past several times to live: renewed meanwhile
    assert await redis.exists("queries.task.alive")
    await replica.stop()
    await asyncio.sleep(0.1)
    assert not await redis.exists("queries.task.alive")


def test_a_task_list_filter_is_plain_json_and_means_the_same_query() -> None:
    query = {"projectId": {"$in": ["p1", "p2"]}, "name": "shirts", "datasetId": {"$ne": "d9"}}
    plain = plain_filters(query)
    assert all(set(f) == {"field", "op", "value"} and not f["op"].startswith("$") for f in plain)
    assert filtered(plain, TASK_FILTER_FIELDS) == {"projectId": {"$in": ["p1", "p2"]}, "name": {"$eq": "shirts"},
                                  "datasetId": {"$ne": "d9"}}


def test_a_task_list_filter_on_an_unknown_field_or_operation_is_refused() -> None:
    with pytest.raises(ValueError):
        filtered([{"field": "assignees", "op": "eq", "value": "x"}], TASK_FILTER_FIELDS)
    with pytest.raises(ValueError):
        filtered([{"field": "name", "op": "where", "value": "1"}], TASK_FILTER_FIELDS)
