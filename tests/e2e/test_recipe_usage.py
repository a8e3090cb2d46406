"""What a recipe change would orphan (GET /recipes/{id}/label-usage, which the studio's
recipe editor asks before a save that drops labels), and the streamed export's item count."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"


async def test_label_usage_counts_the_annotations_holding_each_label_path_for_managers_only(platform):
    r = await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations", {"label": POLO})
    assert r.status_code == 201, r.text
    query = urlencode([("labels", POLO), ("labels", "men's clothes"), ("labels", "nothing")])
    r = await platform.get(f"/api/v1/recipes/{platform.ids['recipe']}/label-usage?{query}")
    assert r.status_code == 200, r.text
    assert r.json() == {"datasets": 1, "labels": {POLO: 1, "men's clothes": 0, "nothing": 0}}
    annotator = await platform.add_member("reader@example.com", "annotator")
    r = await platform.get(f"/api/v1/recipes/{platform.ids['recipe']}/label-usage?{query}",
                           token=annotator)
    assert r.status_code == 403 and "manager" in r.text


async def test_the_streamed_export_says_how_many_items_it_holds(platform):
    r = await platform.get(f"/api/v1/datasets/{platform.ids['dataset']}/export")
    assert r.status_code == 200 and r.headers["X-Item-Count"] == "1"
    assert [e["name"] for e in r.json()] == ["shirt.jpg"]
