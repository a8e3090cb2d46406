"""Hostile input gets a 4xx naming the field and changes nothing; a property-based fuzz of
every operation in the OpenAPI document finds no 5xx (gateway.limits sets the limits)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from gateway.limits import MAX_BODY, MAX_DEPTH

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"
BEYOND_64_BITS = 2**63
IMAGE = {"name": "far.jpg", "url": "http://example.com/far.jpg", "mimetype": "image/jpeg"}
VIDEO = {"name": "far.mp4", "url": "http://example.com/far.mp4", "mimetype": "video/mp4",
         "fps": 25}


def nested(levels: int) -> Any:
    """JSON nested `levels` deep, written by hand: json.dumps itself gives up near 1,000."""
    return json.loads("[" * levels + "]" * levels)


def raw(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def refused_naming(r: Any, field: str, status: int = 422) -> dict[str, Any]:
    assert r.status_code == status, r.text
    answer = r.json()
    assert answer["status_code"] == status and answer["detail"], answer
    assert any(e["field"] == field for e in answer["errors"]), answer
    assert all(set(e) == {"field", "rule", "source"} for e in answer["errors"]), answer
    return answer


async def counts(platform) -> tuple[int, ...]:
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
    await platform.gateway.audit.flush()
    before = await counts(platform)
    r = await platform.post(f"/api/v1/datasets/{platform.ids['dataset']}/items", body)
    assert "2^63" in refused_naming(r, field)["errors"][0]["rule"]
    await platform.gateway.audit.flush()
    assert await counts(platform) == before


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 5_000, 100_000])
async def test_item_metadata_nested_too_deep_is_refused_naming_the_field(platform, levels):
    before = await counts(platform)
    body = json.dumps(IMAGE)[:-1] + ', "metadata": ' + raw(levels) + "}"
    r = await send_json(platform, f"/api/v1/datasets/{platform.ids['dataset']}/items", body)
    assert f"{MAX_DEPTH} levels" in refused_naming(r, "metadata")["errors"][0]["rule"]
    assert await counts(platform) == before


async def test_metadata_nested_as_deep_as_the_limit_is_kept(platform):
    body = IMAGE | {"metadata": {"deep": nested(MAX_DEPTH - 2)}}  # the body is a level too
    r = await platform.post(f"/api/v1/datasets/{platform.ids['dataset']}/items", body)
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["user"] == body["metadata"]


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 5_000])
async def test_classify_attributes_nested_too_deep_are_refused_naming_the_field(platform, levels):
    before = await counts(platform)
    body = '{"label": "%s", "attributes": %s}' % (POLO, raw(levels))
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
    await asyncio.sleep(0)
