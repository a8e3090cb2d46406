"""Which items a task command takes, resolved by the gateway from its catalog (the task
service reads no `items`): a filter, or ids checked against the task's dataset. Ids outside
it are refused by the gateway before any command is sent, with the answer the task service
gave when it checked them."""

from __future__ import annotations

import pytest

from gateway import repository
from tests.e2e.test_tasks import assignments, create_task, items_of, register_items

pytestmark = pytest.mark.e2e


@pytest.fixture
async def items(platform):
    await platform.add_member("ann1@example.com", "annotator")
    await platform.add_member("ann2@example.com", "annotator")
    return [platform.ids["item"]] + await register_items(platform, 5)


async def elsewhere(platform) -> str:
    """An item of another dataset of the same project."""
    other = (await platform.post(f"/api/v1/projects/{platform.ids['project']}/datasets",
                                 {"name": "elsewhere"})).json()
    r = await platform.post(f"/api/v1/datasets/{other['id']}/items",
                            {"name": "far.jpg", "url": "http://example.com/far.jpg", "mimetype": "image/jpeg"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def refusal(r, unknown: list[str]) -> None:
    assert r.status_code == 422, r.text
    assert r.json() == {"status_code": 422, "detail": f"{len(unknown)} item(s) are not in the dataset",
                        "reason": "invalid", "details": {"field": "itemIds", "items": unknown, "count": len(unknown)},
                        "operationId": r.headers["Operation-Id"]}


@pytest.fixture(params=["by id", "by scan"])
def lookup(request, monkeypatch):
    """Named ids are looked up by id when few, by one read of the dataset's ids when many:
    both answer the same."""
    if request.param == "by scan":
        monkeypatch.setattr(repository, "NAMED_BY_ID", 1)
    return request.param


async def test_ids_outside_the_dataset_are_refused_before_any_command_is_sent(platform, items, lookup):
    far = await elsewhere(platform)
    r = await create_task(platform, itemIds=[items[0], far, "nowhere", far])
    refusal(r, [far, "nowhere"])
    # never published, no task; its operation answers the refusal, as a refusal by the task service did
    op = (await platform.get(f"/api/v1/operations/{r.headers['Operation-Id']}")).json()
    assert op["status"] == "rejected" and op["error"]["message"] == "2 item(s) are not in the dataset"
    listed = (await platform.get(f"/api/v1/projects/{platform.ids['project']}/tasks")).json()
    assert listed["totalItemsCount"] == 0

    task = (await create_task(platform, itemIds=items[:2])).json()
    for path in ("items", "items/remove"):
        refusal(await platform.post(f"/api/v1/tasks/{task['id']}/{path}", {"itemIds": [far, items[3]]}), [far])
    assert (await platform.get(f"/api/v1/tasks/{task['id']}")).json()["totalItems"] == 2


async def test_named_ids_are_taken_once_each_in_their_order(platform, items, lookup):
    task = (await create_task(platform, itemIds=[items[4], items[1], items[4], items[2]])).json()
    assert task["totalItems"] == 3
    shares = {a: await items_of(platform, row["id"]) for a, row in (await assignments(platform, task["id"])).items()}
    # contiguous shares of the items in the order named (not id order: that would give ann1 1 and 2)
    assert set(shares["ann1@example.com"]) == {items[4], items[1]} and shares["ann2@example.com"] == [items[2]]
    r = await platform.post(f"/api/v1/tasks/{task['id']}/items", {"itemIds": [items[1], items[5], items[5]]})
    assert r.status_code == 200 and r.json()["summary"] == {"added": 1} and r.json()["totalItems"] == 4


async def test_a_filter_takes_the_dataset_items_it_matches(platform, items):
    for name, folder in (("a.png", "/pngs"), ("b.png", "/pngs"), ("c.jpg", "/pngs")):
        r = await platform.post(f"/api/v1/datasets/{platform.ids['dataset']}/items",
                                {"name": name, "url": f"http://example.com/{name}",
                                 "mimetype": "image/png" if name.endswith("png") else "image/jpeg", "dir": folder})
        assert r.status_code == 201, r.text
    await elsewhere(platform)  # another dataset's items never match
    task = (await create_task(platform, filter={"dir": "/pngs", "mimetypePrefix": "image/png"})).json()
    assert task["totalItems"] == 2
    r = await platform.post(f"/api/v1/tasks/{task['id']}/items", {"filter": {"dir": "/pngs"}})
    assert r.status_code == 200 and r.json()["summary"] == {"added": 1} and r.json()["totalItems"] == 3
    r = await platform.post(f"/api/v1/tasks/{task['id']}/items/remove", {"filter": {"namePrefix": "a."}})
    assert r.status_code == 200 and r.json()["totalItems"] == 2
    everything = (await create_task(platform, name="all")).json()
    assert everything["totalItems"] == len(items) + 3
