"""The task browser's item lists over HTTP on real servers: filters and totals, sorting and
paging, the list following classifies, statuses and bulks, the ids of everything matching,
bulks by a browser filter, refusals, and the browser's preferences."""

from __future__ import annotations

import pytest

from tests.e2e.test_tasks import add_member, assignments, create_task
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"
JEANS = "men's clothes.jeans"
DRESS = "women's clothes.dresses"
FILES = [("Polo-1.jpg", "/shirts"), ("polo-2.jpg", "/shirts"), ("tee.jpg", "/shirts/long"),
         ("boot.jpg", "/shoes"), ("dress.jpg", "/shirtsale")]


@pytest.fixture
async def world(platform):
    """A task over six items (the seeded `shirt.jpg` in `/` and five in folders), split
    between two annotators; the owner classified two and completed one."""
    tokens = {"ann1": await add_member(platform, "ann1@example.com", "annotator"),
              "ann2": await add_member(platform, "ann2@example.com", "annotator")}
    ids = {"shirt.jpg": platform.ids["item"]}
    for name, folder in FILES:
        r = await platform.post(f"/api/v1/datasets/{platform.ids['dataset']}/items",
                                {"name": name, "url": f"http://example.com/{name}", "mimetype": "image/jpeg",
                                 "dir": folder})
        ids[name] = r.json()["id"]
    task = (await create_task(platform, singleClass=False, availableActions=[
        {"action": "completed", "displayName": "Completed"},
        {"action": "needs-review", "displayName": "Needs review"}])).json()
    await classify(platform, ids["Polo-1.jpg"], POLO, task["id"])
    await classify(platform, ids["tee.jpg"], JEANS, task["id"])
    await set_status(platform, task["id"], ids["Polo-1.jpg"], "completed")
    return task, ids, tokens


async def classify(platform, item, label, task_id, token=None):
    r = await platform.post(f"/api/v1/items/{item}/annotations", {"label": label, "taskId": task_id}, token=token)
    assert r.status_code == 201, r.text
    return r.json()


async def set_status(platform, task_id, item, status, token=None):
    r = await platform.client.put(f"/api/v1/tasks/{task_id}/items/{item}/status", json={"status": status},
                                  headers=platform.auth(token))
    assert r.status_code == 200, r.text


async def listed(platform, task_id, token=None, **params):
    r = await platform.client.get(f"/api/v1/tasks/{task_id}/items", params=params,
                                  headers=platform.auth(token))
    assert r.status_code == 200, r.text
    return r.json()


async def names(platform, task_id, **params):
    return [row["name"] for row in (await listed(platform, task_id, **params))["items"]]


async def test_the_list_shows_each_item_with_its_status_assignee_and_classes(platform, world):
    task, ids, _ = world
    page = await listed(platform, task["id"])
    assert page["totalItemsCount"] == 6 and page["page"] == 0 and page["pageSize"] == 50
    assert [r["name"] for r in page["items"]] == ["boot.jpg", "dress.jpg", "Polo-1.jpg", "polo-2.jpg",
                                                  "shirt.jpg", "tee.jpg"]
    polo = next(r for r in page["items"] if r["name"] == "Polo-1.jpg")
    by = await assignments(platform, task["id"])
    holder = next(a for a in by.values() if a["id"] == polo["assignmentId"])
    assert polo["id"] == ids["Polo-1.jpg"] and polo["dir"] == "/shirts" and polo["status"] == "completed"
    assert polo["assignee"] == holder["annotator"] and polo["createdAt"]
    assert [c["label"] for c in polo["classes"]] == [POLO] and polo["classes"][0]["annotationId"]
    assert polo["stream"].endswith(f"/api/v1/items/{ids['Polo-1.jpg']}/stream")
    assert polo["thumbnail"] is None  # registered by URL: no stored thumbnail


@pytest.mark.parametrize("params, expected", [
    ({"status": "completed"}, ["Polo-1.jpg"]),
    ({"status": "none"}, ["boot.jpg", "dress.jpg", "polo-2.jpg", "shirt.jpg", "tee.jpg"]),
    ({"status": "needs-review"}, []),
    ({"label": POLO}, ["Polo-1.jpg"]),
    ({"label": "men's clothes"}, ["Polo-1.jpg", "tee.jpg"]),  # a parent label holds its children
    ({"label": DRESS}, []),
    ({"annotated": "true"}, ["Polo-1.jpg", "tee.jpg"]),
    ({"annotated": "false"}, ["boot.jpg", "dress.jpg", "polo-2.jpg", "shirt.jpg"]),
    ({"name": "POLO"}, ["Polo-1.jpg", "polo-2.jpg"]),
    ({"dir": "/shirts"}, ["Polo-1.jpg", "polo-2.jpg", "tee.jpg"]),  # not /shirtsale
    ({"dir": "/shirts/long/"}, ["tee.jpg"]),
    ({"dir": "/shirts", "annotated": "false", "status": "none"}, ["polo-2.jpg"]),
])
async def test_each_filter_and_its_total(platform, world, params, expected):
    task, _, _ = world
    page = await listed(platform, task["id"], **params)
    assert [r["name"] for r in page["items"]] == expected and page["totalItemsCount"] == len(expected)


async def test_the_assignee_filter_lists_exactly_an_annotators_assignment(platform, world):
    task, _, _ = world
    by = await assignments(platform, task["id"])
    for email, a in by.items():
        page = await listed(platform, task["id"], assignee=email, pageSize=200)
        assert page["totalItemsCount"] == a["totalItems"] == 3
        assert {r["assignmentId"] for r in page["items"]} == {a["id"]}
    assert (await listed(platform, task["id"], assignee="nobody@example.com"))["totalItemsCount"] == 0


async def test_sorting_by_name_and_creation_both_ways(platform, world):
    task, _, _ = world
    by_name = await names(platform, task["id"])
    assert await names(platform, task["id"], sort="-name") == by_name[::-1]
    created = await names(platform, task["id"], sort="createdAt")
    assert created[0] == "shirt.jpg" and created[1:] == [n for n, _ in FILES]  # in order of registration
    assert await names(platform, task["id"], sort="-createdAt") == created[::-1]


async def test_paging_cuts_the_sorted_list_and_says_what_is_left(platform, world):
    task, _, _ = world
    every = await names(platform, task["id"])
    first = await listed(platform, task["id"], pageSize=4)
    last = await listed(platform, task["id"], pageSize=4, page=1)
    assert [r["name"] for r in first["items"] + last["items"]] == every
    assert (first["hasNextPage"], last["hasNextPage"]) == (True, False)
    assert first["totalPagesCount"] == 2 and first["totalItemsCount"] == 6
    assert (await listed(platform, task["id"], pageSize=4, page=7))["items"] == []


async def test_the_ids_of_every_matching_item_in_order(platform, world):
    task, ids, _ = world
    r = await platform.client.get(f"/api/v1/tasks/{task['id']}/items/ids", params={"dir": "/shirts",
                                                                                  "sort": "-name"},
                                  headers=platform.auth())
    assert r.status_code == 200, r.text
    assert r.json() == {"ids": [ids["tee.jpg"], ids["polo-2.jpg"], ids["Polo-1.jpg"]], "totalItemsCount": 3}


@pytest.mark.parametrize("params, field", [
    ({"status": "approved"}, "status"),
    ({"sort": "size"}, "sort"),
    ({"pageSize": 0}, "pageSize"),
    ({"pageSize": 201}, "pageSize"),
    ({"annotated": "maybe"}, "annotated"),
    ({"label": "hats"}, "label"),
    ({"dir": "shirts"}, "dir"),
    ({"page": -1}, "page"),
])
async def test_a_bad_parameter_answers_422_naming_it(platform, world, params, field):
    task, _, _ = world
    r = await platform.client.get(f"/api/v1/tasks/{task['id']}/items", params=params, headers=platform.auth())
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    # Litestar names the paging parameters by their Python names (page_size), as on every list
    assert [e["field"] for e in errors] in ([field], [field.replace("S", "_s")]) and errors[0]["rule"], errors
    if "pageSize" not in params and "page" not in params:
        r = await platform.client.get(f"/api/v1/tasks/{task['id']}/items/ids", params=params,
                                      headers=platform.auth())
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field


async def test_an_annotator_sees_every_item_of_the_task_and_an_outsider_none(platform, world):
    task, _, tokens = world
    page = await listed(platform, task["id"], token=tokens["ann1"])
    assert page["totalItemsCount"] == 6
    outsider = await platform.new_user("outsider@example.com")
    r = await platform.client.get(f"/api/v1/tasks/{task['id']}/items", headers=platform.auth(outsider))
    assert r.status_code == 404


async def test_the_list_follows_a_classify_a_status_and_their_removal(platform, world):
    task, ids, tokens = world
    assert await names(platform, task["id"], label=DRESS) == []
    by = await assignments(platform, task["id"])
    rows = (await listed(platform, task["id"]))["items"]
    dress = next(r for r in rows if r["name"] == "dress.jpg")
    token = tokens["ann1"] if dress["assignee"] == "ann1@example.com" else tokens["ann2"]
    annotation = await classify(platform, ids["dress.jpg"], DRESS, task["id"], token=token)
    # answered to the client: already listed on this replica
    assert await names(platform, task["id"], label=DRESS) == ["dress.jpg"]
    await set_status(platform, task["id"], ids["dress.jpg"], "needs-review", token=token)
    assert await names(platform, task["id"], status="needs-review") == ["dress.jpg"]
    r = await platform.client.delete(f"/api/v1/annotations/{annotation['id']}", headers=platform.auth())
    assert r.status_code in (200, 204), r.text
    assert await eventually(lambda: _names_are(platform, task["id"], [], label=DRESS))
    r = await platform.client.delete(f"/api/v1/tasks/{task['id']}/items/{ids['dress.jpg']}/status",
                                     headers=platform.auth())
    assert r.status_code == 200
    assert await eventually(lambda: _names_are(platform, task["id"], [], status="needs-review"))
    assert by  # both annotators hold items


async def _names_are(platform, task_id, expected, **params):
    return await names(platform, task_id, **params) == expected


async def test_the_list_follows_a_bulk_and_its_undo(platform, world):
    task, _, _ = world
    await listed(platform, task["id"])  # the index exists before the bulk
    r = await platform.post(f"/api/v1/tasks/{task['id']}/bulk-classify",
                            {"filter": {"status": "none"}, "label": DRESS, "mode": "classify-and-set-status"})
    assert r.status_code == 200, r.text
    five = ["boot.jpg", "dress.jpg", "polo-2.jpg", "shirt.jpg", "tee.jpg"]
    assert await eventually(lambda: _names_are(platform, task["id"], five, label=DRESS))
    assert await eventually(lambda: _names_are(platform, task["id"], sorted(["Polo-1.jpg"] + five, key=str.casefold),
                                                  status="completed"))
    r = await platform.post(f"/api/v1/tasks/{task['id']}/bulk/{r.json()['id']}/undo")
    assert r.status_code == 200, r.text
    assert await eventually(lambda: _names_are(platform, task["id"], [], label=DRESS))
    assert await eventually(lambda: _names_are(platform, task["id"], ["Polo-1.jpg"], status="completed"))


async def test_items_added_to_the_task_are_listed(platform, world):
    task, _, _ = world
    await listed(platform, task["id"])
    r = await platform.post(f"/api/v1/datasets/{platform.ids['dataset']}/items",
                            {"name": "late.jpg", "url": "http://example.com/late.jpg", "mimetype": "image/jpeg"})
    late = r.json()["id"]
    r = await platform.post(f"/api/v1/tasks/{task['id']}/items", {"itemIds": [late]})
    assert r.status_code == 200, r.text
    assert "late.jpg" in await names(platform, task["id"])


async def test_an_index_that_missed_a_change_is_rebuilt_once_it_is_old(platform, world):
    task, ids, _ = world
    assert await names(platform, task["id"], status="needs-review") == []
    # a change the gateway never read an event of (a reader down past a trimmed stream)
    await platform.catalog.db.item_statuses.update_one(
        {"_id": f"{task['id']}:{ids['Polo-1.jpg']}"}, {"$set": {"status": "needs-review"}})
    assert await names(platform, task["id"], status="needs-review") == []
    platform.gateway.browse.max_age_s = 0.2
    assert await eventually(lambda: _names_are(platform, task["id"], ["Polo-1.jpg"], status="needs-review"))


async def test_a_bulk_by_label_and_name_classifies_exactly_the_matching_items(platform, world):
    task, ids, _ = world
    body = {"filter": {"label": "men's clothes", "name": "polo"}, "label": DRESS}
    preview = await platform.post(f"/api/v1/tasks/{task['id']}/bulk-classify/preview", body)
    assert preview.status_code == 200, preview.text
    assert preview.json()["total"] == 1 and preview.json()["wouldChange"] == 1
    r = await platform.post(f"/api/v1/tasks/{task['id']}/bulk-classify", body)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 1 and r.json()["classified"] == 1
    assert await eventually(lambda: _names_are(platform, task["id"], ["Polo-1.jpg"], label=DRESS))
    r = await platform.post(f"/api/v1/tasks/{task['id']}/bulk-classify",
                            {"filter": {"dir": "/shirts", "annotated": False}, "label": JEANS,
                             "mode": "classify-and-set-status"})
    assert r.status_code == 200 and r.json()["total"] == 1, r.text
    assert await eventually(lambda: _names_are(platform, task["id"], ["polo-2.jpg", "tee.jpg"], label=JEANS))
    anns = await platform.catalog.db.annotations.count_documents({"itemId": ids["polo-2.jpg"]})
    assert anns == 1


async def test_a_bulk_filter_is_checked_strictly(platform, world):
    task, _, _ = world
    path = f"/api/v1/tasks/{task['id']}/bulk-classify"
    r = await platform.post(path, {"filter": {"label": "hats"}, "label": DRESS})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "filter.label", r.text
    r = await platform.post(path, {"filter": {"annotated": "maybe"}, "label": DRESS})
    assert r.status_code == 422, r.text
    r = await platform.post(path, {"filter": {"colour": "red"}, "label": DRESS})
    assert r.status_code == 422, r.text
    r = await platform.post(path, {"filter": {"name": "nothing-like-it"}, "label": DRESS})
    assert r.status_code == 422 and "matches no item" in r.json()["errors"][0]["rule"]


async def test_a_bulk_filter_matching_more_than_a_bulk_takes_says_how_many(platform):
    dataset = platform.ids["dataset"]
    docs = [{"_id": f"big{n:05d}", "datasetId": dataset, "projectId": platform.ids["project"],
             "name": f"big{n:05d}.jpg", "dir": "/big", "filename": f"/big/big{n:05d}.jpg",
             "createdAt": "2024-01-01T00:00:00.000Z", "creator": "owner@example.com",
             "metadata": {"system": {"mimetype": "image/jpeg"}, "user": {}}} for n in range(20_001)]
    await platform.catalog.db.items.insert_many(docs)
    await add_member(platform, "ann1@example.com", "annotator")
    r = await create_task(platform, assignees=["ann1@example.com"])
    assert r.status_code in (200, 201), r.text
    task = r.json()
    r = await platform.post(f"/api/v1/tasks/{task['id']}/bulk-classify", {"filter": {"dir": "/big"}, "label": POLO})
    assert r.status_code == 422, r.text
    assert "20,001" in r.json()["errors"][0]["rule"] and "20,000" in r.json()["errors"][0]["rule"]
    assert await platform.catalog.db.annotations.count_documents({}) == 0


async def test_preferences_default_then_saved_per_user(platform):
    path = "/api/v1/users/me/preferences"
    assert (await platform.get(path)).json() == {"thumbnailSize": 128, "pageSize": 50}
    r = await platform.client.put(path, json={"thumbnailSize": 256, "pageSize": 200}, headers=platform.auth())
    assert r.status_code == 200 and r.json() == {"thumbnailSize": 256, "pageSize": 200}
    assert (await platform.get(path)).json() == {"thumbnailSize": 256, "pageSize": 200}
    other = await platform.new_user("someone@example.com")
    assert (await platform.get(path, token=other)).json() == {"thumbnailSize": 128, "pageSize": 50}


@pytest.mark.parametrize("body, field", [
    ({"thumbnailSize": 100, "pageSize": 50}, "thumbnailSize"),
    ({"thumbnailSize": 128, "pageSize": 10}, "pageSize"),
    ({"thumbnailSize": 128}, "pageSize"),
    ({"thumbnailSize": 128, "pageSize": 50, "theme": "dark"}, "theme"),
])
async def test_preferences_outside_the_sizes_are_refused(platform, body, field):
    path = "/api/v1/users/me/preferences"
    r = await platform.client.put(path, json=body, headers=platform.auth())
    assert r.status_code == 422, r.text
    assert any(field in e["field"] for e in r.json()["errors"]), r.json()
    assert (await platform.get(path)).json() == {"thumbnailSize": 128, "pageSize": 50}
