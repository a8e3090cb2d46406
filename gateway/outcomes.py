"""Waiting for the outcome of a published command.

Every gateway replica reads the event streams without a consumer group (plain XREAD from
`$`), so each replica sees every outcome and resolves the requests it is holding; nothing
is stolen from the services' groups. After a restart, outcomes are read from the
`operations` collection the services write, which is what the operation URL answers from.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from shared.contracts.events import parse_event
from shared.platform.messaging import decoded_object

# An envelope's correlationId as json.dumps and pydantic write it (with or without a space).
_CORRELATION = re.compile(rb'"correlationId": ?"([^"]*)"')


def correlation_of(raw: Any) -> str:
    """The correlationId of an event as sent (JSON bytes), without decoding it: the gateway
    reads every event of the platform and waits for few of them."""
    if isinstance(raw, dict):
        return str(raw.get("correlationId", ""))
    if isinstance(raw, (bytes, bytearray)) and (m := _CORRELATION.search(raw)):
        return m.group(1).decode()
    return ""


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

    def deliver(self, raws: list[Any]) -> None:
        """Events as sent (JSON bytes); only those a request here waits for are decoded."""
        for raw in raws:
            future = self.waiting.get(correlation_of(raw))
            if future is None or future.done():
                continue
            if (body := decoded_object(raw)) is not None:
                future.set_result(parse_event(body))
