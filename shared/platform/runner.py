"""The command runner every service uses: a batch of commands read from a stream in, their
effects durable, their outcomes recorded and their events published.

Contract, for a batch (`Runner.run`):
- a command id seen twice in the batch runs once (the first copy);
- the stored outcomes of the whole batch are loaded in one call; a command already done is
  not run again: the events of its outcome record are published again, with the same ids;
- every other command goes to the handler its type is registered with, in an explicit table
  `{CommandType: handler}`; a handler is a plain function (async or not)
  `handler(command, *, repo, clock) -> list[Event]` that makes its effect durable through
  `repo` before it returns (settings a handler needs are bound when the table is built);
- a command runs after the earlier commands of the batch whose key overlaps its own, in
  batch order, and concurrently with the others. `key(command)` names what the command
  reads and writes, as a path: `(item,)` overlaps `(item, annotation)` and everything else
  under that item; `(item, a1)` and `(item, a2)` do not overlap (a key that is not a tuple
  is a path of one). A command whose key is None runs alone, after everything before it and
  before everything after it;
- once the handlers have returned, the outcome records are stored in one call, and only
  then are the events published, in batch order (publish-after-durable). A command that
  raised is not recorded, nor run are the commands that had to follow it; the others are
  recorded and published, and then the first error is raised again, so the subscriber
  leaves the batch unacknowledged (NACK_ON_ERROR) and it is delivered again;
- the runner never acknowledges: the subscriber does, after `run` returns (or the outlet of a
  `joint` runner, see below);
- request/reply: `run(commands, reply_to={command id: channel})` names where a requester
  waits for a command's outcome. Once the batch's events are published, the event of each
  such command's outcome record (new or replayed) is sent there (`reply`), under the id the
  record is kept by, which is the one the requester waits for. A command passed on rather
  than answered (no record of its own: it goes on to the service that answers it) keeps its
  address: `publish(events, reply_to={message id: channel})` is called for a batch passing on
  such commands (the address keyed by the ids of what the command's handler returned), and
  the publisher sends them on with it. A reply is a shortcut, never the
  record: one that cannot be sent is logged and dropped (the requester reads the record).
  A runner built `joint` hands the replies to its outlet with the events instead
  (`publish(events, replies=[...])`), which sends them after the events in the same round
  trip; a failure there fails the batch, which is delivered again and answered again. It
  hands the outlet the batch's acknowledgement too (`run(..., ack=)`), once every command
  ran: `publish(events, ack=...)` sends it after the events and replies, still one round
  trip (the subscriber acknowledges a batch whose ack was not sent so).

A handler whose outcome record is not just its events returns an `Answer`: its events, and
`record` fields laid over the record made from them (a superseded status's `event`, an
if-open status's `kept`; the `_id` and `commandType` of a command it checks on another
service's behalf), or `stored=False` when it leaves no record at all (a check that forwards
what it checked: the forwarded command's own record is the outcome). The events of an
`Answer` are published like any other, after what is durable.

Because the process may die after an effect is durable and before its outcome is, a handler
must be idempotent on the command id too (derive ids from it; read back what is already
stored). The outcome record is what the gateway's `/operations/{id}` answers from:
`_id` (command id), `commandType`, `status` (`rejected` when an event is a CommandRejected),
`actorId`, `projectId`, `event` (the first event), `events` (all) and `completedAt`.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.contracts.envelope import utcnow
from shared.contracts.events import CommandRejected, parse_event

log = logging.getLogger("classifier.runner")

Command = Any  # an envelope-derived contract model with `id`, `type` and `actor`
Event = Any  # an envelope-derived contract model with `id` and `wire()`
Handler = Callable[..., "list[Event] | Awaitable[list[Event]]"]
Publish = Callable[..., Awaitable[None]]  # publish(events[, reply_to={id: channel}][, replies=..., ack=...])
Replies = Callable[[list["Reply"]], Awaitable[None]]
Clock = Callable[[], datetime]


class OutcomeStore(Protocol):
    """Where outcome records live (a service's repository implements it)."""

    async def outcomes(self, command_ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...

    async def save_outcomes(self, outcomes: list[dict[str, Any]]) -> None:
        """Store records; one already stored (a redelivery) stays as it was."""


@dataclass(frozen=True)
class Reply:
    """An outcome sent to the channel its command named: `event` (the outcome event, as it
    is on the wire) under the id the requester waits for (`command_id`, the reply's
    correlation id). `published`: whether the event went out on its events stream too (a
    superseded status's answer does not), so a requester knows whether to wait for its
    read models to have seen it."""

    channel: str
    command_id: str
    event: Mapping[str, Any]
    published: bool = True


def outcome_record(cmd: Command, events: Sequence[Event], completed_at: datetime) -> dict[str, Any]:
    """The stored outcome of `cmd`: what the gateway reads to answer its operation."""
    wired = [e.wire() for e in events]
    rejected = any(isinstance(e, CommandRejected) for e in events)
    return {"_id": cmd.id, "commandType": cmd.type, "status": "rejected" if rejected else "succeeded",
            "actorId": cmd.actor.user_id, "projectId": getattr(cmd, "project_id", None),
            "event": wired[0] if wired else None, "events": wired, "completedAt": completed_at}


class Answer(list):  # type: ignore[type-arg]
    """A handler's events, with what its outcome record holds besides them (see the module)."""

    def __init__(self, events: Iterable[Event] = (), *, record: Mapping[str, Any] | None = None,
                 stored: bool = True) -> None:
        super().__init__(events)
        self.record: dict[str, Any] | None = dict(record or {}) if stored else None


def record_of(cmd: Command, events: Sequence[Event], completed_at: datetime) -> dict[str, Any] | None:
    """The outcome record the runner stores for `cmd` (None: it leaves none)."""
    extra = events.record if isinstance(events, Answer) else {}
    return None if extra is None else outcome_record(cmd, events, completed_at) | extra


def stored_events(record: Mapping[str, Any], parse: Callable[[dict[str, Any]], Event] = parse_event) -> list[Event]:
    """The events of an outcome record, for replay (a record holding only `event` has one)."""
    bodies = record.get("events")
    if bodies is None:
        bodies = [record["event"]] if record.get("event") is not None else []
    return [parse(b) for b in bodies]


def unique(commands: Iterable[Command]) -> list[Command]:
    """The batch without repeated command ids (the first copy kept), in order."""
    seen: dict[str, Command] = {}
    for cmd in commands:
        seen.setdefault(cmd.id, cmd)
    return list(seen.values())


class Runner:
    """Runs batches of one stream's commands for one service (see the module's contract)."""

    def __init__(self, handlers: Mapping[type, Handler], *, repo: Any, publish: Publish,
                 outcomes: OutcomeStore | None = None, clock: Clock = utcnow,
                 key: Callable[[Command], Hashable | None] = lambda cmd: None,
                 parse: Callable[[dict[str, Any]], Event] = parse_event,
                 recorded: Callable[[Command], bool] = lambda cmd: True,
                 reply: Replies | None = None, joint: bool = False,
                 read_ahead: Callable[[list[Command]], Awaitable[Any] | None] | None = None) -> None:
        self.handlers = dict(handlers)
        self.repo = repo
        self.outcomes: OutcomeStore = outcomes if outcomes is not None else repo
        self.publish = publish
        self.clock = clock
        self.key = key
        self.parse = parse
        # False for a command that never leaves a record under its own id (its handler
        # answers with `Answer(..., stored=False)` or records another command's id): its
        # outcome is not looked up, which spares a batch of only such commands a read.
        self.recorded = recorded
        self.reply = reply
        # True: the outlet sends the replies itself, after the events and in the same round
        # trip (`publish(events, replies=[Reply, ...])`), instead of `reply` once they are out.
        self.joint = joint
        # Called (not awaited) with the commands that run first on their key, before their
        # outcomes are looked up; what it answers is awaited beside the lookup. The service's
        # repository reads there what those handlers read first and serves it to them, so
        # their first read costs no round trip after the lookup (see `run`).
        self.read_ahead = read_ahead

    async def run(self, commands: Iterable[Command], reply_to: Mapping[str, str] | None = None,
                  ack: Any = None) -> list[Event]:
        """Run a batch; the events it answers with (replayed and new), in batch order.
        `reply_to`: where each command's outcome is awaited (by command id), if anywhere.
        `ack`: the batch's acknowledgement, which a `joint` runner hands to its outlet with
        the events when every command ran (`publish(events, ack=...)`: sent after them)."""
        batch = unique(commands)
        if not batch:
            return []
        if self.read_ahead is None:
            return await self._run(batch, reply_to or {}, ack)
        # In a context of its own: what the read-ahead keeps there ends with the batch.
        return await asyncio.get_running_loop().create_task(
            self._run(batch, reply_to or {}, ack), context=contextvars.copy_context())

    async def _run(self, batch: list[Command], reply_to: Mapping[str, str], ack: Any) -> list[Event]:
        looked_up = [c.id for c in batch if self.recorded(c)]
        ahead = self.read_ahead(self._firsts(batch)) if self.read_ahead is not None else None
        lookup = self.outcomes.outcomes(looked_up) if looked_up else _nothing()
        done = (await asyncio.gather(lookup, ahead))[0] if ahead is not None else await lookup
        produced: dict[str, list[Event]] = {c.id: stored_events(done[c.id], self.parse)
                                            for c in batch if c.id in done}
        failure = await self._apply([c for c in batch if c.id not in done], produced)
        now = self.clock()
        records = {c.id: done[c.id] if c.id in done else record_of(c, produced[c.id], now)
                   for c in batch if c.id in produced}
        new = [r for cid, r in records.items() if r is not None and cid not in done]
        if new:
            await self.outcomes.save_outcomes(new)
        events = [e for c in batch for e in produced.get(c.id, [])]
        passing = {e.id: to for cid, to in reply_to.items()
                   if cid in records and records[cid] is None for e in produced[cid]}
        replies = _replies(batch, records, reply_to, {e.id for e in events}) if reply_to else []
        along: dict[str, Any] = {"reply_to": passing} if passing else {}
        if self.joint and replies:
            along["replies"] = replies
        if self.joint and ack is not None and failure is None:
            along["ack"] = ack
        if events or along:
            await self.publish(events, **along)
        if replies and not self.joint and self.reply is not None:
            await self._answer(replies)
        if failure is not None:
            raise failure
        return events

    def _firsts(self, batch: list[Command]) -> list[Command]:
        """The commands no earlier command of the batch overlaps (they run first on their
        key, so what they read first is as it was when the batch began)."""
        earlier: dict[Hashable, list[tuple[Hashable, ...]]] = {}
        firsts = []
        for cmd in batch:
            key = _path(self.key(cmd))
            if key is None:  # runs after everything before it, and everything after after it
                return firsts + ([cmd] if cmd is batch[0] else [])
            if not any(_overlap(k, key) for k in earlier.get(key[0], ())):
                firsts.append(cmd)
            earlier.setdefault(key[0], []).append(key)
        return firsts

    async def _answer(self, replies: list[Reply]) -> None:
        """Send the outcomes whose requesters named a reply address (see the module)."""
        try:
            await self.reply(replies)  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - a lost reply is answered by the record
            log.warning("replies to %d commands not sent: %r", len(replies), exc)

    async def _apply(self, todo: list[Command], produced: dict[str, list[Event]]) -> BaseException | None:
        """Run the handlers, each after the earlier commands its key overlaps; the first
        error, if any."""
        errors: list[BaseException] = []
        earlier: dict[Hashable, list[tuple[tuple[Hashable, ...], asyncio.Future[bool]]]] = {}
        alone: list[asyncio.Future[bool]] = []  # every command so far, while keys are None
        runs: list[asyncio.Future[bool]] = []
        for cmd in todo:
            key = _path(self.key(cmd))
            if key is None:
                waits = runs[:]
            else:
                waits = [run for k, run in earlier.get(key[0], ()) if _overlap(k, key)] + alone
            run = asyncio.ensure_future(self._after(waits, cmd, produced, errors))
            runs.append(run)
            if key is None:
                earlier, alone = {}, [run]
            else:
                earlier.setdefault(key[0], []).append((key, run))
        if runs:
            await asyncio.gather(*runs)
        return errors[0] if errors else None

    async def _after(self, waits: list[asyncio.Future[bool]], cmd: Command, produced: dict[str, list[Event]],
                     errors: list[BaseException]) -> bool:
        """Run `cmd` once the commands it must follow ran; False when it or one of them failed."""
        if waits and not all(await asyncio.gather(*waits)):
            return False
        try:
            produced[cmd.id] = await self._handle(cmd)
            return True
        except Exception as exc:  # noqa: BLE001 - kept, and raised once the rest is recorded
            errors.append(exc)
            return False

    async def _handle(self, cmd: Command) -> list[Event]:
        handler = self.handlers.get(type(cmd))
        if handler is None:
            raise LookupError(f"no handler is registered for {type(cmd).__name__}")
        result = handler(cmd, repo=self.repo, clock=self.clock)
        events = await result if inspect.isawaitable(result) else result
        return events if isinstance(events, Answer) else list(events)


def _replies(batch: list[Command], records: Mapping[str, dict[str, Any] | None],
             reply_to: Mapping[str, str], published: set[str]) -> list[Reply]:
    """The reply of each command whose requester named a reply address and whose record
    holds an outcome event (see the module)."""
    return [Reply(reply_to[c.id], record["_id"], event, event.get("id") in published)
            for c in batch
            if c.id in reply_to and (record := records.get(c.id)) is not None
            and (event := record.get("event")) is not None]


async def _nothing() -> dict[str, Any]:
    return {}


def _path(key: Hashable | None) -> tuple[Hashable, ...] | None:
    return key if key is None or isinstance(key, tuple) else (key,)


def _overlap(a: tuple[Hashable, ...], b: tuple[Hashable, ...]) -> bool:
    """One key is the other or lies under it (an item, and an annotation of that item)."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]
