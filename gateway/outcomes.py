"""Waiting for the outcome of a published command.

Request/reply: a command goes out with FastStream's `reply_to` naming this process's reply
channel (shared.platform.messaging.reply_channel, subscribed before anything is published);
the service that answers it sends the outcome event there once it is durable and published
(shared.platform.runner), and `reply` resolves the request waiting under the command id. No
event stream is read for it.

The event streams are still looked at, by correlationId in the bytes as sent (`deliver`),
for the few commands that need it, and only while one of them waits (`scanned`):
- commands whose service does not reply (the workflow service's moves held for another
  command, whose facts gateway.workflow_reads reads anyway);
- commands whose answer must follow a read model the gateway keeps from those events
  (`settle`; the task browser's index, gateway.browse: a classify answered is listed at
  once). Their reply is held until the event reader has passed the outcome event (read
  models first), at most `SETTLE_S`.

A reply that never comes (the gateway restarted; pub/sub keeps nothing) costs only the
wait: the request answers 202 and the operation URL answers from the `operations`
collection the services write (any replica, after restarts).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from typing import Any

from shared.contracts.events import parse_event
from shared.platform.messaging import decoded_object

# An envelope's correlationId as json.dumps and pydantic write it (with or without a space).
_CORRELATION = re.compile(rb'"correlationId": ?"([^"]*)"')
SETTLE_S = 1.0  # the longest a reply waits for the event reader to have passed its event


def correlation_of(raw: Any) -> str:
    """The correlationId of an event as sent (JSON bytes), without decoding it."""
    if isinstance(raw, dict):
        return str(raw.get("correlationId", ""))
    if isinstance(raw, (bytes, bytearray)) and (m := _CORRELATION.search(raw)):
        return m.group(1).decode()
    return ""


class OutcomeHub:
    """Requests waiting for outcomes, by command id. `settle()`: whether a read model of
    this process wants to have seen an outcome's event before its request is answered."""

    def __init__(self, settle: Callable[[], bool] = lambda: False, settle_s: float = SETTLE_S) -> None:
        self.waiting: dict[str, asyncio.Future[Any]] = {}
        self.scanned: set[str] = set()  # waiting commands the event streams are read for
        self.settle = settle
        self.settle_s = settle_s
        self.held: dict[str, asyncio.TimerHandle] = {}  # replied, waiting for the event reader

    def expect(self, command_id: str, *, replied: bool = True) -> asyncio.Future[Any]:
        """The future of `command_id`'s outcome. `replied`: its service replies (otherwise
        its outcome is looked for on the event streams)."""
        future = self.waiting.get(command_id)
        if future is None or future.done():
            future = asyncio.get_running_loop().create_future()
            self.waiting[command_id] = future
        if not replied or self.settle():
            self.scanned.add(command_id)
        return future

    def forget(self, command_id: str) -> None:
        self.waiting.pop(command_id, None)
        self.scanned.discard(command_id)
        if (timer := self.held.pop(command_id, None)) is not None:
            timer.cancel()

    def reply(self, command_id: str, event: Mapping[str, Any], published: bool = True) -> None:
        """An outcome from the reply channel. Held (bounded) when the event reader must
        pass its event first, i.e. the command is scanned and its event was published."""
        future = self.waiting.get(command_id)
        if future is None or future.done():
            return
        outcome = parse_event(dict(event))
        if command_id not in self.scanned or not published:
            future.set_result(outcome)
        elif command_id not in self.held:
            self.held[command_id] = asyncio.get_running_loop().call_later(
                self.settle_s, self._resolve, command_id, outcome)

    def _resolve(self, command_id: str, outcome: Any) -> None:
        self.held.pop(command_id, None)
        future = self.waiting.get(command_id)
        if future is not None and not future.done():
            future.set_result(outcome)

    def deliver(self, raws: list[Any]) -> None:
        """Events as sent (JSON bytes), after the read models had them: resolves the scanned
        commands among them (only their events are decoded)."""
        if not self.scanned:
            return
        for raw in raws:
            command_id = correlation_of(raw)
            if command_id not in self.scanned:
                continue
            future = self.waiting.get(command_id)
            if future is None or future.done():
                continue
            if (body := decoded_object(raw)) is not None:
                if (timer := self.held.pop(command_id, None)) is not None:
                    timer.cancel()
                future.set_result(parse_event(body))
