"""The stream gauges a service's /metrics reports, read from a real Redis-protocol server:
lag, pending count, oldest pending age, dead-letter length; dropped, not left stale, when
Redis does not answer."""

from __future__ import annotations

import time

import pytest

from shared.platform.observability import metrics

pytestmark = pytest.mark.integration


def gauge(name: str, **labels: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(name, labels)


async def test_lag_pending_oldest_age_and_dead_letters_are_read_from_the_stream(settings, redis):
    stream, group = f"{settings.namespace}.gauged", "gauged-svc"
    await redis.xgroup_create(stream, group, id="0", mkstream=True)
    first = await redis.xadd(stream, {"n": "1"}, id=f"{int(time.time() * 1000) - 60_000}-0")
    for n in (2, 3, 4):
        await redis.xadd(stream, {"n": str(n)})
    await redis.xreadgroup(group, "stuck-consumer", {stream: ">"}, count=2)  # read, never acked
    await redis.xadd(stream + ".dlq", {"reason": "poison"})

    await metrics.refresh_streams(redis, [(stream, group)])

    labels = {"stream": stream, "group": group}
    assert gauge("clf_stream_group_lag", **labels) == 2.0
    assert gauge("clf_stream_group_pending", **labels) == 2.0
    oldest = gauge("clf_stream_group_oldest_pending_age_seconds", **labels)
    assert first and 59 <= oldest < 120  # the entry added a minute ago, by its id
    assert gauge("clf_dead_letter_stream_length", stream=stream) == 1.0

    await redis.xack(stream, group, first)
    await redis.xreadgroup(group, "stuck-consumer", {stream: ">"})
    pending = await redis.xpending(stream, group)
    await redis.xack(stream, group, *[e["message_id"] for e in await redis.xpending_range(
        stream, group, "-", "+", pending["pending"])])
    await metrics.refresh_streams(redis, [(stream, group)])
    assert gauge("clf_stream_group_lag", **labels) == 0.0
    assert gauge("clf_stream_group_pending", **labels) == 0.0
    assert gauge("clf_stream_group_oldest_pending_age_seconds", **labels) == 0.0


async def test_the_gauges_are_dropped_when_redis_does_not_answer(settings, redis):
    stream, group = f"{settings.namespace}.gauged", "gauged-svc"
    await redis.xgroup_create(stream, group, id="0", mkstream=True)
    await metrics.refresh_streams(redis, [(stream, group)])
    assert gauge("clf_stream_group_pending", stream=stream, group=group) == 0.0

    class Down:
        def pipeline(self, **_):
            raise ConnectionError("Redis is down")

    await metrics.refresh_streams(Down(), [(stream, group)])
    assert gauge("clf_stream_group_pending", stream=stream, group=group) is None
