"""Bulk classification through HTTP on real servers: both modes, the rules refusing a bulk
as a whole, idempotent re-runs, preview, progress and undo."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.e2e.test_tasks import assignments, create_task, items_of, team  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"
JEANS = "men's clothes.jeans"


async def bulk(platform, task_id, token=None, **body):
    return await platform.post(f"/api/v1/tasks/{task_id}/bulk-classify", {"label": POLO} | body, token=token)


async def labels(platform, item):
    page = (await platform.get(f"/api/v1/items/{item}/annotations")).json()
    return sorted(a["label"] for a in page["annotations"])


async def statuses(platform, task_id):
    return {d["itemId"]: d["status"] async for d in platform.catalog.db.item_statuses.find({"taskId": task_id})}


async def test_classify_adds_the_class_to_every_item_and_leaves_statuses_alone(platform, team):
    _, items = team
    task = (await create_task(platform)).json()
    r = await bulk(platform, task["id"], itemIds=items)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "completed" and body["total"] == 10 and body["classified"] == 10
    for item in items:
        assert await labels(platform, item) == [POLO]
    assert await statuses(platform, task["id"]) == {}


async def test_classify_and_set_status_sets_completed_by_default(platform, team):
    _, items = team
    task = (await create_task(platform)).json()
    r = await bulk(platform, task["id"], itemIds=items, mode="classify-and-set-status")
    assert r.status_code == 200, r.text
    assert await statuses(platform, task["id"]) == {i: "completed" for i in items}
    assert (await platform.get(f"/api/v1/tasks/{task['id']}")).json()["itemStatus"]["completed"] == 10
    assert await labels(platform, items[3]) == [POLO]


async def test_classify_and_set_status_sets_a_custom_status_of_the_task(platform, team):
    _, items = team
    task = (await create_task(platform, availableActions=[
        {"action": "completed", "displayName": "Completed"},
        {"action": "needs-review", "displayName": "Needs review"}])).json()
    r = await bulk(platform, task["id"], itemIds=items[:4], mode="classify-and-set-status",
                   status="needs-review")
    assert r.status_code == 200, r.text
    assert await statuses(platform, task["id"]) == {i: "needs-review" for i in items[:4]}
    r = await bulk(platform, task["id"], itemIds=items[:4], mode="classify-and-set-status", status="approved")
    assert r.status_code == 422 and r.json()["reason"] == "invalid"


async def test_bulk_classify_is_refused_on_a_pulling_task(platform, team):
    _, items = team
    task = (await create_task(platform, allocation="pulling", batchSize=3, maxBatchWorkload=5)).json()
    r = await bulk(platform, task["id"], itemIds=items[:2])
    assert r.status_code == 409 and "pulling" in r.json()["detail"]
    assert await platform.catalog.db.annotations.count_documents({}) == 0


async def test_bulk_classify_is_refused_when_one_item_is_unallocated_and_nothing_changes(platform, team):
    _, items = team
    task = (await create_task(platform, itemIds=items[:9])).json()
    r = await bulk(platform, task["id"], itemIds=items, mode="classify-and-set-status")
    assert r.status_code == 409, r.text
    assert r.json()["details"] == {"items": [items[9]], "count": 1}
    assert await platform.catalog.db.annotations.count_documents({}) == 0
    assert await statuses(platform, task["id"]) == {}


async def test_an_annotator_bulk_over_someone_elses_items_is_refused_listing_them(platform, team):
    tokens, items = team
    task = (await create_task(platform)).json()
    by = await assignments(platform, task["id"])
    mine = await items_of(platform, by["ann1@example.com"]["id"])
    theirs = await items_of(platform, by["ann2@example.com"]["id"])
    r = await bulk(platform, task["id"], token=tokens["ann1"], itemIds=mine + theirs[:2])
    assert r.status_code == 403 and r.json()["details"] == {"items": theirs[:2], "count": 2}
    assert await platform.catalog.db.annotations.count_documents({}) == 0
    r = await bulk(platform, task["id"], token=tokens["ann1"], itemIds=mine)
    assert r.status_code == 200 and r.json()["classified"] == len(mine)


async def test_re_running_a_bulk_changes_nothing(platform, team):
    _, items = team
    task = (await create_task(platform, singleClass=False)).json()
    first = await bulk(platform, task["id"], itemIds=items, mode="classify-and-set-status")
    assert first.json()["classified"] == 10
    again = await bulk(platform, task["id"], itemIds=items, mode="classify-and-set-status")
    assert again.status_code == 200, again.text
    assert again.json()["classified"] == 0 and again.json()["unchanged"] == 10
    assert again.json()["statuses"]["changed"] == 0
    assert await platform.catalog.db.annotations.count_documents({}) == 10


async def test_a_single_class_bulk_replaces_the_items_class_and_a_multi_class_bulk_adds(platform, team):
    _, items = team
    single = (await create_task(platform)).json()
    await bulk(platform, single["id"], itemIds=items[:3], label=JEANS)
    r = await bulk(platform, single["id"], itemIds=items[:3])
    assert r.json()["replaced"] == 3
    assert await labels(platform, items[0]) == [POLO]
    multi = (await create_task(platform, singleClass=False, itemIds=items[3:])).json()
    await bulk(platform, multi["id"], itemIds=items[3:5], label=JEANS)
    await bulk(platform, multi["id"], itemIds=items[3:5])
    assert await labels(platform, items[3]) == sorted([POLO, JEANS])


async def test_a_filter_selects_an_assignments_items_without_a_status(platform, team):
    tokens, _ = team
    task = (await create_task(platform)).json()
    a1 = (await assignments(platform, task["id"]))["ann1@example.com"]["id"]
    mine = await items_of(platform, a1)
    await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{mine[0]}/status",
                              json={"status": "discard"}, headers=platform.auth(tokens["ann1"]))
    r = await bulk(platform, task["id"], filter={"assignmentId": a1, "status": "none"},
                   mode="classify-and-set-status")
    assert r.status_code == 200 and r.json()["total"] == len(mine) - 1
    assert (await statuses(platform, task["id"]))[mine[0]] == "discard"


async def test_preview_counts_what_would_change_and_changes_nothing(platform, team):
    tokens, items = team
    task = (await create_task(platform)).json()
    theirs = await items_of(platform, (await assignments(platform, task["id"]))["ann2@example.com"]["id"])
    await bulk(platform, task["id"], itemIds=items[:2])
    await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{items[0]}/status",
                              json={"status": "discard"}, headers=platform.auth())
    r = await platform.post(f"/api/v1/tasks/{task['id']}/bulk-classify/preview",
                            {"itemIds": items, "label": POLO, "mode": "classify-and-set-status"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 10 and body["alreadyClassified"] == 2 and body["statusOverwritten"] == 1
    assert body["wouldChange"] == 10
    assert body["statusesBefore"] == {"discard": 1, "none": 9}  # which statuses change
    assert body["heldByOthers"]["count"] == 10  # the owner holds none of them
    assert body["heldByOthers"]["byAnnotator"]["ann2@example.com"] == len(theirs)
    assert await platform.catalog.db.annotations.count_documents({}) == 2
    assert await statuses(platform, task["id"]) == {items[0]: "discard"}


async def test_the_bulk_operation_reports_progress_and_per_item_outcomes(platform, team):
    _, items = team
    task = (await create_task(platform)).json()
    done = (await bulk(platform, task["id"], itemIds=items[:5], mode="classify-and-set-status")).json()
    view = (await platform.get(done["url"].removeprefix("http://testserver"))).json()
    assert view["state"] == "completed" and view["done"] == view["total"] == 5
    rows = view["outcomes"]["items"]
    assert [r["itemId"] for r in rows] == items[:5]
    assert all(r["class"] == "added" and r["statusChange"] == {"previous": None, "status": "completed"}
               for r in rows)


async def test_undo_restores_the_classes_and_statuses_the_bulk_replaced(platform, team):
    _, items = team
    task = (await create_task(platform)).json()
    await bulk(platform, task["id"], itemIds=items[:3], label=JEANS)
    await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{items[0]}/status",
                              json={"status": "discard"}, headers=platform.auth())
    done = (await bulk(platform, task["id"], itemIds=items[:3], mode="classify-and-set-status")).json()
    assert await labels(platform, items[1]) == [POLO]
    r = await platform.post(f"/api/v1/tasks/{task['id']}/bulk/{done['id']}/undo")
    assert r.status_code == 200, r.text
    assert r.json()["removed"] == 3 and r.json()["restored"] == 3
    assert r.json()["conflicts"]["count"] == 0 and r.json()["statuses"]["restored"] == 3
    for item in items[:3]:
        assert await labels(platform, item) == [JEANS]
    assert await statuses(platform, task["id"]) == {items[0]: "discard", items[1]: None, items[2]: None}
    again = await platform.post(f"/api/v1/tasks/{task['id']}/bulk/{done['id']}/undo")
    assert again.status_code == 409


async def test_undo_reports_items_changed_since_and_leaves_them(platform, team):
    _, items = team
    task = (await create_task(platform)).json()
    done = (await bulk(platform, task["id"], itemIds=items[:3], mode="classify-and-set-status")).json()
    # later changes: another class on item 0 (single-class: replaces the bulk's), a status on item 1
    r = await platform.post(f"/api/v1/items/{items[0]}/annotations", {"label": JEANS, "taskId": task["id"]})
    assert r.status_code == 201, r.text
    await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{items[1]}/status",
                              json={"status": "discard"}, headers=platform.auth())
    r = await platform.post(f"/api/v1/tasks/{task['id']}/bulk/{done['id']}/undo")
    assert r.status_code == 200, r.text
    assert r.json()["conflicts"] == {"items": [items[0]], "count": 1}
    assert r.json()["statuses"]["conflicts"] == {"items": [items[1]], "count": 1}
    assert await labels(platform, items[0]) == [JEANS]
    assert await labels(platform, items[2]) == []
    assert await statuses(platform, task["id"]) == {items[0]: None, items[1]: "discard", items[2]: None}


async def test_a_bulk_over_more_than_20000_ids_is_refused_with_422(platform, team):
    task = (await create_task(platform)).json()
    r = await bulk(platform, task["id"], itemIds=[f"{i:024d}" for i in range(20_001)])
    assert r.status_code == 422


async def test_a_label_outside_the_recipe_is_refused_with_422(platform, team):
    _, items = team
    task = (await create_task(platform)).json()
    r = await bulk(platform, task["id"], itemIds=items, label="hats")
    assert r.status_code == 422


async def test_the_live_feed_of_the_task_carries_a_bulks_progress(platform, team):
    _, items = team
    task = (await create_task(platform)).json()
    await platform.get(f"/api/v1/tasks/{task['id']}/next-item")  # the caller's queue is seeded
    feed = asyncio.create_task(platform.client.get(
        f"/api/v1/tasks/{task['id']}/feed", params={"seconds": 3}, headers=platform.auth()))
    await asyncio.sleep(0.3)
    done = (await bulk(platform, task["id"], itemIds=items[:4], mode="classify-and-set-status")).json()
    r = await feed
    assert r.status_code == 200
    facts = [json.loads(line.split(": ", 1)[1]) for block in r.text.replace("\r\n", "\n").split("\n\n")
             for line in block.split("\n") if line.startswith("data:") and line[5:].strip()]
    progress = [f for f in facts if f.get("type") == "BulkProgressed" and f["bulkId"] == done["id"]]
    assert progress and progress[-1]["done"] == progress[-1]["total"] == 4
    completed = [f for f in facts if f.get("type") == "BulkCompleted" and f["bulkId"] == done["id"]]
    assert [c["total"] for c in completed] == [4]
