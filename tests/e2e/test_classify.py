"""HTTP classify -> classify stream -> annotation service -> MongoDB -> HTTP read."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


async def test_classifying_an_image_stores_a_dataloop_class_annotation(platform):
    item = platform.ids["item"]
    r = await platform.post(f"/api/v1/items/{item}/annotations",
                            {"label": "men's clothes.polo shirts",
                             "attributes": {"condition": "new", "sizes": ["M", "L"], "quality": 7}})
    assert r.status_code == 201, r.text
    ann = r.json()
    assert ann["type"] == "class" and ann["label"] == "men's clothes.polo shirts"
    assert ann["metadata"]["system"]["attributes"] == {"condition": "new", "sizes": ["M", "L"], "quality": 7}
    assert ann["creator"] == ann["updatedBy"] == "owner@example.com"
    assert r.headers["location"].endswith(f"/annotations/{ann['id']}")

    read = (await platform.get(f"/api/v1/items/{item}/annotations")).json()
    assert read["id"] == item and read["annotationsCount"] == 1 and read["annotated"] is True
    assert read["annotations"][0] == ann
