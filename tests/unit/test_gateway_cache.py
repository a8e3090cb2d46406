"""The gateway's read-through cache: busy keys are refreshed ahead, never waited for; an
annotator's next items are read ahead as far as their pace reaches."""

from __future__ import annotations

import asyncio

import pytest
from cachetools import TTLCache

from gateway.cache import read_through
from gateway.workflow_reads import read_ahead_size

pytestmark = pytest.mark.unit


class Source:
    def __init__(self) -> None:
        self.value, self.loads, self.gate = 1, 0, asyncio.Event()
        self.gate.set()

    async def load(self) -> int:
        self.loads += 1
        await self.gate.wait()
        return self.value


async def test_an_entry_past_half_its_life_is_answered_from_the_cache_and_refreshed_behind():
    cache, source = TTLCache(10, ttl=0.2), Source()
    assert await read_through(cache, "k", source.load) == 1
    source.value = 2
    await asyncio.sleep(0.12)
    source.gate.clear()  # the refresh now takes as long as we like: no request waits for it
    assert await asyncio.wait_for(read_through(cache, "k", source.load), 0.05) == 1
    assert await asyncio.wait_for(read_through(cache, "k", source.load), 0.05) == 1
    assert source.loads == 2  # one refresh in flight, not one per request
    source.gate.set()
    await asyncio.sleep(0.01)
    assert await read_through(cache, "k", source.load) == 2


async def test_a_refresh_does_not_bring_back_an_entry_dropped_meanwhile():
    cache, source = TTLCache(10, ttl=0.2), Source()
    await read_through(cache, "k", source.load)
    await asyncio.sleep(0.12)
    source.gate.clear()
    await read_through(cache, "k", source.load)  # starts the refresh
    cache.pop("k")  # invalidated (a membership changed)
    source.value = 3
    source.gate.set()
    await asyncio.sleep(0.01)
    assert "k" not in cache
    assert await read_through(cache, "k", source.load) == 3


def test_the_next_items_are_read_ahead_as_far_as_the_annotators_pace_reaches_while_cached():
    assert read_ahead_size(None, 1.0, 16) == 1  # pace unknown: the next item alone
    assert read_ahead_size(3.0, 1.0, 16) == 1  # someone looking at each item a while
    assert read_ahead_size(0.25, 1.0, 16) == 4
    assert read_ahead_size(0.01, 1.0, 16) == 16  # a classify-and-advance loop
    assert read_ahead_size(0.0, 1.0, 16) == 16
