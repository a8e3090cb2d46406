"""Every accepted command resolves: a repeated request answers its first outcome, a refusal
past the wait ends refused at the operation the client was given, a bulk's progress URL
answers from the moment it is handed out, Auto next moves on however slow the classify, and
a fresh pulling task hands out its first item."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.e2e.test_tasks import assignments, create_task, items_of
from tests.e2e.test_workflow import api, bulk_items, move_on, set_workflow, team  # noqa: F401 - fixture
from tests.e2e.workflow_platform import workflow_platform

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"
JEANS = "men's clothes.jeans"


@pytest.fixture
async def platform(settings, monkeypatch):
    async with workflow_platform(settings, monkeypatch) as p:
        yield p


def slow(platform) -> None:
    """From now on every answer comes from the slow path: 202 and an operation to follow."""
    platform.gateway.bus.wait_s = 0


async def resolved(platform, url: str, token: str | None = None, timeout: float = 15.0) -> dict:
    """Poll an operation (or progress) URL until it is no longer pending or running."""
    path = url.removeprefix("http://testserver")
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        r = await platform.get(path, token=token)
        assert r.status_code == 200, r.text
        body = r.json()
        if body.get("status") not in ("pending", "running") and body.get("state") not in ("pending", "running"):
            return body
        assert asyncio.get_running_loop().time() < deadline, f"still {body} after {timeout} s"
        await asyncio.sleep(0.05)


async def own_items(platform, task_id: str, email: str) -> list[str]:
    return await items_of(platform, (await assignments(platform, task_id))[email]["id"])


async def classify(platform, item: str, token: str, key: str | None = None, **body):
    headers = {"Idempotency-Key": key} if key else {}
    return await platform.post(f"/api/v1/items/{item}/annotations", {"label": POLO} | body, token=token,
                               headers=headers)


# --- 1. a repeated in-task classify ------------------------------------------------------------


async def test_a_repeated_in_task_classify_answers_the_first_annotation(platform, team):
    tokens, _ = team
    task = (await create_task(platform, assignees=["ann1@example.com"])).json()
    item = (await own_items(platform, task["id"], "ann1@example.com"))[0]
    key = str(uuid.uuid4())
    first = await classify(platform, item, tokens["ann1"], key, taskId=task["id"])
    again = await classify(platform, item, tokens["ann1"], key, taskId=task["id"])
    assert first.status_code == 201 and again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    page = (await platform.get(f"/api/v1/items/{item}/annotations")).json()
    assert [a["id"] for a in page["annotations"]] == [first.json()["id"]]


async def test_a_repeated_in_task_classify_with_auto_next_moves_on_once(platform, team):
    tokens, _ = team
    task = (await create_task(platform, assignees=["ann1@example.com"])).json()
    await set_workflow(platform, task["id"], tokens["ann1"])
    item = (await move_on(platform, task["id"], token=tokens["ann1"])).json()["nextItem"]["id"]
    key = str(uuid.uuid4())
    first = await classify(platform, item, tokens["ann1"], key, taskId=task["id"])
    assert first.status_code == 201, first.text
    nxt = first.json()["nextItem"]["id"]
    again = await classify(platform, item, tokens["ann1"], key, taskId=task["id"])
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["nextItem"]["id"] == nxt

    async def in_hand() -> str | None:
        return (await platform.get(api(task["id"], "queue-state"), token=tokens["ann1"])).json().get("currentItemId")

    await asyncio.sleep(0.3)  # a second move, if any, would have landed by now
    assert await in_hand() == nxt


async def test_a_repeated_request_past_the_wait_answers_the_same_operation_which_resolves(platform, team):
    tokens, _ = team
    task = (await create_task(platform, assignees=["ann1@example.com"])).json()
    item = (await own_items(platform, task["id"], "ann1@example.com"))[0]
    slow(platform)
    key = str(uuid.uuid4())
    first = await classify(platform, item, tokens["ann1"], key, taskId=task["id"])
    again = await classify(platform, item, tokens["ann1"], key, taskId=task["id"])
    assert again.status_code in (201, 202), again.text
    if again.status_code == 202:
        assert again.json()["operationId"] == first.json()["operationId"]
        assert (await resolved(platform, again.json()["url"], tokens["ann1"]))["status"] == "succeeded"
    page = (await platform.get(f"/api/v1/items/{item}/annotations")).json()
    assert len(page["annotations"]) == 1


# --- 2. a refused in-task classify past the wait ------------------------------------------------


async def test_a_refused_in_task_classify_answered_202_ends_refused_with_the_reason(platform, team):
    tokens, _ = team
    task = (await create_task(platform)).json()
    theirs = (await own_items(platform, task["id"], "ann2@example.com"))[0]
    slow(platform)
    r = await classify(platform, theirs, tokens["ann1"], taskId=task["id"])
    assert r.status_code == 202, r.text
    done = await resolved(platform, r.json()["url"], tokens["ann1"])
    assert done["status"] == "rejected" and done["error"]["reason"] == "forbidden", done
    assert "assign" in done["error"]["message"]
    assert (await platform.get(f"/api/v1/items/{theirs}/annotations")).json()["annotations"] == []


# --- 3. a bulk's progress URL ------------------------------------------------------------------


async def test_a_refused_bulk_answered_202_ends_refused_at_its_progress_url(platform, team):
    _, items = team
    task = (await create_task(platform, allocation="pulling", batchSize=3, maxBatchWorkload=5)).json()
    slow(platform)
    r = await platform.post(api(task["id"], "bulk-classify"), {"label": POLO, "itemIds": items})
    assert r.status_code == 202, r.text
    assert r.json()["operationId"] == r.json()["id"]
    done = await resolved(platform, r.json()["url"])
    assert done["state"] == "refused" and done["error"]["reason"] == "conflict", done
    assert "pulling" in done["error"]["message"]


async def test_an_accepted_bulks_progress_url_answers_pending_before_its_record_exists(platform, team):
    _, items = team
    task = (await create_task(platform)).json()
    slow(platform)
    r = await platform.post(api(task["id"], "bulk-classify"), {"label": POLO, "itemIds": items})
    assert r.status_code == 202, r.text
    first = await platform.get(r.json()["url"].removeprefix("http://testserver"))
    assert first.status_code == 200, first.text
    assert first.json()["state"] in ("pending", "running", "completed")
    done = await resolved(platform, r.json()["url"])
    assert done["state"] == "completed" and done["done"] == len(items)


# --- 4. Auto next however slow the classify ------------------------------------------------------


async def test_a_classify_answered_202_with_auto_next_still_moves_on_and_its_operation_carries_the_next_item(
        platform, team):
    tokens, _ = team
    task = (await create_task(platform, assignees=["ann1@example.com"])).json()
    await set_workflow(platform, task["id"], tokens["ann1"])
    item = (await move_on(platform, task["id"], token=tokens["ann1"])).json()["nextItem"]["id"]
    slow(platform)
    r = await classify(platform, item, tokens["ann1"], taskId=task["id"])
    assert r.status_code == 202, r.text
    done = await resolved(platform, r.json()["url"], tokens["ann1"])
    assert done["status"] == "succeeded", done
    assert done["result"]["annotation"]["label"] == POLO
    nxt = done["nextItem"]
    assert nxt is not None and nxt["id"] != item
    assert done["workflow"]["fromItemId"] == item and done["workflow"]["completedItemId"] == item
    state = (await platform.get(api(task["id"], "queue-state"), token=tokens["ann1"])).json()
    assert state["currentItemId"] == nxt["id"]


async def test_a_refused_classify_with_auto_next_does_not_move_on(platform, team):
    tokens, _ = team
    task = (await create_task(platform)).json()
    await set_workflow(platform, task["id"], tokens["ann1"])
    mine = (await move_on(platform, task["id"], token=tokens["ann1"])).json()["nextItem"]["id"]
    theirs = (await own_items(platform, task["id"], "ann2@example.com"))[0]
    slow(platform)
    r = await classify(platform, theirs, tokens["ann1"], taskId=task["id"])
    assert r.status_code == 202, r.text
    assert (await resolved(platform, r.json()["url"], tokens["ann1"]))["status"] == "rejected"
    await asyncio.sleep(0.3)
    state = (await platform.get(api(task["id"], "queue-state"), token=tokens["ann1"])).json()
    assert state["currentItemId"] == mine


# --- 5. a fresh pulling task ---------------------------------------------------------------------


async def test_the_first_next_item_of_a_fresh_pulling_task_is_an_item(platform, team):
    tokens, _ = team
    await bulk_items(platform, 40)
    for _ in range(3):
        task = (await create_task(platform, allocation="pulling", batchSize=3, maxBatchWorkload=5)).json()
        for who in ("ann1", "ann2"):
            r = await move_on(platform, task["id"], token=tokens[who])
            assert r.status_code == 200, r.text
            assert r.json()["nextItem"] is not None, r.json()


async def test_the_first_next_item_of_a_fresh_pulling_task_past_the_wait_resolves_to_an_item(platform, team):
    tokens, _ = team
    task = (await create_task(platform, allocation="pulling", batchSize=3, maxBatchWorkload=5)).json()
    slow(platform)
    r = await move_on(platform, task["id"], token=tokens["ann1"])
    assert r.status_code in (200, 202), r.text
    body = r.json() if r.status_code == 200 else (await resolved(platform, r.json()["url"], tokens["ann1"]))
    moved = body if r.status_code == 200 else body["result"]
    assert (moved.get("nextItemId") or moved.get("itemId")) is not None, body


# --- 9. settings availability --------------------------------------------------------------------


async def test_auto_complete_is_not_available_in_a_multi_class_task(platform, team):
    tokens, _ = team
    task = (await create_task(platform, singleClass=False)).json()
    view = (await platform.get(api(task["id"], "workflow-settings"), token=tokens["ann1"])).json()
    assert view["autoNextAvailable"] is False and view["autoCompleteAvailable"] is False


# --- a retry after the gateway died between claiming the key and publishing --------------------


async def _claimed_by_a_request_that_died(platform, token: str, path: str, body: dict, key: str) -> str:
    """Bind `key` as the first request did just before its gateway died: claimed, never published."""
    from gateway.dispatch import _fingerprint

    class Seen:  # the parts of the request the fingerprint reads
        scope = {"method": "POST"}
        url = type("U", (), {"path": path})()

    user = await platform.gateway.tokens.resolve(token)
    lost = uuid.uuid4().hex
    assert await platform.gateway.bus.claim(user.user_id, key, _fingerprint(Seen(), body), lost) is None
    return lost


@pytest.mark.parametrize("in_task", [False, True])
async def test_a_retry_publishes_a_command_whose_first_request_died_before_publishing_it(platform, team, in_task):
    tokens, _ = team
    task = (await create_task(platform, assignees=["ann1@example.com"])).json()
    item = (await own_items(platform, task["id"], "ann1@example.com"))[0]
    token = tokens["ann1"] if in_task else platform.token
    body = {"label": POLO} | ({"taskId": task["id"]} if in_task else {})
    path = f"/api/v1/items/{item}/annotations"
    key = str(uuid.uuid4())
    from gateway.schemas import ClassifyIn

    lost = await _claimed_by_a_request_that_died(platform, token, path, ClassifyIn(**body).model_dump(), key)
    r = await platform.post(path, body, token=token, headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.text
    assert r.headers["operation-id"] == lost and "idempotent-replayed" not in r.headers
    again = await platform.post(path, body, token=token, headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.json()["id"] == r.json()["id"]
    page = (await platform.get(f"/api/v1/items/{item}/annotations")).json()
    assert [a["id"] for a in page["annotations"]] == [r.json()["id"]]


async def test_a_retry_finds_an_outcome_stored_after_its_event_went_by(platform, team):
    """The services store an outcome and announce it at once, so a retry can come in after
    the event (which answered the first request) and before the record: it must find the
    record when it lands, not wait the whole wait for an event that has gone by."""
    tokens, _ = team
    task = (await create_task(platform, assignees=["ann1@example.com"])).json()
    item = (await own_items(platform, task["id"], "ann1@example.com"))[0]
    r = await platform.post(f"/api/v1/items/{item}/annotations", {"label": POLO}, token=platform.token)
    assert r.status_code == 201, r.text
    operations = platform.gateway.catalog.db.operations
    record = await operations.find_one_and_delete({"_id": r.headers["operation-id"]})
    assert record is not None

    async def lands_late() -> None:
        await asyncio.sleep(0.3)
        await operations.insert_one(record)

    late = asyncio.create_task(lands_late())
    started = asyncio.get_running_loop().time()
    found = await platform.gateway.bus.await_existing(r.headers["operation-id"])
    await late
    assert found is not None and found.annotation["id"] == r.json()["id"]
    assert asyncio.get_running_loop().time() - started < 2  # the wait here is 15 s
