"""The gateway's observability: request metrics by route (Litestar's Prometheus middleware)
and /metrics, request spans (Litestar's OpenTelemetry plugin, while tracing), and one JSON log
line per request (route, status, duration, actor, correlation id)."""

from __future__ import annotations

import logging
import time
from typing import Any

from litestar import Response, get
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from shared.platform import observability
from shared.platform.observability import tracing
from shared.platform.observability.logs import formatter_config, redact

access = logging.getLogger("classifier.requests")
QUIET = ("/health", "/metrics")  # probes and scrapes: neither counted nor logged
OPERATION_HEADER = b"operation-id"
BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]


@get("/metrics", include_in_schema=False, sync_to_thread=False)
def metrics() -> Response[bytes]:
    """Prometheus metrics of this gateway process (public: serve the port to the scraper,
    not the internet, or filter /metrics at the ingress)."""
    from shared.platform.observability import metrics as process_metrics

    return Response(process_metrics.exposition(), media_type=process_metrics.CONTENT_TYPE)


def routes() -> list[Any]:
    return [metrics] if observability.settings().metrics_enabled else []


def middleware() -> list[Any]:
    """Outermost first: metrics (by route template), the request log, the refusals of the
    middleware inside answered, the span's name."""
    found: list[Any] = []
    if observability.settings().metrics_enabled:
        from litestar.plugins.prometheus import PrometheusConfig

        found.append(PrometheusConfig(app_name="gateway", prefix="clf_http", group_path=True,
                                      buckets=BUCKETS, exclude=[f"^{q}" for q in QUIET]).middleware)
    found.append(request_log)
    found.append(answering_errors)
    if tracing.enabled():
        found.append(route_span)
    return found


def answering_errors(app: ASGIApp) -> ASGIApp:
    """The middleware inside (session, auth, CSRF, audit) raise their refusals; Litestar turns
    them into answers only outside the whole stack, so the two above saw an exception, not
    the 401 sent: the request line said 500 and Litestar's Prometheus middleware counted a
    200. Litestar's own exception middleware (the one it puts between each route and its
    middleware, with the application's handlers and exception logging) answers them here."""
    from litestar._asgi.utils import wrap_in_exception_handler

    return wrap_in_exception_handler(app=app)


def plugins() -> list[Any]:
    """Litestar's OpenTelemetry plugin while tracing (its span is every request's root)."""
    if (provider := tracing.provider()) is None:
        return []
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
    from opentelemetry.metrics import NoOpMeterProvider

    return [OpenTelemetryPlugin(OpenTelemetryConfig(
        tracer_provider=provider, meter_provider=NoOpMeterProvider(),
        exclude=[f"^{q}" for q in QUIET], exclude_spans=["receive", "send"],
        scope_span_details_extractor=_span_details, server_request_hook_handler=_scrub))]


def logging_config(**kwargs: Any) -> Any:
    """Litestar's logging config: its loggers hand their records to the root logger's handler
    (the process's lines on stderr, written in the event loop's thread, as the services do),
    not to Litestar's default queue and listener thread. That thread took every request's
    line across threads, each thread waiting for the other's GIL: slower requests and more
    CPU a line (docs/fast-paths.md, Request log lines in the loop's thread)."""
    from litestar.logging.config import LoggingConfig

    return LoggingConfig(
        configure_root_logger=False,
        formatters={"standard": formatter_config(observability.settings().log_format)},
        handlers={"queue_listener": {"class": "logging.NullHandler"}},  # no listener thread
        loggers={"litestar": {"level": "INFO", "handlers": [], "propagate": True}}, **kwargs)


def _span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The request span's name as it starts, before routing: the path, redacted (a one-time
    link's secret stays out of the trace); `route_span` names it after its route."""
    path = redact(scope.get("path", ""))
    return f"{scope.get('method', '')} {path}".strip(), {}


def route_span(app: ASGIApp) -> ASGIApp:
    """Names the request's span after its route template, once routed (Litestar's plugin
    wraps the whole application, so its span starts before the route is known): one span
    name per route, as the metrics' `path`, with no id in it."""
    from opentelemetry import trace

    async def named(scope: Scope, receive: Receive, send: Send) -> None:
        if route := scope.get("path_template"):
            span = trace.get_current_span()
            span.update_name(f"{scope.get('method', '')} {route}".strip())
            span.set_attribute("http.route", route)
        await app(scope, receive, send)

    return named


def _scrub(span: Any, scope: dict[str, Any]) -> None:
    """No query string (it may hold a token or an OIDC code) and no secret path in the span."""
    path = redact(scope.get("path", ""))
    for key in ("http.target", "url.path"):
        span.set_attribute(key, path)
    for key in ("http.url", "url.full"):
        span.set_attribute(key, path)
    span.set_attribute("url.query", "")


def outcome_of(status: int) -> str:
    """A request's outcome in a word: `accepted` is a 202 (its command's outcome comes later,
    at its operation), `refused` the caller's mistake or lack of rights, `failed` ours."""
    if status >= 500:
        return "failed"
    if status >= 400:
        return "refused"
    return "accepted" if status == 202 else "ok"


def request_log(app: ASGIApp) -> ASGIApp:
    """One line per request, after its answer: method, route template, status, outcome,
    duration, actor (user id), correlationId (the Operation-Id of the command it published,
    if any)."""

    async def logged(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(QUIET) or \
                not access.isEnabledFor(logging.INFO):
            await app(scope, receive, send)
            return
        started, seen = time.perf_counter(), {"status": 500}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == OPERATION_HEADER:
                        seen["operation"] = value.decode()
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            user = scope.get("user")
            route = scope.get("path_template") or scope["path"]
            access.info("%s %s %s", scope["method"], route, seen["status"], extra={"clf": {
                "method": scope["method"], "route": route, "status": seen["status"],
                "outcome": outcome_of(seen["status"]),
                "durationMs": round((time.perf_counter() - started) * 1000, 2),
                "actor": getattr(user, "user_id", None),
                "correlationId": seen.get("operation")}})

    return logged
