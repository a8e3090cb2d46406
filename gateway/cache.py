"""A read-through lookup in a TTL cache, shared by the gateway's hot-path caches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from cachetools import TTLCache

_MISSING = object()


async def read_through(cache: TTLCache, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
    """The cached value, else `load()`'s, remembered. One lookup, not `in` then `[]`: an
    entry may expire between the two (seen as a KeyError under load). None is cached too."""
    found = cache.get(key, _MISSING)
    if found is _MISSING:
        found = cache[key] = await load()
    return found
