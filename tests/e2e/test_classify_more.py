"""Classify edge cases through HTTP: refusals, idempotency, slow outcomes, changes, reads."""

from __future__ import annotations

import asyncio
import io
import zipfile

import pytest
from PIL import Image

from services.annotation.bootstrap import build as build_annotation
from shared.contracts import streams
from tests.platform import running_platform

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"


async def no_trace(platform, redis) -> None:
    db = platform.catalog.db
    assert await db.annotations.count_documents({}) == 0
    assert await db.operations.count_documents({}) == 0
    assert await redis.xlen(streams.stream(streams.CLASSIFY, platform.settings.namespace)) == 0


@pytest.mark.parametrize(("body", "field", "rule"), [
    ({"label": "shoes"}, "label", "is not a label of the recipe"),
    ({"label": "polo shirts"}, "label", "is not a label of the recipe"),
    ({"label": POLO, "attributes": {"condition": "broken"}}, "attributes.condition", "must be one of"),
    ({"label": POLO, "attributes": {"sizes": ["XXL"]}}, "attributes.sizes", "are not among"),
    ({"label": "women's clothes.dresses", "attributes": {"sizes": ["S"]}}, "attributes.sizes",
     "is not an attribute of label"),
    ({"label": POLO, "attributes": {"quality": 11}}, "attributes.quality", "between 0 and 10"),
    ({"label": POLO, "attributes": {"quality": 2.5}}, "attributes.quality", "multiple of 1"),
    ({"label": POLO, "attributes": {"branded": "yes"}}, "attributes.branded", "true or false"),
    ({"label": POLO, "attributes": {"colour": "red"}}, "attributes.colour", "is not an attribute"),
    ({"label": POLO, "colour": "red"}, "colour", ""),
    ({"attributes": {}}, "label", ""),
    ({"label": ""}, "label", ""),
    ({"label": POLO, "type": "box"}, "type", ""),
])
async def test_a_classification_that_breaks_a_rule_is_refused_with_422_and_leaves_no_trace(
    platform, redis, body, field, rule
):
    r = await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations", body)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert any(e["field"] == field and rule in e["rule"] for e in errors), errors
    await no_trace(platform, redis)


async def test_malformed_json_is_a_client_error_not_a_500(platform, redis):
    r = await platform.client.post(f"/api/v1/items/{platform.ids['item']}/annotations",
                                   content=b"{not json", headers=platform.auth() | {"content-type": "application/json"})
    assert 400 <= r.status_code < 500
    await no_trace(platform, redis)


async def test_classify_needs_a_valid_token(platform, redis):
    path = f"/api/v1/items/{platform.ids['item']}/annotations"
    assert (await platform.client.post(path, json={"label": POLO})).status_code == 401
    assert (await platform.post(path, {"label": POLO}, token="clf_wrong")).status_code == 401
    await no_trace(platform, redis)


async def test_an_item_of_another_users_project_answers_404(platform, redis):
    stranger = await platform.new_user("stranger@example.com")
    r = await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations", {"label": POLO}, token=stranger)
    assert r.status_code == 404
    assert (await platform.get(f"/api/v1/items/{platform.ids['item']}/annotations", token=stranger)).status_code == 404
    assert (await platform.get(f"/api/v1/projects/{platform.ids['project']}", token=stranger)).status_code == 404
    await no_trace(platform, redis)


async def test_a_repeated_request_with_the_same_idempotency_key_returns_the_first_outcome(platform):
    path = f"/api/v1/items/{platform.ids['item']}/annotations"
    key = {"Idempotency-Key": "click-42"}
    first = await platform.post(path, {"label": POLO}, headers=key)
    again = await platform.post(path, {"label": POLO}, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert await platform.catalog.db.annotations.count_documents({}) == 1
    other = await platform.post(path, {"label": "women's clothes.dresses"}, headers=key)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await platform.catalog.db.annotations.count_documents({}) == 1


async def test_past_the_wait_classify_answers_202_and_the_operation_reports_the_outcome(settings):
    slow = settings.model_copy(update={"outcome_wait_s": 0.3})
    async with running_platform(slow, services=False) as platform:
        await platform.seed()
        r = await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations", {"label": POLO})
        assert r.status_code == 202, r.text
        operation = r.json()["url"].removeprefix("http://testserver")
        assert r.headers["location"].endswith(operation)
        assert (await platform.get(operation)).json()["status"] == "pending"
        stranger = await platform.new_user("stranger@example.com")
        assert (await platform.get(operation, token=stranger)).status_code == 404
        async with build_annotation(slow).app:  # the service comes up late
            for _ in range(100):
                body = (await platform.get(operation)).json()
                if body["status"] != "pending":
                    break
                await asyncio.sleep(0.05)
        assert body["status"] == "succeeded"
        assert body["result"]["annotation"]["label"] == POLO
    # a new gateway (a restart, or another replica) answers from the stored outcome
    async with running_platform(slow, services=False) as again:
        again.token = platform.token
        assert (await again.get(operation)).json()["status"] == "succeeded"


async def test_an_annotation_can_be_changed_and_deleted_through_events(platform):
    item = platform.ids["item"]
    created = (await platform.post(f"/api/v1/items/{item}/annotations", {"label": POLO})).json()
    path = f"/api/v1/annotations/{created['id']}"
    bad = await platform.client.patch(path, json={"label": "hats"}, headers=platform.auth())
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "label"
    changed = await platform.client.patch(path, json={"label": "men's clothes.jeans",
                                                      "attributes": {"condition": "used"}},
                                          headers=platform.auth())
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["label"] == "men's clothes.jeans" and body["createdAt"] == created["createdAt"]
    assert body["metadata"]["system"]["attributes"] == {"condition": "used"}
    assert (await platform.get(path)).json()["label"] == "men's clothes.jeans"
    gone = await platform.client.delete(path, headers=platform.auth())
    assert gone.status_code == 204
    assert (await platform.get(path)).status_code == 404
    assert (await platform.get(f"/api/v1/items/{item}/annotations")).json()["annotations"] == []
    assert (await platform.client.delete(path, headers=platform.auth())).status_code == 404


async def test_an_uploaded_image_is_stored_served_with_a_thumbnail_and_exported(platform):
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(buffer, "PNG")
    r = await platform.client.post(
        f"/api/v1/datasets/{platform.ids['dataset']}/items/upload",
        files={"file": ("red.png", buffer.getvalue(), "image/png")}, data={"dir": "/shirts"},
        headers=platform.auth())
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["filename"] == "/shirts/red.png" and item["metadata"]["system"]["width"] == 640
    content = await platform.get(f"/api/v1/items/{item['id']}/stream")
    assert content.content == buffer.getvalue()
    thumb = await platform.get(f"/api/v1/items/{item['id']}/thumbnail")
    assert thumb.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 256
    not_image = await platform.client.post(
        f"/api/v1/datasets/{platform.ids['dataset']}/items/upload",
        files={"file": ("notes.txt", b"hello", "text/plain")}, headers=platform.auth())
    assert not_image.status_code == 422 and not_image.json()["errors"][0]["field"] == "file"

    await platform.post(f"/api/v1/items/{item['id']}/annotations", {"label": POLO})
    export = (await platform.get(f"/api/v1/datasets/{platform.ids['dataset']}/export")).json()
    by_name = {e["filename"]: e for e in export}
    assert by_name["/shirts/red.png"]["annotations"][0]["label"] == POLO
    assert by_name["/shirt.jpg"]["annotationsCount"] == 0
    archive = await platform.get(f"/api/v1/datasets/{platform.ids['dataset']}/export?format=zip")
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert sorted(names) == ["json/shirt.jpg.json", "json/shirts/red.png.json"]


async def test_bad_paging_and_item_registration_answer_422_naming_the_field(platform):
    r = await platform.get(f"/api/v1/datasets/{platform.ids['dataset']}/items?pageSize=0")
    assert r.status_code == 422 and "pageSize" in r.text
    r = await platform.post(f"/api/v1/datasets/{platform.ids['dataset']}/items",
                            {"name": "a.jpg", "url": "not a url", "mimetype": "image/jpeg"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "url"
    r = await platform.post(f"/api/v1/projects/{platform.ids['project']}/recipes",
                            {"title": "bad", "ontology": {"roots": [{"value": {"tag": "a.b"}}]}})
    assert r.status_code == 422, r.text


async def test_health_endpoints_report_readiness(platform):
    live = await platform.client.get("/health/live")
    ready = await platform.client.get("/health/ready")
    assert live.status_code == 200 and ready.status_code == 200
    assert ready.json()["checks"] == {"redis": True, "mongodb": True, "subscribers": True}
