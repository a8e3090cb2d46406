"""Publishing many events in one script call (`publish_all`, shared/platform/lua/xadd_many.lua), against real Valkey:
the entries are what FastStream's own publish writes, in order, trimmed as the stream says."""

from __future__ import annotations

import json

import pytest
from faststream.redis.message import bDATA_KEY
from faststream.redis.parser.binary import BinaryMessageFormatV1

from shared.contracts import streams
from shared.contracts.envelope import Actor
from shared.contracts.events import ItemClassified
from shared.platform.messaging import (
    Prepared,
    make_broker,
    prepare_all,
    publish_all,
    stream_publisher,
)

pytestmark = pytest.mark.integration

ACTOR = Actor(user_id="u1", email="ann@example.com")


def classified(n: int) -> ItemClassified:
    return ItemClassified(id=f"event-{n}", correlation_id=f"command-{n}", actor=ACTOR, item_id=f"item-{n}",
                          dataset_id="d1", project_id="p1", annotation={"id": f"a{n}", "label": "cat"})


def publisher_of(settings, name: str, maxlen: int | None = None):
    if maxlen is not None:
        settings = settings.model_copy(update={"stream_maxlen": maxlen})
    return stream_publisher(make_broker(settings), settings, name, schema=ItemClassified, description="test")


async def read(redis, stream: str) -> list[tuple[dict, dict]]:
    entries = await redis.xrange(stream)
    return [(json.loads(body), headers) for body, headers in
            (BinaryMessageFormatV1.parse(fields[bDATA_KEY]) for _, fields in entries)]


async def test_many_events_go_out_in_order_as_faststream_writes_them(settings, redis):
    name = streams.stream("test.publish.many", settings.namespace)
    publisher = publisher_of(settings, "test.publish.many")
    messages = [classified(n) for n in range(2_500)]  # three script calls
    await publish_all(redis, publisher, messages)

    read_back = await read(redis, name)
    assert [body["id"] for body, _ in read_back] == [m.id for m in messages]
    assert read_back[7][0] == json.loads(messages[7].model_dump_json(by_alias=True, exclude_none=True))
    assert read_back[7][1]["correlation_id"] == messages[7].id
    assert read_back[7][1]["content-type"] == "application/json"


async def test_one_event_and_a_prepared_batch_read_back_the_same(settings, redis):
    name = streams.stream("test.publish.prepared", settings.namespace)
    publisher = publisher_of(settings, "test.publish.prepared")
    prepared = await prepare_all(publisher, [classified(1), classified(2)])
    assert isinstance(prepared, Prepared) and len(prepared.entries) == 2
    await publish_all(redis, publisher, [classified(0)])
    await publish_all(redis, publisher, prepared)
    await publish_all(redis, publisher, Prepared([]))
    assert [body["itemId"] for body, _ in await read(redis, name)] == ["item-0", "item-1", "item-2"]


async def test_a_trimmed_stream_stays_trimmed(settings, redis):
    name = streams.stream("test.publish.trimmed", settings.namespace)
    publisher = publisher_of(settings, "test.publish.trimmed", maxlen=100)
    await publish_all(redis, publisher, [classified(n) for n in range(1_000)])
    length = await redis.xlen(name)
    assert 100 <= length < 1_000  # MAXLEN ~ 100: whole nodes are trimmed, as one XADD each would
    last = await redis.xrevrange(name, count=1)
    assert json.loads(BinaryMessageFormatV1.parse(last[0][1][bDATA_KEY])[0])["id"] == "event-999"
