"""A fast path, fenced: calls made in the same turn of the event loop go to the store as one.

The runner (shared.platform.runner) runs the commands of a batch concurrently, one lane per
key, and each handler writes its own command's documents. A repository wraps a batchable
store call (an `insert_many`, a read by ids) in `Coalesced`, so that a batch's handlers cost
the store one request rather than one each, as the batch handlers they replaced did. Each
caller gets the whole batch's answer and takes its own part of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Coalesced(Generic[T, R]):
    """`await coalesced(items)`: `call(all items given in this turn)`, made once for them all."""

    def __init__(self, call: Callable[[list[T]], Awaitable[R]]) -> None:
        self._call = call
        self._items: list[T] = []
        self._answer: asyncio.Future[R] | None = None
        self._flushing: set[asyncio.Task[None]] = set()  # held: the loop keeps tasks weakly

    async def __call__(self, items: list[T]) -> R:
        if self._answer is None:
            loop = asyncio.get_running_loop()
            self._answer = loop.create_future()
            loop.call_soon(self._start)
        self._items.extend(items)
        return await asyncio.shield(self._answer)

    def _start(self) -> None:
        task = asyncio.get_running_loop().create_task(self._flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush(self) -> None:
        items, answer = self._items, self._answer
        self._items, self._answer = [], None
        assert answer is not None
        try:
            answer.set_result(await self._call(items))
        except Exception as exc:  # noqa: BLE001 - every caller of the batch gets it
            answer.set_exception(exc)
