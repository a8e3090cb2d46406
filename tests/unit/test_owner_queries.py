"""The gateway asks an owning service for its data by request/reply (shared.platform.queries
on the owner's side, gateway.owners on the asker's): the wiring on FastStream's in-memory
Redis broker. A paged read comes page after page until the owner says it is complete, dates
come back as the owner stored them (BSON), a failed read is an error rather than a wait, and
an owner that does not answer is a 503."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.redis import RedisBroker, TestRedisBroker

from gateway.owners import Asker
from gateway.unavailable import DependencyUnavailable
from shared.contracts.queries import TASK, Query, TaskQuery
from shared.platform.queries import serve
from shared.platform.settings import Settings

ROWS = [{"_id": f"s{n:03d}", "at": datetime(2026, 1, 1, 0, 0, n, tzinfo=UTC)} for n in range(25)]


async def statuses(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
    rest = [r for r in ROWS if after is None or r["_id"] > after]
    page = rest[:limit]
    return page, (page[-1]["_id"] if len(page) == limit and len(rest) > limit else None)


async def task(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
    if args["taskId"] == "broken":
        raise ValueError("no such layout")
    return [{"_id": args["taskId"]}], None


def owner(settings: Settings) -> RedisBroker:
    broker = RedisBroker()
    serve(broker, settings, TASK, TaskQuery, {"browse_statuses": statuses, "task": task})
    return broker


def asker(broker: RedisBroker, settings: Settings, **kw: Any) -> Asker:
    """An asker whose answers come back on a reply channel, as the gateway's do."""
    asking = Asker(broker, settings, TASK, "replies", **kw)

    @broker.subscriber(channel="replies")
    async def on_reply(body: Any) -> None:
        message = broker.context.get_local("message")
        asking.answered(message.correlation_id, message.body)

    return asking


async def test_a_paged_read_comes_page_by_page_and_dates_come_back_as_stored() -> None:
    settings = Settings()
    broker = owner(settings)
    asking = asker(broker, settings, timeout_s=2)
    async with TestRedisBroker(broker):
        pages = [page async for page in asking.pages("browse_statuses", limit=10, taskId="t1")]
        assert [len(p) for p in pages] == [10, 10, 5]
        assert [d for p in pages for d in p] == ROWS
        assert await asking.one("task", taskId="t1") == [{"_id": "t1"}]


async def test_a_read_the_owner_cannot_make_is_an_error_not_a_wait() -> None:
    settings = Settings()
    broker = owner(settings)
    asking = asker(broker, settings, timeout_s=2)
    async with TestRedisBroker(broker):
        with pytest.raises(RuntimeError, match="no such layout"):
            await asking.one("task", taskId="broken")


async def test_an_owner_that_does_not_answer_in_time_is_unavailable() -> None:
    settings = Settings()
    broker = RedisBroker()  # no replica takes the query (the in-memory broker would answer inline)
    asking = asker(broker, settings, timeout_s=0.2)
    async with TestRedisBroker(broker):
        with pytest.raises(DependencyUnavailable):
            await asking.one("task", taskId="t1")


def test_a_page_is_bounded() -> None:
    with pytest.raises(ValueError):
        Query(query="task", limit=100_000)
