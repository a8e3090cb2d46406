"""Hostile input gets a 4xx naming the field and changes nothing; a property-based fuzz of
every operation in the OpenAPI document finds no 5xx (gateway.limits sets the limits)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from gateway.limits import MAX_BODY, MAX_DEPTH
from tests.e2e.world import World

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"
BEYOND_64_BITS = 2**63
IMAGE = {"name": "far.jpg", "url": "http://example.com/far.jpg", "mimetype": "image/jpeg"}
VIDEO = {"name": "far.mp4", "url": "http://example.com/far.mp4", "mimetype": "video/mp4",
         "fps": 25}


def deep_json(levels: int) -> str:
    """An object `levels` deep, as text: json.dumps itself gives up near 1,000 levels."""
    return '{"a":' * levels + "1" + "}" * levels


def refused_naming(r: Any, field: str, status: int = 422) -> dict[str, Any]:
    assert r.status_code == status, r.text
    answer = r.json()
    assert answer["status_code"] == status and answer["detail"], answer
    assert any(e["field"] == field for e in answer["errors"]), answer
    assert all(set(e) == {"field", "rule", "source"} for e in answer["errors"]), answer
    return answer


async def counts(platform) -> tuple[int, ...]:
    """How many of each kind of thing there are (the audit's buffer written out first)."""
    await platform.gateway.audit.flush()
    db = platform.catalog.db
    return tuple([await db[name].count_documents({})
                  for name in ("items", "annotations", "operations", "tokens", "audit")])


async def send_json(platform, path: str, text: str) -> Any:
    return await platform.client.post(path, content=text.encode(), headers=platform.auth()
                                      | {"content-type": "application/json"})


@pytest.mark.parametrize(("body", "field"), [
    (IMAGE | {"metadata": {"count": BEYOND_64_BITS}}, "metadata.count"),
    (IMAGE | {"metadata": {"sizes": [1, -BEYOND_64_BITS - 1]}}, "metadata.sizes.1"),
    (IMAGE | {"width": BEYOND_64_BITS}, "width"),
    (VIDEO | {"frameCount": 10**30}, "frameCount"),
], ids=["metadata", "metadata-list", "width", "video-frame-count"])
async def test_an_integer_beyond_64_bits_in_an_item_is_refused_naming_the_field(
    platform, body, field
):
    before = await counts(platform)
    r = await platform.post(f"/api/v1/datasets/{platform.ids['dataset']}/items", body)
    assert "2^63" in refused_naming(r, field)["errors"][0]["rule"]
    assert await counts(platform) == before


@pytest.mark.parametrize("levels", [MAX_DEPTH, 5_000, 100_000])  # the body is one level more
async def test_item_metadata_nested_too_deep_is_refused_naming_the_field(platform, levels):
    before = await counts(platform)
    body = json.dumps(IMAGE)[:-1] + ', "metadata": ' + deep_json(levels) + "}"
    r = await send_json(platform, f"/api/v1/datasets/{platform.ids['dataset']}/items", body)
    assert f"{MAX_DEPTH} levels" in refused_naming(r, "metadata")["errors"][0]["rule"]
    assert await counts(platform) == before


async def test_metadata_nested_as_deep_as_the_limit_is_kept(platform):
    metadata = deep_json(MAX_DEPTH - 1)
    body = json.dumps(IMAGE)[:-1] + ', "metadata": ' + metadata + "}"
    r = await send_json(platform, f"/api/v1/datasets/{platform.ids['dataset']}/items", body)
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["user"] == json.loads(metadata)


@pytest.mark.parametrize("levels", [MAX_DEPTH, 5_000])
async def test_classify_attributes_nested_too_deep_are_refused_naming_the_field(platform, levels):
    before = await counts(platform)
    body = '{"label": "%s", "attributes": %s}' % (POLO, deep_json(levels))
    r = await send_json(platform, f"/api/v1/items/{platform.ids['item']}/annotations", body)
    refused_naming(r, "attributes")
    assert await counts(platform) == before


async def test_a_body_nested_too_deep_from_its_top_is_refused_naming_the_body(platform):
    r = await send_json(platform, f"/api/v1/items/{platform.ids['item']}/annotations",
                        "[" * 5_000 + "]" * 5_000)
    refused_naming(r, "body")


async def test_a_nul_in_a_metadata_key_is_refused_naming_the_field(platform):
    before = await counts(platform)
    r = await platform.post(f"/api/v1/datasets/{platform.ids['dataset']}/items",
                            IMAGE | {"metadata": {"a\x00b": 1}})
    refused_naming(r, "metadata.a\x00b")
    assert await counts(platform) == before


async def test_a_body_over_the_size_limit_is_refused_with_413(platform):
    before = await counts(platform)
    body = json.dumps(IMAGE | {"metadata": {"pad": "x" * MAX_BODY}})
    r = await send_json(platform, f"/api/v1/datasets/{platform.ids['dataset']}/items", body)
    assert str(MAX_BODY) in refused_naming(r, "body", 413)["errors"][0]["rule"]
    assert await counts(platform) == before


async def test_malformed_json_is_refused_with_422_naming_the_body(platform):
    r = await send_json(platform, f"/api/v1/items/{platform.ids['item']}/annotations", "{not json")
    refused_naming(r, "body")


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-14:00", "9999-12-31T23:00:00-01:00"])
async def test_a_token_expiring_after_year_9999_in_utc_is_refused_naming_the_field(platform, moment):
    before = await counts(platform)
    r = await platform.post("/api/v1/users/me/tokens", {"name": "forever", "expiresAt": moment})
    assert "9999" in refused_naming(r, "expiresAt")["errors"][0]["rule"]
    assert await counts(platform) == before


async def test_a_token_expiring_late_on_year_9999_within_utc_is_made(platform):
    r = await platform.post("/api/v1/users/me/tokens",
                            {"name": "long", "expiresAt": "9999-12-31T10:00:00-09:00"})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(("query", "field"), [
    ("since=9999-12-31T23:59:59-14:00", "since"),
    ("until=9999-12-31T23:59:59-14:00", "until"),
    ("since=0001-01-01T00:00:00%2B14:00", "since"),
    ("until=0001-01-01T00:00:00%2B01:00", "until"),
])
async def test_an_audit_query_outside_years_1_to_9999_in_utc_is_refused_naming_the_field(
    platform, query, field
):
    r = await platform.get(f"/api/v1/projects/{platform.ids['project']}/audit?{query}")
    assert refused_naming(r, field)["errors"][0]["source"] == "query"


async def test_a_task_due_after_year_9999_in_utc_is_refused_naming_the_field(platform):
    body = {"name": "late", "datasetId": platform.ids["dataset"], "assignees": ["a@example.com"],
            "dueDate": "9999-12-31T23:59:59-14:00"}
    r = await platform.post(f"/api/v1/projects/{platform.ids['project']}/tasks", body)
    refused_naming(r, "dueDate")


# The fuzz: every operation of the OpenAPI document, a few examples of each ------------------

ANSWER_S = 15
SSE_ROUTES = ("/feed", "/activity")  # Server-Sent Events: they close after ?seconds=
# Per operation and generation mode (fitting the schema, and not): 6 make ~900 requests, the
# same ones each run. FUZZ_EXAMPLES=50 draws that many anew each run, to hunt.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
SAME_EACH_RUN = "FUZZ_EXAMPLES" not in os.environ


def draw(operation: Any, mode: GenerationMode, ids: dict[str, str]) -> list[Any]:
    """Examples of one operation, with the path's ids those of real things when known, so
    the requests get past the 404 to the validation and the handler behind it."""
    known = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
    fixed = {"seconds": 0.2} if operation.path.endswith(SSE_ROUTES) else None  # an SSE stream
    cases: list[Any] = []

    @settings(max_examples=EXAMPLES, phases=[Phase.generate], database=None, deadline=None,
              derandomize=SAME_EACH_RUN, suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy(generation_mode=mode, path_parameters=known, query=fixed))
    def collect(case: Any) -> None:
        cases.append(case)

    try:
        collect()
    except Exception as exc:  # noqa: BLE001 - no negative example exists for every operation
        if mode is GenerationMode.POSITIVE:
            raise
        print(f"no {mode} examples of {operation.label}: {exc!r}")
    return cases


def cases_of(raw: dict[str, Any], ids: dict[str, str]) -> list[Any]:
    schema = schemathesis.openapi.from_dict(raw)
    operations = [result.ok() for result in schema.get_all_operations()]
    return [case for operation in operations for mode in GenerationMode
            for case in draw(operation, mode, ids)]


def as_httpx(case: Any, auth: dict[str, str]) -> dict[str, Any]:
    """The request schemathesis would send (it speaks `requests`), for the ASGI client."""
    sent = case.as_transport_kwargs(base_url="http://testserver")
    sent.pop("auth", None)
    prepared = requests.Request(**sent).prepare()
    return {"method": prepared.method, "url": prepared.url, "content": prepared.body,
            "headers": {**prepared.headers, **auth}}


async def answer_of(client: httpx.AsyncClient, case: Any, auth: dict[str, str]) -> str | None:
    """What is wrong with the answer to one case (a 5xx, or none in time), if anything."""
    try:
        request = as_httpx(case, auth)
    except (requests.RequestException, UnicodeError, TypeError, ValueError):
        return None  # the client cannot encode it: nothing reached the server
    try:
        r = await asyncio.wait_for(client.request(**request), ANSWER_S)
    except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
        return None  # a header value outside latin-1: nothing reached the server
    except TimeoutError:
        return f"{request['method']} {request['url']}: no answer in {ANSWER_S} s"
    if r.status_code < 500:
        return None
    return (f"{request['method']} {request['url']} -> {r.status_code} {r.text[:200]}\n  "
            f"{case.as_curl_command()}")


async def test_no_operation_of_the_openapi_document_answers_5xx(platform):
    world = await World(platform).build()
    raw = (await platform.client.get("/schema/openapi.json")).json()
    ids = {k: v for k, v in world.ids.items() if k.endswith("_id")}
    started = time.monotonic()
    cases = await asyncio.to_thread(cases_of, raw, ids)  # the event loop serves meanwhile
    drawn = time.monotonic() - started
    answers = [await answer_of(platform.client, case, platform.auth()) for case in cases]
    print(f"{len(cases)} cases drawn in {drawn:.1f} s, "
          f"sent in {time.monotonic() - started - drawn:.1f} s")
    assert len(cases) > 5 * len(raw["paths"]), "the fuzz drew too few examples"
    failures = [a for a in answers if a]
    assert not failures, f"{len(failures)} of {len(cases)}:\n" + "\n".join(failures)


async def test_a_missing_body_is_refused_naming_the_body(platform):
    r = await platform.client.post(f"/api/v1/datasets/{platform.ids['dataset']}/items",
                                   headers=platform.auth() | {"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "body", "rule": "is required: send a JSON object", "source": "body"}]
