"""Waiting for a condition in tests, without fixed sleeps as synchronisation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> bool:
    """Whether `check()` came true within `timeout` seconds (polled every 50 ms)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
