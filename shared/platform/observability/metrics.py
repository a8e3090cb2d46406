"""Prometheus metrics of a process, and the stream gauges refreshed when Prometheus scrapes.

One registry per process (prometheus_client's default, which Litestar's and FastStream's
middlewares use too). The stream gauges are read from Redis at scrape time, so a process
nobody scrapes spends nothing on them; each service reports the groups it reads (so every
replica reports the same figures: aggregate them with `max`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger("classifier.metrics")
CONTENT_TYPE = CONTENT_TYPE_LATEST
REFRESH_TIMEOUT_S = 1.0  # a scrape answers within about this even when Redis does not
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0)

COMMANDS = Counter(
    "clf_commands", "Stream entries a service's consumer group took, by stream, group, message "
    "type and outcome (handled, failed: left pending for a retry, dead_lettered)",
    ["stream", "group", "type", "outcome"])
LAG = Gauge("clf_stream_group_lag", "Entries of the stream not yet delivered to the group",
            ["stream", "group"])
PENDING = Gauge("clf_stream_group_pending",
                "Entries delivered to the group and not acknowledged", ["stream", "group"])
OLDEST_PENDING = Gauge(
    "clf_stream_group_oldest_pending_age_seconds",
    "Age (since it was added) of the oldest entry delivered to the group and not acknowledged; "
    "0 when none is pending", ["stream", "group"])
DEAD_LETTERS = Gauge("clf_dead_letter_stream_length", "Entries in the stream's dead-letter "
                     "stream (<stream>.dlq)", ["stream"])
MONGODB = Histogram("clf_mongodb_command_duration_seconds",
                    "MongoDB commands, as the driver timed them, by command and outcome",
                    ["command", "outcome"], buckets=LATENCY_BUCKETS)


def count(stream: str, group: str, types: Iterable[str], outcome: str) -> None:
    """One batch's entries, counted once per type."""
    tally: dict[str, int] = {}
    for name in types:
        tally[name] = tally.get(name, 0) + 1
    for name, n in tally.items():
        COMMANDS.labels(stream, group, name, outcome).inc(n)


def broker_middleware(service: str) -> Any:
    """FastStream's Redis Prometheus middleware: received, processed (by status), published,
    and their durations, by handler and destination (faststream_* series)."""
    from faststream.redis.prometheus import RedisPrometheusMiddleware

    return RedisPrometheusMiddleware(registry=REGISTRY, app_name=service or "faststream")


async def refresh_streams(redis: Any, groups: Iterable[tuple[str, str]]) -> None:
    """Set the stream gauges of these (stream, group) pairs from Redis; on failure (Redis down
    or slow) they are dropped rather than left stale."""
    groups = sorted(set(groups))
    try:
        await asyncio.wait_for(_refresh(redis, groups), REFRESH_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - a scrape must answer whatever Redis does
        log.warning("stream gauges not refreshed: %s", exc)
        for gauge in (LAG, PENDING, OLDEST_PENDING, DEAD_LETTERS):
            gauge.clear()


async def _refresh(redis: Any, groups: list[tuple[str, str]]) -> None:
    streams = sorted({s for s, _ in groups})
    async with redis.pipeline(transaction=False) as pipe:
        for stream in streams:
            pipe.xinfo_groups(stream)
            pipe.xlen(stream + ".dlq")
        for stream, group in groups:
            pipe.xpending(stream, group)
        replies = await pipe.execute(raise_on_error=False)
    now_ms = time.time() * 1000
    infos = {}
    for n, stream in enumerate(streams):
        info, dlq = replies[2 * n], replies[2 * n + 1]
        infos[stream] = {_text(g["name"]): g for g in info} if isinstance(info, list) else {}
        if isinstance(dlq, int):
            DEAD_LETTERS.labels(stream).set(dlq)
    for (stream, group), pending in zip(groups, replies[2 * len(streams):], strict=True):
        info = infos[stream].get(group)
        if info is None or isinstance(pending, Exception):
            continue  # the group does not exist (yet): nothing to report
        lag = info.get("lag")
        LAG.labels(stream, group).set(float("nan") if lag is None else lag)
        PENDING.labels(stream, group).set(info.get("pending", 0))
        oldest = pending.get("min") if pending.get("pending") else None
        OLDEST_PENDING.labels(stream, group).set(
            max(0.0, (now_ms - int(_text(oldest).split("-")[0])) / 1000) if oldest else 0.0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def exposition() -> bytes:
    return generate_latest(REGISTRY)
