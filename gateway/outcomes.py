"""Waiting for the outcome of a published command.

Every gateway replica reads the event streams without a consumer group (plain XREAD from
`$`), so each replica sees every outcome and resolves the requests it is holding; nothing
is stolen from the services' groups. After a restart, outcomes are read from the
`operations` collection the services write, which is what the operation URL answers from.
"""

from __future__ import annotations

import asyncio
from typing import Any

from shared.events import parse_event


class OutcomeHub:
    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[Any]] = {}

    def expect(self, command_id: str) -> asyncio.Future[Any]:
        future = self.waiting.get(command_id)
        if future is None or future.done():
            future = asyncio.get_running_loop().create_future()
            self.waiting[command_id] = future
        return future

    def forget(self, command_id: str) -> None:
        self.waiting.pop(command_id, None)

    def deliver(self, bodies: list[Any]) -> None:
        for body in bodies:
            if not isinstance(body, dict):
                continue
            future = self.waiting.get(body.get("correlationId", ""))
            if future is not None and not future.done():
                future.set_result(parse_event(body))
