"""A read-through lookup in a TTL cache, shared by the gateway's hot-path caches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from cachetools import TTLCache

_MISSING = object()
_refreshing: dict[tuple[int, Hashable], asyncio.Task[None]] = {}


async def read_through(cache: TTLCache, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
    """The cached value, else `load()`'s, remembered (None too). An entry past half its
    time to live is still answered from the cache while one background `load()` refreshes
    it, so a busy key never makes a request wait for its reload (those waits were a status
    request's latency tail: every key of a request expiring together every ~2 s); an idle
    key expires as before. One lookup, not `in` then `[]`: an entry may expire between."""
    found = cache.get(key, _MISSING)
    if found is _MISSING:
        value = await load()
        cache[key] = (value, time.monotonic())
        return value
    value, loaded = found
    flight = (id(cache), key)
    if time.monotonic() - loaded > cache.ttl / 2 and flight not in _refreshing:
        _refreshing[flight] = asyncio.ensure_future(_refresh(cache, key, load, found, flight))
    return value


def fill(cache: TTLCache, values: dict[Hashable, Any]) -> None:
    """Remember values read ahead of their `read_through`, keeping any entry already there."""
    loaded = time.monotonic()
    for key, value in values.items():
        cache.setdefault(key, (value, loaded))


async def _refresh(cache: TTLCache, key: Hashable, load: Callable[[], Awaitable[Any]], seen: Any,
                   flight: tuple[int, Hashable]) -> None:
    try:
        value = await load()
        if cache.get(key, _MISSING) is seen:  # not dropped (invalidated) meanwhile
            cache[key] = (value, time.monotonic())
    except Exception:  # noqa: BLE001 - the entry expires; the next read loads it again
        pass
    finally:
        _refreshing.pop(flight, None)
