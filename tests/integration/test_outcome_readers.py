"""A gateway's group-less readers of the event streams start at the stream's last entry as of
their start (`read_from_now`), against real Valkey: an entry added after that and before
their first read is delivered, where FastStream's `$` (sent again with every read until a
first entry arrives) let it slip between two reads."""

from __future__ import annotations

import asyncio

import pytest

from shared.platform.messaging import batch_reader, make_broker, read_from_now

pytestmark = pytest.mark.integration


async def test_an_entry_added_between_the_start_and_the_first_read_is_delivered(settings, redis):
    name = f"{settings.namespace}.test.outcomes"
    await redis.xadd(name, {"__data__": b"old"})
    broker = make_broker(settings)
    got: list[object] = []

    @broker.subscriber(**batch_reader(name, max_records=10))
    async def on_entries(bodies: list[object]) -> None:
        got.extend(bodies)

    await broker.connect()
    await read_from_now(broker, redis)
    await redis.xadd(name, {"__data__": b"new"})  # before the reader's first XREAD
    await broker.start()
    try:
        for _ in range(200):
            if got:
                break
            await asyncio.sleep(0.02)
        assert got == [b"new"]
    finally:
        await broker.stop()


async def test_a_reader_of_a_stream_not_made_yet_reads_it_from_its_start(settings, redis):
    name = f"{settings.namespace}.test.none-yet"
    broker = make_broker(settings)

    @broker.subscriber(**batch_reader(name, max_records=10))
    async def on_entries(bodies: list[object]) -> None:
        pass

    await broker.connect()
    await read_from_now(broker, redis)
    assert [s.last_id for s in broker.subscribers] == ["0-0"]
    await broker.stop()
