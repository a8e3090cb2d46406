"""Tasks through HTTP on real servers: allocation, pulling, redistribution, reassignment,
statuses, and the allocation rules refusing what they must."""

from __future__ import annotations

import pytest

from tests.waiting import eventually

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"


async def add_member(platform, email: str, role: str) -> str:
    token = await platform.new_user(email)
    user = await platform.catalog.db.users.find_one({"email": email})
    await platform.catalog.db.projects.update_one(
        {"_id": platform.ids["project"]},
        {"$push": {"members": {"userId": user["_id"], "email": email, "role": role}}})
    platform.gateway.access.forget("projects", platform.ids["project"])
    return token


async def register_items(platform, n: int) -> list[str]:
    ids = []
    for i in range(n):
        r = await platform.post(f"/api/v1/datasets/{platform.ids['dataset']}/items",
                                {"name": f"img{i:03d}.jpg", "url": f"http://example.com/{i}.jpg",
                                 "mimetype": "image/jpeg"})
        ids.append(r.json()["id"])
    return ids


@pytest.fixture
async def team(platform):
    tokens = {"ann1": await add_member(platform, "ann1@example.com", "annotator"),
              "ann2": await add_member(platform, "ann2@example.com", "annotator"),
              "ann3": await add_member(platform, "ann3@example.com", "annotator"),
              "mgr": await add_member(platform, "mgr@example.com", "manager")}
    items = [platform.ids["item"]] + await register_items(platform, 9)
    return tokens, items


async def create_task(platform, token=None, **over):
    body = {"name": "shirts", "datasetId": platform.ids["dataset"],
            "assignees": ["ann1@example.com", "ann2@example.com"]} | over
    return await platform.post(f"/api/v1/projects/{platform.ids['project']}/tasks", body, token=token)


async def assignments(platform, task_id, token=None):
    rows = (await platform.get(f"/api/v1/tasks/{task_id}/assignments", token=token)).json()
    return {a["annotator"]: a for a in rows}


async def items_of(platform, assignment_id, token=None):
    page = (await platform.get(f"/api/v1/assignments/{assignment_id}/items", token=token)).json()
    return [r["itemId"] for r in page["items"]]


async def test_an_allocation_task_splits_items_evenly_by_default(platform, team):
    _, items = team
    r = await create_task(platform)
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["totalItems"] == 10 and task["allocation"] == "distribution"
    assert [a["action"] for a in task["availableActions"]] == ["completed", "discard"]
    assert task["itemStatus"] == {"completed": 0, "remaining": 10, "actions": {}}
    by = await assignments(platform, task["id"])
    assert by["ann1@example.com"]["totalItems"] == 5 and by["ann2@example.com"]["totalItems"] == 5
    got = await items_of(platform, by["ann1@example.com"]["id"]) + await items_of(platform, by["ann2@example.com"]["id"])
    assert sorted(got) == sorted(items)


async def test_an_allocation_task_splits_items_by_workload_percentages(platform, team):
    r = await create_task(platform, assignees=["ann1@example.com", "ann2@example.com", "ann3@example.com"],
                          workload=[{"assigneeId": "ann1@example.com", "load": 50},
                                    {"assigneeId": "ann2@example.com", "load": 30},
                                    {"assigneeId": "ann3@example.com", "load": 20}])
    assert r.status_code == 201, r.text
    by = await assignments(platform, r.json()["id"])
    assert [by[f"ann{i}@example.com"]["totalItems"] for i in (1, 2, 3)] == [5, 3, 2]


@pytest.mark.parametrize(("over", "field"), [
    ({"workload": [{"assigneeId": "ann1@example.com", "load": 60},
                   {"assigneeId": "ann2@example.com", "load": 30}]}, "workload"),
    ({"assignees": ["nobody@example.com"]}, "assignees[0]"),
    ({"allocation": "pulling", "batchSize": 2, "maxBatchWorkload": 4}, "batchSize"),
    ({"allocation": "pulling", "batchSize": 3, "maxBatchWorkload": 7}, "maxBatchWorkload"),
    ({"allocation": "pulling", "batchSize": 3, "maxBatchWorkload": 5, "consensus": True}, "consensus"),
    ({"batchSize": 3}, "batchSize"),
    ({"itemIds": ["000000000000000000000000"]}, "itemIds"),
])
async def test_a_task_definition_that_breaks_a_rule_is_refused_with_422(platform, team, over, field):
    r = await create_task(platform, **over)
    assert r.status_code == 422, r.text
    assert any(e["field"] == field for e in r.json().get("errors", [])) or field in r.text
    assert await platform.catalog.db.tasks.count_documents({}) == 0


async def test_only_managers_create_tasks(platform, team):
    tokens, _ = team
    assert (await create_task(platform, token=tokens["ann1"])).status_code == 403
    assert (await create_task(platform, token=tokens["mgr"])).status_code == 201


async def item_status_is(platform, task_id: str, expected: dict) -> bool:
    return (await platform.get(f"/api/v1/tasks/{task_id}")).json()["itemStatus"] == expected


async def test_statuses_are_set_and_cleared_including_custom_ones(platform, team):
    tokens, _ = team
    task = (await create_task(platform, availableActions=[
        {"action": "completed", "displayName": "Completed"},
        {"action": "needs-review", "displayName": "Needs review", "color": "#ff0000"}])).json()
    mine = await items_of(platform, (await assignments(platform, task["id"]))["ann1@example.com"]["id"])
    path = f"/api/v1/tasks/{task['id']}/items/{mine[0]}/status"
    r = await platform.client.put(path, json={"status": "needs-review"}, headers=platform.auth(tokens["ann1"]))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "needs-review" and r.json()["previous"] is None
    r = await platform.client.put(path, json={"status": "completed"}, headers=platform.auth(tokens["ann1"]))
    assert r.json()["previous"] == "needs-review"
    # the task's counts are written while the status's event goes out: they follow it closely
    assert await eventually(lambda: item_status_is(platform, task["id"], {
        "completed": 1, "remaining": 9, "actions": {"completed": 1}}))
    item = (await platform.get(f"/api/v1/items/{mine[0]}")).json()
    refs = item["metadata"]["system"]["refs"]
    assert [(r["type"], r["id"], r["metadata"]["status"]) for r in refs] == [
        ("task", task["id"], "completed"), ("assignment", refs[1]["id"], "completed")]
    assert [e["status"]["status"] for e in item["metadata"]["system"]["taskStatusLog"]] == [
        "needs-review", "completed"]
    r = await platform.client.delete(path, headers=platform.auth(tokens["ann1"]))
    assert r.status_code == 200 and r.json()["status"] is None
    assert await eventually(lambda: item_status_is(platform, task["id"], {
        "completed": 0, "remaining": 10, "actions": {}}))
    exported = {e["id"]: e for e in (await platform.get(f"/api/v1/datasets/{platform.ids['dataset']}/export")).json()}
    assert [r["metadata"] for r in exported[mine[0]]["metadata"]["system"]["refs"]] == [{}, {}]
    assert len(exported[mine[0]]["metadata"]["system"]["taskStatusLog"]) == 3


async def test_a_status_outside_the_task_is_refused_and_stores_nothing(platform, team):
    tokens, _ = team
    task = (await create_task(platform)).json()
    mine = await items_of(platform, (await assignments(platform, task["id"]))["ann1@example.com"]["id"])
    r = await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{mine[0]}/status",
                                  json={"status": "approved"}, headers=platform.auth(tokens["ann1"]))
    assert r.status_code == 422 and r.json()["reason"] == "invalid"
    assert await platform.catalog.db.item_statuses.count_documents({}) == 0


async def test_an_annotator_cannot_set_the_status_of_someone_elses_item_but_a_manager_can(platform, team):
    tokens, _ = team
    task = (await create_task(platform)).json()
    theirs = await items_of(platform, (await assignments(platform, task["id"]))["ann2@example.com"]["id"])
    path = f"/api/v1/tasks/{task['id']}/items/{theirs[0]}/status"
    r = await platform.client.put(path, json={"status": "completed"}, headers=platform.auth(tokens["ann1"]))
    assert r.status_code == 403 and r.json()["reason"] == "forbidden"
    assert await platform.catalog.db.item_statuses.count_documents({}) == 0
    r = await platform.client.put(path, json={"status": "completed"}, headers=platform.auth(tokens["mgr"]))
    assert r.status_code == 200


async def test_an_item_not_in_the_task_answers_404(platform, team):
    task = (await create_task(platform, itemIds=team[1][:4])).json()
    r = await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{team[1][9]}/status",
                                  json={"status": "completed"}, headers=platform.auth())
    assert r.status_code == 404


async def test_redistribute_moves_only_the_remaining_items(platform, team):
    tokens, _ = team
    task = (await create_task(platform)).json()
    by = await assignments(platform, task["id"])
    source = by["ann1@example.com"]["id"]
    mine = await items_of(platform, source)
    await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{mine[0]}/status",
                              json={"status": "completed"}, headers=platform.auth(tokens["ann1"]))
    r = await platform.post(f"/api/v1/assignments/{source}/redistribute",
                            {"workload": [{"assigneeId": "ann2@example.com", "load": 50},
                                          {"assigneeId": "ann3@example.com", "load": 50}]})
    assert r.status_code == 200, r.text
    by = await assignments(platform, task["id"])
    assert await items_of(platform, source) == [mine[0]]  # the done item stays where it was done
    assert by["ann2@example.com"]["totalItems"] == 7 and by["ann3@example.com"]["totalItems"] == 2


async def test_reassign_gives_the_whole_assignment_to_another_annotator(platform, team):
    tokens, _ = team
    task = (await create_task(platform)).json()
    source = (await assignments(platform, task["id"]))["ann1@example.com"]
    mine = await items_of(platform, source["id"])
    r = await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{mine[1]}/status",
                                  json={"status": "discard"}, headers=platform.auth(tokens["ann1"]))
    assert r.status_code == 200, r.text
    r = await platform.post(f"/api/v1/assignments/{source['id']}/reassign", {"annotator": "ann3@example.com"})
    assert r.status_code == 200, r.text
    by = await assignments(platform, task["id"])
    assert await items_of(platform, by["ann3@example.com"]["id"]) == mine
    assert by["ann1@example.com"]["status"] == "removed"
    # the status went with the item: counted in the new assignment's progress, not the old
    assert by["ann3@example.com"]["itemStatus"]["actions"] == {"discard": 1}
    assert by["ann1@example.com"]["itemStatus"]["actions"] == {}
    r = await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{mine[0]}/status",
                                  json={"status": "completed"}, headers=platform.auth(tokens["ann1"]))
    assert r.status_code == 403
    r = await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{mine[0]}/status",
                                  json={"status": "completed"}, headers=platform.auth(tokens["ann3"]))
    assert r.status_code == 200


async def test_pulling_hands_out_batches_and_never_more_than_the_maximum_open(platform, team):
    tokens, items = team
    task = (await create_task(platform, allocation="pulling", batchSize=3, maxBatchWorkload=5)).json()
    assert task["totalItems"] == 10 and task["queue"]["remaining"] == 10
    pull = f"/api/v1/tasks/{task['id']}/pull"
    first = (await platform.post(pull, token=tokens["ann1"])).json()
    assert len(first["itemIds"]) == 3 and first["openItems"] == 3
    second = (await platform.post(pull, token=tokens["ann1"])).json()
    assert len(second["itemIds"]) == 2 and second["openItems"] == 5
    assert (await platform.post(pull, token=tokens["ann1"])).json()["itemIds"] == []
    other = (await platform.post(pull, token=tokens["ann2"])).json()
    assert len(other["itemIds"]) == 3 and not set(other["itemIds"]) & set(first["itemIds"] + second["itemIds"])
    # an item still in the hidden queue belongs to nobody yet
    waiting = (set(items) - set(first["itemIds"] + second["itemIds"] + other["itemIds"])).pop()
    r = await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{waiting}/status",
                                  json={"status": "completed"}, headers=platform.auth(tokens["ann1"]))
    assert r.status_code == 403
    # finishing items makes room for the next batch
    for item in first["itemIds"]:
        await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{item}/status",
                                  json={"status": "completed"}, headers=platform.auth(tokens["ann1"]))
    third = (await platform.post(pull, token=tokens["ann1"])).json()
    assert len(third["itemIds"]) == 2 and third["openItems"] == 4
    assert (await platform.get(f"/api/v1/tasks/{task['id']}")).json()["queue"]["remaining"] == 0


async def test_adding_and_removing_items_keeps_items_that_hold_a_status(platform, team):
    tokens, items = team
    task = (await create_task(platform, itemIds=items[:6])).json()
    r = await platform.post(f"/api/v1/tasks/{task['id']}/items", {"itemIds": items[6:]})
    assert r.status_code == 200 and r.json()["totalItems"] == 10
    mine = await items_of(platform, (await assignments(platform, task["id"]))["ann1@example.com"]["id"])
    await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{mine[0]}/status",
                              json={"status": "discard"}, headers=platform.auth(tokens["ann1"]))
    r = await platform.post(f"/api/v1/tasks/{task['id']}/items/remove", {"itemIds": mine[:2]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalItems"] == 9
    assert body["summary"]["removed"] == 1 and body["summary"]["notRemovedCount"] == 1
    assert body["summary"]["notRemoved"] == [mine[0]]


async def test_statuses_can_be_added_and_removed_and_items_keep_theirs(platform, team):
    tokens, _ = team
    task = (await create_task(platform)).json()
    r = await platform.client.patch(f"/api/v1/tasks/{task['id']}", headers=platform.auth(),
                                    json={"addStatuses": [{"action": "blurry", "displayName": "Blurry"}]})
    assert [a["action"] for a in r.json()["availableActions"]] == ["completed", "discard", "blurry"]
    mine = await items_of(platform, (await assignments(platform, task["id"]))["ann1@example.com"]["id"])
    await platform.client.put(f"/api/v1/tasks/{task['id']}/items/{mine[0]}/status",
                              json={"status": "blurry"}, headers=platform.auth(tokens["ann1"]))
    r = await platform.client.patch(f"/api/v1/tasks/{task['id']}", headers=platform.auth(),
                                    json={"removeStatuses": ["blurry"]})
    assert [a["action"] for a in r.json()["availableActions"]] == ["completed", "discard"]
    assert r.json()["itemStatus"]["actions"] == {"blurry": 1}


async def test_an_annotator_classifies_items_of_their_own_assignment_in_the_task(platform, team):
    tokens, _ = team
    task = (await create_task(platform)).json()
    mine = await items_of(platform, (await assignments(platform, task["id"]))["ann1@example.com"]["id"])
    r = await platform.post(f"/api/v1/items/{mine[0]}/annotations", {"label": POLO, "taskId": task["id"]},
                            token=tokens["ann1"])
    assert r.status_code == 201, r.text
    system = r.json()["metadata"]["system"]
    assert system["taskId"] == task["id"] and system["assignmentId"]
    assert r.json()["creator"] == "ann1@example.com"


async def test_classify_on_someone_elses_item_is_refused_and_stores_nothing(platform, team):
    tokens, _ = team
    task = (await create_task(platform)).json()
    theirs = await items_of(platform, (await assignments(platform, task["id"]))["ann2@example.com"]["id"])
    r = await platform.post(f"/api/v1/items/{theirs[0]}/annotations", {"label": POLO, "taskId": task["id"]},
                            token=tokens["ann1"])
    assert r.status_code == 403 and r.json()["reason"] == "forbidden"
    assert await platform.catalog.db.annotations.count_documents({}) == 0
    outside = await platform.post(f"/api/v1/items/{theirs[0]}/annotations", {"label": POLO}, token=tokens["ann1"])
    assert outside.status_code == 403  # annotators classify only in a task
    assert await platform.catalog.db.annotations.count_documents({}) == 0


async def test_classify_on_an_item_outside_the_task_answers_404(platform, team):
    task = (await create_task(platform, itemIds=team[1][:2])).json()
    r = await platform.post(f"/api/v1/items/{team[1][5]}/annotations", {"label": POLO, "taskId": task["id"]})
    assert r.status_code == 404


async def test_a_single_class_task_replaces_the_items_class_and_a_multi_class_task_adds(platform, team):
    tokens, _ = team
    single = (await create_task(platform)).json()
    item = (await items_of(platform, (await assignments(platform, single["id"]))["ann1@example.com"]["id"]))[0]
    for label in (POLO, "men's clothes.jeans"):
        r = await platform.post(f"/api/v1/items/{item}/annotations", {"label": label, "taskId": single["id"]},
                                token=tokens["ann1"])
        assert r.status_code == 201, r.text
    labels = [a["label"] for a in (await platform.get(f"/api/v1/items/{item}/annotations")).json()["annotations"]]
    assert labels == ["men's clothes.jeans"]
    multi = (await create_task(platform, singleClass=False)).json()
    item = (await items_of(platform, (await assignments(platform, multi["id"]))["ann1@example.com"]["id"]))[1]
    for label in (POLO, "men's clothes.jeans"):
        await platform.post(f"/api/v1/items/{item}/annotations", {"label": label, "taskId": multi["id"]},
                            token=tokens["ann1"])
    labels = [a["label"] for a in (await platform.get(f"/api/v1/items/{item}/annotations")).json()["annotations"]]
    assert sorted(labels) == sorted([POLO, "men's clothes.jeans"])
