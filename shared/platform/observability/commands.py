"""What a service's consumer did with the entries it took: counted by stream, group, type and
outcome, one log line per command (facts are counted, not logged: a bulk's 20,000 facts
would be 20,000 lines), and handled inside the entries' traces."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from shared.platform.observability import metrics, settings, tracing

log = logging.getLogger("classifier.commands")


def type_of(message: Any) -> str:
    if isinstance(message, dict):
        return str(message.get("type") or "unknown")
    return str(getattr(message, "type", None) or type(message).__name__)


async def handle(stream: str, group: str, messages: Sequence[Any], headers: Sequence[dict[str, Any]],
                 handler: Callable[[list[Any]], Awaitable[None]], *, facts: bool) -> None:
    """`handler(messages)`, accounted for: handled, or failed (and raised again)."""
    started = time.perf_counter()
    with tracing.handling(stream, group, messages, headers):
        try:
            await handler(list(messages))
        except Exception:
            record(stream, group, messages, "failed", facts=facts, started=started)
            raise
    record(stream, group, messages, "handled", facts=facts, started=started)


def record(stream: str, group: str, messages: Sequence[Any], outcome: str, *, facts: bool,
           started: float | None = None, reason: str = "") -> None:
    if settings().metrics_enabled:
        metrics.count(stream, group, (type_of(m) for m in messages), outcome)
    level = logging.INFO if outcome == "handled" else logging.WARNING
    if (facts and outcome == "handled") or not log.isEnabledFor(level):
        return
    took = None if started is None else round((time.perf_counter() - started) * 1000, 2)
    for message in messages:
        fields = _fields(message) | {"stream": stream, "group": group, "outcome": outcome,
                                     "batch": len(messages), "durationMs": took}
        if reason:
            fields["reason"] = reason[:500]
        log.log(level, "%s %s", fields["type"], outcome, extra={"clf": fields})


def _fields(message: Any) -> dict[str, Any]:
    if isinstance(message, dict):  # a dead letter's body, as far as it could be read
        actor = message.get("actor") if isinstance(message.get("actor"), dict) else {}
        return {"type": type_of(message), "commandId": message.get("id"),
                "correlationId": message.get("correlationId"),
                "actor": actor.get("userId"), "role": actor.get("role")}
    actor = getattr(message, "actor", None)
    return {"type": type_of(message), "commandId": getattr(message, "id", None),
            "correlationId": getattr(message, "correlation_id", None),
            "actor": getattr(actor, "user_id", None), "role": getattr(actor, "role", None)}
