"""From a validated request to a published command and back to an HTTP answer.

`Commands` is what controllers receive (their `commands` dependency, gateway.dependencies):
the command bus and the API's base URL that operation URLs are made from."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection

from gateway.bus import CommandBus, IdempotencyConflict
from gateway.errors import REJECTION_STATUS, Unprocessable
from shared.contracts.envelope import Envelope
from shared.contracts.events import CommandRejected

MAX_KEY = 200
# Marks the answer to a repeated Idempotency-Key: the first request's outcome, nothing redone.
REPLAYED = "Idempotent-Replayed"
# Every answer to a command names it: the id its operation URL and outcome go by.
OPERATION = "Operation-Id"


def _fingerprint(request: ASGIConnection, body: Any) -> str:
    raw = f"{request.scope['method']} {request.url.path} {body!r}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _annotation(outcome: Any) -> Any:
    return getattr(outcome, "annotation", None)


def answer(outcome: Any, command_id: str, api: str, success: int,
           render: Callable[[Any], Any] = _annotation) -> Response[Any]:
    """HTTP answer for a command outcome (None: still running past the wait)."""
    named = {OPERATION: command_id}
    if outcome is None:
        url = f"{api}/operations/{command_id}"
        return Response(
            {"operationId": command_id, "status": "pending", "url": url},
            status_code=202,
            headers={"Location": url} | named,
        )
    if isinstance(outcome, CommandRejected):
        return Response(
            {"status_code": REJECTION_STATUS[outcome.reason], "detail": outcome.message,
             "reason": outcome.reason, "details": outcome.details, "operationId": command_id},
            status_code=REJECTION_STATUS[outcome.reason], headers=named,
        )
    if success == 204:
        return Response(None, status_code=204, headers=named)
    body = render(outcome)
    url = body.get("url") if isinstance(body, dict) else None
    headers = {"Location": url} if success == 201 and url else {}
    return Response(body, status_code=success, headers=headers | named)


class Replayed(Exception):
    """Answers a repeated request with its first answer, from wherever it is found."""

    def __init__(self, response: Response[Any]) -> None:
        self.response = response


def replayed_handler(_: Request, exc: Replayed) -> Response[Any]:
    return exc.response


def _under(command: Envelope, command_id: str) -> Envelope:
    """The command under the id an Idempotency-Key was bound to, so a retry publishes what
    the first request meant to."""
    return command.model_copy(update={"id": command_id, "correlation_id": command_id})



class Commands:
    """Publishing a request's command and answering with its outcome."""

    def __init__(self, bus: CommandBus, api: str) -> None:
        self.bus, self.api = bus, api

    def answer(self, outcome: Any, command_id: str, success: int,
               render: Callable[[Any], Any] = _annotation) -> Response[Any]:
        return answer(outcome, command_id, self.api, success, render)

    async def replayed(self, connection: ASGIConnection, body: Any, success: int,
                       render: Callable[[Any], Any] = _annotation) -> Response[Any] | None:
        """The first answer to a repeated request whose resource its first run removed (a
        DELETE retried with the same Idempotency-Key), or None."""
        bus, key = self.bus, connection.headers.get("idempotency-key")
        if key is None or not 0 < len(key) <= MAX_KEY:
            return None
        earlier = await bus.claimed(connection.user.user_id, key, _fingerprint(connection, body))
        if earlier is None or not await bus.published(earlier):
            return None
        again = self.answer(await bus.await_existing(earlier), earlier, success, render)
        again.headers[REPLAYED] = "true"
        return again

    async def dispatch(
        self, request: Request, stream: str, command: Envelope, project_id: str, body: Any,
        success: int, render: Callable[[Any], Any] = _annotation,
    ) -> Response[Any]:
        """Publish `command` and answer with its outcome (a command made in a task goes to the
        task service, which passes it on under its own id once checked: the answer is its
        outcome wherever it is made)."""
        bus, key = self.bus, request.headers.get("idempotency-key")
        if key is not None:
            if not 0 < len(key) <= MAX_KEY:
                raise Unprocessable(detail="bad Idempotency-Key header", extra=[
                    {"field": "Idempotency-Key", "rule": f"must be 1 to {MAX_KEY} characters",
                     "source": "header"}])
            try:
                # The key names the id the client is answered with, so a repeat finds the same
                # outcome.
                earlier = await bus.claim(request.user.user_id, key, _fingerprint(request, body), command.id)
            except IdempotencyConflict:
                raise Unprocessable(
                    detail="Idempotency-Key was already used with a different request",
                    extra=[{"field": "Idempotency-Key", "rule": "must not be reused for another request",
                            "source": "header"}],
                ) from None
            if earlier is not None and await bus.published(earlier):
                replayed = self.answer(await bus.await_existing(earlier), earlier, success, render)
                replayed.headers[REPLAYED] = "true"
                return replayed
            if earlier is not None:  # claimed by a request that died before publishing: publish it now
                command = _under(command, earlier)
        try:
            outcome = await bus.send(stream, command, project_id)
        except Exception:
            if key is not None:
                await bus.release(request.user.user_id, key)
            raise
        return self.answer(outcome, command.id, success, render)
