"""MongoDB command latency (a histogram) and, while tracing, a span per command.

One pymongo CommandListener for the process, registered before its clients are made (pymongo
gives each new client the listeners registered then). motor runs pymongo in a thread with a
copy of the caller's context, so the listener sees the caller's current span.
"""

from __future__ import annotations

from typing import Any

from pymongo import monitoring

from shared.platform.observability import metrics, tracing

_watching = False


class CommandTimer(monitoring.CommandListener):
    def __init__(self, timed: bool) -> None:
        self.timed = timed  # METRICS_ENABLED
        self.spans: dict[tuple[Any, int], Any] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not tracing.enabled():
            return
        span = tracing.start_span(f"mongodb {event.command_name}", attributes={
            "db.system": "mongodb", "db.name": event.database_name,
            "db.operation": event.command_name,
            "db.mongodb.collection": str(event.command.get(event.command_name, ""))})
        if span is not None:
            self.spans[(event.connection_id, event.request_id)] = span

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._done(event, "ok")

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._done(event, "failed")

    def _done(self, event: Any, outcome: str) -> None:
        if self.timed:
            metrics.MONGODB.labels(event.command_name, outcome).observe(event.duration_micros / 1e6)
        if self.spans and (span := self.spans.pop((event.connection_id, event.request_id), None)):
            if outcome == "failed":
                span.set_attribute("error.type", str(getattr(event, "failure", {}).get("codeName", "")))
            span.end()


def watch(timed: bool) -> None:
    """Register the listener once per process."""
    global _watching
    if not _watching:
        monitoring.register(CommandTimer(timed))
        _watching = True
