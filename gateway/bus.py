"""Publishing commands and awaiting their outcome; the Idempotency-Key store.

Each command goes out with FastStream's `reply_to` naming this process's reply channel, and
its outcome comes back there from the service that answers it (gateway.outcomes); commands
of streams whose service does not reply yet (`REPLIED` says which do) are awaited on the
event streams."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from redis.asyncio import Redis

from gateway.outcomes import OutcomeHub
from gateway.repository import Catalog
from shared.contracts import streams
from shared.contracts.envelope import Envelope
from shared.contracts.events import parse_event

IDEMPOTENCY_TTL_S = 24 * 3600
PENDING_TTL_S = 7 * 24 * 3600
STORED_POLL_S = 0.2  # how often a retry looks for an outcome stored after its event
# The command streams whose services reply with the outcome (the platform runner's): the
# annotation service's (classify, scene), the task service's (tasks, status, bulk-classify;
# a command made in a task, or an accepted bulk, is passed on from there to the annotation
# service, which replies) and the workflow service's. (A move held for another command's
# outcome is run later, unreplied: gateway.workflow_reads still finds its fact on
# events.workflow, which it reads anyway.)
REPLIED = frozenset({streams.CLASSIFY, streams.SCENE, streams.TASKS, streams.STATUS, streams.BULK_CLASSIFY,
                     streams.WORKFLOW})


class IdempotencyConflict(Exception):
    """The key was used before with a different request."""


class CommandBus:
    def __init__(
        self,
        redis: Redis,
        catalog: Catalog,
        hub: OutcomeHub,
        publishers: dict[str, Any],
        namespace: str,
        wait_s: float,
        reply_to: str = "",
    ) -> None:
        self.reply_to = reply_to  # this process's reply channel
        self.redis = redis
        self.catalog = catalog
        self.hub = hub
        self.publishers = publishers
        self.ns = namespace
        self.wait_s = wait_s

    def _pending_key(self, command_id: str) -> str:
        return f"{self.ns}:op:{command_id}"

    async def claim(self, user_id: str, key: str, fingerprint: str, command_id: str) -> str | None:
        """Bind an Idempotency-Key to a command; the command id it already had, if any."""
        redis_key = f"{self.ns}:idem:{user_id}:{key}"
        value = f"{command_id}|{fingerprint}"
        if await self.redis.set(redis_key, value, nx=True, ex=IDEMPOTENCY_TTL_S):
            return None
        stored = (await self.redis.get(redis_key) or b"").decode()
        earlier, _, earlier_fp = stored.partition("|")
        if earlier_fp != fingerprint:
            raise IdempotencyConflict(key)
        return earlier

    async def claimed(self, user_id: str, key: str, fingerprint: str) -> str | None:
        """The command an Idempotency-Key was bound to for this very request, if any."""
        stored = (await self.redis.get(f"{self.ns}:idem:{user_id}:{key}") or b"").decode()
        earlier, _, earlier_fp = stored.partition("|")
        return earlier if earlier and earlier_fp == fingerprint else None

    async def send(self, stream: str, command: Envelope, project_id: str,
                   wait_s: float | None = None) -> Any | None:
        """Publish `command` and wait for its outcome up to `wait_s` (default: the client's
        wait); None when it ran out."""
        waited = command.id
        future = self.hub.expect(waited, replied=stream in REPLIED)
        marker = json.dumps({"actorId": command.actor.user_id, "projectId": project_id,
                             "commandType": getattr(command, "type", "")})
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(self._pending_key(waited), marker, ex=PENDING_TTL_S)
                await self.publishers[stream].publish(
                    command.wire(), correlation_id=command.id, reply_to=self.reply_to, pipeline=pipe
                )
                await pipe.execute()
            return await asyncio.wait_for(asyncio.shield(future), self.wait_s if wait_s is None else wait_s)
        except TimeoutError:
            return None
        finally:
            self.hub.forget(waited)

    async def send_many(self, stream: str, commands: list[Envelope],
                        wait_s: float | None = None) -> list[Any | None]:
        """Publish `commands` in one round trip (an import's batch path) and wait for each
        outcome up to `wait_s` (default: the client's wait); None for those not yet done."""
        futures = [self.hub.expect(c.id, replied=stream in REPLIED) for c in commands]
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for command in commands:
                    await self.publishers[stream].publish(command.wire(), correlation_id=command.id,
                                                          reply_to=self.reply_to, pipeline=pipe)
                await pipe.execute()
            await asyncio.wait([asyncio.shield(f) for f in futures],
                               timeout=self.wait_s if wait_s is None else wait_s)
            return [f.result() if f.done() and not f.cancelled() else None for f in futures]
        finally:
            for command in commands:
                self.hub.forget(command.id)

    async def await_existing(self, command_id: str) -> Any | None:
        """The outcome of a command published earlier (an idempotent retry): its stored
        outcome, looked for now and then up to the wait. The reply goes to the process that
        published the command, so it resolves this wait only when that is this one, still
        waiting for it too."""
        future = self.hub.expect(command_id)
        deadline = asyncio.get_running_loop().time() + self.wait_s
        try:
            while (stored := await self.stored_outcome(command_id)) is None:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    return None
                try:
                    return await asyncio.wait_for(asyncio.shield(future), min(left, STORED_POLL_S))
                except TimeoutError:
                    continue
            return stored
        finally:
            self.hub.forget(command_id)

    async def stored_outcome(self, command_id: str) -> Any | None:
        doc = await self.catalog.operation(command_id)
        return self.parse_outcome(doc["event"]) if doc else None

    @staticmethod
    def parse_outcome(event: dict[str, Any]) -> Any:
        return parse_event(event)

    async def release(self, user_id: str, key: str) -> None:
        """Forget an Idempotency-Key whose command could not be published."""
        await self.redis.delete(f"{self.ns}:idem:{user_id}:{key}")

    async def published(self, command_id: str) -> bool:
        """Was the command published? Its pending marker goes out with it (and outlives the
        Idempotency-Keys that name it), and its outcome is stored once it is done."""
        if await self.redis.exists(self._pending_key(command_id)):
            return True
        return await self.catalog.operation(command_id) is not None

    async def follow(self, stream: str, command: Envelope, after_id: str) -> None:
        """Publish `command`, which completes the answer of the command `after_id` (the move
        Auto next makes after a classification answered past the wait): that one's
        operation then waits for both. One round trip: both or neither."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(f"{self.ns}:then:{after_id}", command.id, ex=PENDING_TTL_S)
            await self.publishers[stream].publish(command.wire(), correlation_id=command.id, pipeline=pipe)
            await pipe.execute()

    async def follow_up(self, command_id: str) -> str | None:
        found = await self.redis.get(f"{self.ns}:then:{command_id}")
        return found.decode() if found else None

    async def pending(self, command_id: str) -> dict[str, Any] | None:
        raw = await self.redis.get(self._pending_key(command_id))
        return json.loads(raw) if raw else None
