"""Observability, end to end: /metrics of the gateway and of a service after a classify, one
trace from the HTTP request through the streams to MongoDB, JSON log lines with the
correlation id, and no secret in any log line. (The dashboard and alert rules are checked
against the exported names in tests/unit/test_observability_files.py.)"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.annotation.bootstrap import build as build_annotation
from services.task.bootstrap import build as build_task
from services.workflow.bootstrap import build as build_workflow
from shared.platform.observability import tracing
from shared.platform.observability.logs import JsonFormatter
from tests.platform import running_platform
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

CLASSIFY = {"label": "men's clothes.jeans", "attributes": {"condition": "new"}}


@contextlib.asynccontextmanager
async def platform_with_services(settings) -> AsyncIterator[tuple[Any, dict[str, Any]]]:
    """The test platform, with its services' ASGI apps at hand (their /metrics)."""
    services = {"annotation": build_annotation(settings), "task": build_task(settings),
                "workflow": build_workflow(settings)}
    async with contextlib.AsyncExitStack() as stack:
        for service in services.values():
            await stack.enter_async_context(service.app)
        platform = await stack.enter_async_context(running_platform(settings, services=False))
        await platform.seed()
        yield platform, services


async def scrape(app: Any) -> str:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://service") as client:
        answer = await client.get("/metrics")
    assert answer.status_code == 200, answer.text
    return answer.text


def series(text: str, name: str, **labels: str) -> list[float]:
    """Values of the samples of `name` whose labels include `labels`."""
    found = []
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        sample_labels = dict(re.findall(r'(\w+)="([^"]*)"', line.rpartition("}")[0]))
        if all(sample_labels.get(k) == v for k, v in labels.items()):
            found.append(float(line.rsplit(" ", 1)[1]))
    return found


async def counted(app: Any, message_type: str) -> bool:
    return bool(series(await scrape(app), "clf_commands_total", type=message_type))


async def test_metrics_carry_requests_commands_stream_gauges_and_mongodb_after_a_classify(settings):
    async with platform_with_services(settings) as (platform, services):
        answer = await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations", CLASSIFY)
        assert answer.status_code == 201, answer.text
        # the registry is the process's: other tests' requests are in it too, so count the change
        before = await platform.client.get("/metrics")
        refused = await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations", CLASSIFY,
                                      token="not-a-token")
        assert refused.status_code == 401  # refused by the auth middleware, counted as such
        gateway = await platform.client.get("/metrics")  # no token: public, documented
        # a command is counted once its handler returned, which may be after the answer
        assert await eventually(lambda: counted(services["workflow"].app, "ItemClassified"))
        annotation = await scrape(services["annotation"].app)
        workflow = await scrape(services["workflow"].app)
    assert gateway.status_code == 200
    route = "/api/v1/items/{item_id}/annotations"
    assert sum(series(gateway.text, "clf_http_requests_total", path=route, method="POST",
                      status_code="201")) >= 1
    unauthorised = {"path": route, "method": "POST", "status_code": "401"}
    assert sum(series(gateway.text, "clf_http_requests_total", **unauthorised)) == \
        sum(series(before.text, "clf_http_requests_total", **unauthorised)) + 1
    assert series(gateway.text, "clf_http_request_duration_seconds_count", path=route)
    classify = f"{settings.namespace}.classify"
    assert series(annotation, "clf_commands_total", stream=classify, group="annotation-svc",
                  type="Classify", outcome="handled") == [1.0]
    assert series(annotation, "clf_stream_group_lag", stream=classify, group="annotation-svc") == [0.0]
    assert series(annotation, "clf_stream_group_pending", stream=classify, group="annotation-svc") == [0.0]
    assert series(annotation, "clf_stream_group_oldest_pending_age_seconds", stream=classify,
                  group="annotation-svc") == [0.0]
    assert series(annotation, "clf_dead_letter_stream_length", stream=classify) == [0.0]
    events = f"{settings.namespace}.events.annotation"
    assert series(workflow, "clf_commands_total", stream=events, group="workflow-svc",
                  type="ItemClassified", outcome="handled") == [1.0]
    assert sum(series(annotation, "clf_mongodb_command_duration_seconds_count", command="insert")) >= 1
    assert series(annotation, "faststream_received_messages_total")


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on (an in-memory exporter) for the processes built in the test."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield exporter
    finally:
        tracing.use(None)
        provider.shutdown()


def hex_id(n: int) -> str:
    return format(n, "032x")


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    """Names of the span's parents, nearest first, as far as they were exported."""
    names = []
    while span.parent is not None and (span := by_id.get(span.parent.span_id)) is not None:
        names.append(span.name)
    return names


async def test_a_classify_is_one_trace_from_the_request_through_the_streams_to_mongodb(settings, spans):
    async with platform_with_services(settings) as (platform, services):
        spans.clear()
        answer = await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations", CLASSIFY)
        assert answer.status_code == 201, answer.text
        events = f"{settings.namespace}.events.annotation"

        async def the_workflow_handled_the_fact() -> bool:
            return any(s.name == f"{events} handle" for s in spans.get_finished_spans())

        assert await eventually(the_workflow_handled_the_fact)
    finished = spans.get_finished_spans()
    request = next(s for s in finished if s.kind == SpanKind.SERVER)  # Litestar's plugin
    assert request.name == "POST /api/v1/items/{item_id}/annotations"
    assert request.attributes["http.status_code"] == 201
    trace = [s for s in finished if s.context.trace_id == request.context.trace_id]
    by_id = {s.context.span_id: s for s in trace}
    names = {s.name for s in trace}
    classify = f"{settings.namespace}.classify"
    # the gateway's publish (FastStream's middleware: traceparent in the entry's headers) ...
    assert f"{classify} publish" in names
    # ... the annotation service's handling of it, a child of that publish ...
    handled = next(s for s in trace if s.name == f"{classify} handle")
    assert handled.attributes["messaging.consumer.group.name"] == "annotation-svc"
    assert handled.attributes["messaging.message.conversation_id"] == answer.headers["operation-id"]
    assert ancestors(handled, by_id)[-1] == request.name
    # ... its MongoDB writes inside its span ...
    writes = [s for s in trace if s.name == "mongodb insert" and handled.name in ancestors(s, by_id)]
    assert writes and {w.attributes["db.mongodb.collection"] for w in writes} >= {"annotations"}
    # ... and the fact it published, handled by the workflow service in the same trace
    fact = next(s for s in trace if s.name == f"{events} handle")
    assert fact.attributes["messaging.consumer.group.name"] == "workflow-svc"
    assert handled.name in ancestors(fact, by_id)
    # back: the gateway's and the workflow's reads of the fact (FastStream's batch spans, one
    # per read) link to this trace, and the request's span ends after the annotation's write
    # (the outcome's own record may be written after the answer)
    reads = [s for s in finished if s.name == f"{events} create" and s.kind == SpanKind.CONSUMER]
    assert len([s for s in reads if request.context.trace_id in {lk.context.trace_id for lk in s.links}]) >= 2
    stored = [w for w in writes if w.attributes["db.mongodb.collection"] == "annotations"]
    assert request.end_time >= max(w.end_time for w in stored)


@contextlib.contextmanager
def log_lines() -> Iterator[io.StringIO]:
    """Every record logged at INFO and above meanwhile, as the processes write them."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_a_request_and_its_command_log_one_json_line_each_with_the_correlation_id(settings):
    async with platform_with_services(settings) as (platform, _):
        with log_lines() as out:
            answer = await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations", CLASSIFY)
            assert answer.status_code == 201, answer.text
            operation = answer.headers["operation-id"]

            def logged() -> list[dict[str, Any]]:
                return [json.loads(line) for line in out.getvalue().splitlines()]

            async def command_logged() -> bool:
                return any(line.get("logger") == "classifier.commands" for line in logged())

            assert await eventually(command_logged)
            refused = await platform.get("/api/v1/projects", token="not-a-token")
            assert refused.status_code == 401
    assert {k: line.get(k) for line in logged() if line.get("logger") == "classifier.requests"
            and line["status"] == 401 for k in ("route", "outcome", "actor")} == {
        "route": "/api/v1/projects", "outcome": "refused", "actor": None}
    lines = [line for line in logged() if line.get("correlationId") == operation]
    request = next(line for line in lines if line["logger"] == "classifier.requests")
    assert {k: request.get(k) for k in ("level", "method", "route", "status", "outcome")} == {
        "level": "INFO", "method": "POST", "route": "/api/v1/items/{item_id}/annotations", "status": 201,
        "outcome": "ok"}
    assert request["actor"] and request["durationMs"] > 0  # the caller's user id
    command = next(line for line in lines if line["logger"] == "classifier.commands")
    assert {k: command.get(k) for k in ("type", "outcome", "group", "stream", "actor", "commandId")} == {
        "type": "Classify", "outcome": "handled", "group": "annotation-svc",
        "stream": f"{settings.namespace}.classify", "actor": request["actor"], "commandId": operation}


async def test_no_token_password_or_one_time_secret_reaches_the_log(settings):
    password = "correct horse battery staple"
    async with platform_with_services(settings) as (platform, _):
        with log_lines() as out:
            invited = await platform.post(f"/api/v1/projects/{platform.ids['project']}/members",
                                          {"email": "ivy@example.com", "role": "annotator"})
            secret = invited.json()["invitation"]["url"].rsplit("/", 1)[1]
            accepted = await platform.client.post(f"/api/v1/invitations/{secret}/accept",
                                                  json={"displayName": "Ivy", "password": password})
            assert accepted.status_code == 200, accepted.text
            again = await platform.client.get(f"/invitations/{secret}")  # used: 410, logged with its path
            assert again.status_code == 410
            signed_in = await platform.client.post("/api/v1/session",
                                                   json={"email": "ivy@example.com", "password": password})
            assert signed_in.status_code == 200, signed_in.text
            session = signed_in.cookies["clf_session"]
            # a token in a query string, a refused token, and one said in so many words
            await platform.client.get(f"/api/v1/projects?access_token={platform.token}")
            assert (await platform.get("/api/v1/projects", token=platform.token + "x")).status_code == 401
            logging.getLogger("classifier.test").warning(
                "a careless line: Authorization: Bearer %s password=%s %s", platform.token, password,
                {"password": password, "token": platform.token})
    text = out.getvalue()
    assert "/api/v1/invitations/{secret}/accept" in text and "[redacted]" in text
    for secret_text in (platform.token, password, secret, session):
        assert secret_text not in text
