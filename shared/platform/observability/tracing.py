"""OpenTelemetry traces: one trace from the HTTP request through every stream hop to the
MongoDB writes and back.

Off (no provider) unless OTEL_EXPORTER_OTLP_ENDPOINT is set or a test installs a provider:
then nothing here is imported from OpenTelemetry's SDK and every hook is one `None` check.

The trace context travels in the message headers (W3C `traceparent`): FastStream's telemetry
middleware writes it on `publisher.publish`; `headers_for` writes it on the entries that
`shared.platform.messaging.publish_all` adds with XADD itself. Services read in batches, which
FastStream traces as one span linked to each entry; `handling` then continues each entry's
own trace: a batch of one (the usual interactive case) is handled inside a span of that
entry's trace, a larger batch gets a span per entry, and the events a command causes carry
its trace on.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import Any

_provider: Any = None
_configured = False
# correlation id -> the context its events continue in, while a batch is handled
_origins: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "clf_trace_origins", default=None)


def provider() -> Any:
    """The tracer provider of this process, None while tracing is off."""
    return _provider


def enabled() -> bool:
    return _provider is not None


def use(tracer_provider: Any) -> None:
    """Install a tracer provider (tests: an in-memory exporter); None turns tracing off.
    Brokers and apps built afterwards are traced."""
    global _provider, _configured
    _provider, _configured = tracer_provider, True


def configure(service: str, settings: Any) -> None:
    """Export spans over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (once per process)."""
    global _configured
    if _configured or not settings.otlp_endpoint:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    tracer_provider = TracerProvider(resource=Resource.create(
        {"service.name": settings.service_name or f"classifier-{service}"}))
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    use(tracer_provider)


def broker_middleware(tracer_provider: Any) -> Any:
    from faststream.redis.opentelemetry import RedisTelemetryMiddleware
    from opentelemetry.metrics import NoOpMeterProvider

    return RedisTelemetryMiddleware(tracer_provider=tracer_provider,
                                    meter_provider=NoOpMeterProvider())


def _tracer() -> Any:
    return _provider.get_tracer("classifier")


def start_span(name: str, **kwargs: Any) -> Any:
    """A span in the current trace (a MongoDB command's); None while tracing is off or
    outside any trace (a background loop's reads would each start a trace of their own)."""
    if _provider is None:
        return None
    from opentelemetry import trace

    if not trace.get_current_span().get_span_context().is_valid:
        return None
    return _tracer().start_span(name, **kwargs)


@contextlib.contextmanager
def handling(stream: str, group: str, commands: Sequence[Any],
             headers: Sequence[dict[str, Any]]) -> Iterator[None]:
    """Handle a batch of `commands` (with their entries' `headers`) inside their traces."""
    if _provider is None:
        yield
        return
    from opentelemetry import context, trace
    from opentelemetry.propagate import extract

    tracer = _tracer()
    parents = [extract(h) for h in headers]
    kind = trace.SpanKind.CONSUMER
    if len(commands) == 1:
        span = tracer.start_span(f"{stream} handle", context=parents[0] if parents else None,
                                 kind=kind, attributes=_attributes(stream, group, commands[0]))
        origins = {_correlation(commands[0]): trace.set_span_in_context(span)}
    else:
        links = [trace.Link(trace.get_current_span(p).get_span_context()) for p in parents]
        span = tracer.start_span(f"{stream} handle", kind=kind, links=links,
                                 attributes={"messaging.batch.message_count": len(commands),
                                             "messaging.consumer.group.name": group})
        origins = {}
        for command, parent in zip(commands, parents, strict=False):
            each = tracer.start_span(f"{stream} process", context=parent, kind=kind,
                                     attributes=_attributes(stream, group, command))
            each.end()
            origins[_correlation(command)] = trace.set_span_in_context(each)
    token = context.attach(trace.set_span_in_context(span))
    mark = _origins.set(origins)
    try:
        yield
    except BaseException as exc:
        span.record_exception(exc)
        span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)))
        raise
    finally:
        _origins.reset(mark)
        context.detach(token)
        span.end()


def headers_for(correlation_id: str, base: dict[str, str]) -> dict[str, str]:
    """Headers of an entry published on behalf of command `correlation_id`: `base` and, while
    tracing, the context of that command's trace (or the current one)."""
    if _provider is None:
        return base
    from opentelemetry.propagate import inject

    carrier = dict(base)
    origins = _origins.get() or {}
    inject(carrier, context=origins.get(correlation_id))
    return carrier


def _correlation(command: Any) -> str:
    return getattr(command, "correlation_id", "") or getattr(command, "id", "")


def _attributes(stream: str, group: str, command: Any) -> dict[str, str]:
    return {"messaging.system": "redis", "messaging.destination.name": stream,
            "messaging.consumer.group.name": group,
            "messaging.message.id": str(getattr(command, "id", "")),
            "messaging.message.conversation_id": _correlation(command),
            "classifier.message.type": str(getattr(command, "type", type(command).__name__))}
