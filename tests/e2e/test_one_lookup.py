"""The guard looks a request's resource and the caller's membership up once, and the handler
reads them from the request's Grant (gateway.guards) instead of looking them up again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.e2e.test_tasks import POLO, add_member, assignments, create_task, register_items

pytestmark = pytest.mark.e2e


@contextmanager
def counted(platform) -> Iterator[Counter]:
    """Counts the gateway's reads of memberships, cached documents (a membership reads its
    project) and tasks meanwhile."""
    access, tasks = platform.gateway.access, platform.gateway.tasks
    seen: Counter = Counter()
    membership, cached, task = access.membership, access.cached, tasks.task

    async def counting_membership(user: Any, project_id: str) -> Any:
        seen["membership"] += 1
        return await membership(user, project_id)

    async def counting_cached(collection: str, doc_id: str) -> Any:
        seen[collection] += 1
        return await cached(collection, doc_id)

    async def counting_task(task_id: str) -> Any:
        seen["tasks"] += 1
        return await task(task_id)

    access.membership, access.cached, tasks.task = counting_membership, counting_cached, counting_task
    try:
        yield seen
    finally:
        del access.membership, access.cached, tasks.task


async def test_an_item_read_looks_the_item_its_dataset_and_the_membership_up_once(platform):
    item = platform.ids["item"]
    with counted(platform) as seen:
        r = await platform.get(f"/api/v1/items/{item}")
    assert r.status_code == 200, r.text
    assert seen == Counter({"membership": 1, "projects": 1, "items": 1, "datasets": 1})


async def test_a_classify_outside_a_task_looks_each_thing_up_once(platform):
    item = platform.ids["item"]
    with counted(platform) as seen:
        r = await platform.post(f"/api/v1/items/{item}/annotations", {"label": POLO})
    assert r.status_code == 201, r.text
    assert seen["membership"] == seen["projects"] == seen["items"] == seen["datasets"] == 1


async def test_a_status_set_in_a_task_looks_the_task_and_the_membership_up_once(platform):
    token = await add_member(platform, "ann1@example.com", "annotator")
    await add_member(platform, "ann2@example.com", "annotator")
    await register_items(platform, 3)
    task = (await create_task(platform)).json()
    mine = (await assignments(platform, task["id"]))["ann1@example.com"]
    first = (await platform.get(f"/api/v1/assignments/{mine['id']}/items", token=token)).json()
    item = first["items"][0]["itemId"]
    with counted(platform) as seen:
        r = await platform.request("PUT", f"/api/v1/tasks/{task['id']}/items/{item}/status",
                                   token=token, json={"status": "completed"})
    assert r.status_code == 200, r.text
    assert seen == Counter({"membership": 1, "projects": 1, "tasks": 1})


@contextmanager
def asked(platform) -> Iterator[list[str]]:
    """The reads the gateway asks of the task service meanwhile, by name."""
    owner = platform.gateway.tasks.owner
    names: list[str] = []
    page = owner.page

    async def counting_page(name: str, *args: Any, **kwargs: Any) -> Any:
        names.append(name)
        return await page(name, *args, **kwargs)

    owner.page = counting_page
    try:
        yield names
    finally:
        del owner.page


async def test_an_item_view_and_a_task_view_ask_the_task_service_once(platform):
    """Each view's reads of the task service's data go in one ask: the item's task refs
    (who holds it, its statuses there), and the task with its assignments and progress."""
    await add_member(platform, "ann1@example.com", "annotator")
    ids = await register_items(platform, 2)
    task = (await create_task(platform, assignees=["ann1@example.com"])).json()
    r = await platform.request("PUT", f"/api/v1/tasks/{task['id']}/items/{ids[0]}/status", json={"status": "completed"})
    assert r.status_code == 200, r.text
    before = (await platform.get(f"/api/v1/tasks/{task['id']}")).json()  # the guard's task is cached from here
    with asked(platform) as names:
        item = await platform.get(f"/api/v1/items/{ids[0]}")
    assert item.status_code == 200, item.text
    assert names == ["item_refs"]
    refs = item.json()["metadata"]["system"]["refs"]
    assert {r["type"] for r in refs} == {"task", "assignment"}
    assert refs[0]["metadata"]["status"] == "completed"
    with asked(platform) as names:
        view = await platform.get(f"/api/v1/tasks/{task['id']}")
    assert view.status_code == 200, view.text
    assert names == ["task_view"]
    assert view.json() == before
