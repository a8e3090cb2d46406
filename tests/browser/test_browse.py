"""The tasks page, the task page, the task browser and bulk classification in headless
Chromium against a live gateway: open a task by double-click and browse; thumbnail size and
items per page kept after a reload; Ctrl+click, Shift+click and keyboard selection; all items
matching a filter across pages; Classify and Classify & Set Status (a custom status) with the
preview's counts, progress and undo; the tool off in a pulling task; an unallocated item
refused and shown; a 10,000-item "select all matching" bulk. Every wait is for a condition."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, Live, shot, sign_in, to_docs

POLO = "men's clothes.polo shirts"
MGR, ANN1, ANN2 = "boss@example.com", "ann1@example.com", "ann2@example.com"
REVIEW = {"action": "needs-review", "displayName": "Needs review", "color": "#9467bd"}
STATUSES = [{"action": "completed", "displayName": "Completed", "color": "#2ca02c"},
            {"action": "discard", "displayName": "Discard", "color": "#7f7f7f"}, REVIEW]


@pytest.fixture(scope="module")
async def world(live: Live) -> dict[str, Any]:
    """A manager and two annotators with passwords, and ten uploaded images whose stored
    documents are copied for the many items a test needs (same pixels, new ids and names)."""
    tokens = {MGR: await live.member(MGR, "manager")}
    for email in (ANN1, ANN2):
        tokens[email] = await live.member(email, "annotator")
    uploaded = await live.images(10, "orig")
    originals = [await live.catalog.db.items.find_one({"_id": i}) for i in uploaded]
    return {"originals": originals, "tokens": tokens}


async def copies(live: Live, world: dict[str, Any], n: int,
                 prefix: str | None = None) -> list[str]:
    """`n` new items (copies of the uploaded ones) in a folder of their own, in name order."""
    prefix = prefix or uuid.uuid4().hex[:6]
    base = uuid.uuid4().hex[:8]
    docs = [world["originals"][k % 10] | {
        "_id": f"{base}{k:016x}", "name": f"{prefix}-{k:05d}.png", "dir": f"/{prefix}",
        "filename": f"/{prefix}/{prefix}-{k:05d}.png"} for k in range(n)]
    for start in range(0, n, 2000):
        await live.catalog.db.items.insert_many(docs[start:start + 2000])
    return [d["_id"] for d in docs]


async def make_task(live: Live, items: list[str] | None = None,
                    assignees: tuple[str, ...] = (ANN1, ANN2), **over: Any) -> dict[str, Any]:
    """A task over `items` (or the filter in `over`), followed past the gateway's wait."""
    body = {"name": over.pop("name", f"task {uuid.uuid4().hex[:6]}"),
            "datasetId": live.ids["dataset"], "assignees": list(assignees)}
    body |= ({"itemIds": items} if items else {}) | over
    r = await live.post(f"/api/v1/projects/{live.ids['project']}/tasks", body)
    assert r.status_code in (200, 201, 202), r.text
    task = r.json()
    while "url" in task and "id" not in task:
        op = (await live.get("/" + task["url"].split("/", 3)[3])).json()
        if op["status"] != "pending":
            return op["result"]["task"]
        await asyncio.sleep(0.1)
    return task


async def set_status(live: Live, task_id: str, item: str, status: str) -> None:
    r = await live.client.put(f"/api/v1/tasks/{task_id}/items/{item}/status",
                              json={"status": status}, headers=live.auth())
    assert r.status_code == 200, r.text


async def labels_of(live: Live, item: str) -> list[str]:
    return sorted(a["label"] for a in await live.annotations(item))


async def browse(page: Any, task_id: str, query: str = "") -> None:
    await page.goto(f"/tasks/{task_id}/browse{query}")
    await page.wait_for_selector("#browse[data-ready=true]")


async def loaded(page: Any) -> int:
    return int(await page.locator("#browse").get_attribute("data-loaded") or 0)


async def reload_after(page: Any, before: int) -> None:
    await page.wait_for_function(
        f"Number(document.querySelector('#browse').dataset.loaded) > {before}")


def tile(page: Any, k: int) -> Any:
    return page.locator("#grid [role=option]").nth(k)


async def selected(page: Any) -> int:
    return int(await page.locator("#browse").get_attribute("data-selected"))


async def pick_label(page: Any, path: str) -> None:
    await page.locator(f"#bulk-tree [role=treeitem][data-path=\"{path}\"]").click()
    await page.wait_for_selector(f"#bulk-label[data-path=\"{path}\"]")


def keep(name: str) -> None:
    to_docs(ARTIFACTS / f"{name}.png", name)


async def test_the_tasks_page_lists_every_task_and_a_double_click_opens_it_then_browse(
        page, live, world):
    items = await copies(live, world, 12)
    task = await make_task(live, items, name="Spring catalogue", availableActions=STATUSES,
                           dueDate="2031-05-01T00:00:00Z")
    pulling = await make_task(live, await copies(live, world, 4), name="Returns queue",
                              allocation="pulling", batchSize=3, maxBatchWorkload=5)
    await set_status(live, task["id"], items[0], "needs-review")
    await sign_in(page, MGR)
    await page.wait_for_selector("main[data-ready=true]")
    row = page.locator(f".task-row[data-task-id='{task['id']}']")
    text = await row.inner_text()
    assert "allocation" in text.lower() and "single-class" in text
    assert ANN1 in text and ANN2 in text
    assert "Needs review 1" in text and "2031" in text
    other = page.locator(f".task-row[data-task-id='{pulling['id']}']")
    assert "pulling" in (await other.inner_text()).lower()
    await shot(page, "tasks-page")
    # Enter on a focused row opens it too
    await other.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#task[data-ready=true]")
    assert "pulling task" in await page.locator("#bulk-off").inner_text()
    await page.go_back()
    await page.wait_for_selector("main[data-ready=true]")
    await row.locator(".task-title").dblclick()
    await page.wait_for_url(f"**/tasks/{task['id']}")
    await page.wait_for_selector("#task[data-ready=true]")
    assert await page.locator("#bulk-off").is_hidden()
    assert await page.locator("#by-assignee tbody tr").count() == 2
    assert "Needs review 1" in await page.locator("#by-status").inner_text()
    custom = page.locator("#statuses [data-status=needs-review]")
    assert "custom" in (await custom.inner_text()).lower()
    assert "148, 103, 189" in await custom.evaluate("e => getComputedStyle(e).borderLeftColor")
    assert await page.locator("#studio-link").get_attribute("href") == f"/tasks/{task['id']}/studio"
    await shot(page, "task-page")
    await page.get_by_role("link", name="Browse task").click()
    await page.wait_for_selector("#browse[data-ready=true]")
    assert await page.locator("#grid [role=option]").count() == 12
    assert "12 items match" in await page.locator("#total").inner_text()
    first = tile(page, 0)
    assert await first.get_attribute("data-status") == "needs-review"
    await first.dblclick()  # opening an item goes to the studio on it
    await page.wait_for_url(f"**/tasks/{task['id']}/studio?item={items[0]}")
    await page.wait_for_selector(f"#stage[data-painted='{items[0]}']")  # on that item
    assert not page.errors


async def test_thumbnail_size_and_page_size_are_kept_after_a_reload(page, live, world):
    task = await make_task(live, await copies(live, world, 30))
    await sign_in(page, MGR)
    await browse(page, task["id"])
    assert await page.locator("#grid").get_attribute("data-size") == "128"
    await page.locator("#size").focus()
    await page.keyboard.press("ArrowRight")  # 128 -> 192
    await page.wait_for_selector("#browse[data-saved='192/50']")
    before = await loaded(page)
    await page.get_by_label("Items per page").select_option("25")
    await reload_after(page, before)
    await page.wait_for_selector("#browse[data-saved='192/25']")
    saved = (await live.get("/api/v1/users/me/preferences", token=world["tokens"][MGR])).json()
    assert saved == {"thumbnailSize": 192, "pageSize": 25}
    await page.reload()
    await page.wait_for_selector("#browse[data-ready=true]")
    assert await page.locator("#grid").get_attribute("data-size") == "192"
    assert await page.locator("#size-out").inner_text() == "192 px"
    assert await page.locator("#page-size").input_value() == "25"
    assert await page.locator("#grid [role=option]").count() == 25
    assert await page.locator("#page-info").inner_text() == "Page 1 of 2"
    width = await tile(page, 0).locator("img").evaluate("e => e.getBoundingClientRect().width")
    assert round(width) == 192
    # back to the defaults for the other tests of this user
    await page.locator("#size").focus()
    await page.keyboard.press("ArrowLeft")
    await page.get_by_label("Items per page").select_option("50")
    await page.wait_for_selector("#browse[data-saved='128/50']")
    assert not page.errors


async def test_ctrl_click_three_items_shift_click_a_range_and_the_keyboard(page, live, world):
    task = await make_task(live, await copies(live, world, 20))
    await sign_in(page, MGR)
    await browse(page, task["id"])
    for k in (1, 3, 5):
        await tile(page, k).click(modifiers=["Control"])
    assert await selected(page) == 3
    assert await page.locator("#sel-count").inner_text() == "3 selected"
    await tile(page, 3).click(modifiers=["Control"])  # Ctrl+click again: out
    assert await selected(page) == 2
    await tile(page, 9).click(modifiers=["Shift"])  # from the last Ctrl+clicked (3) to 9
    assert await selected(page) == 7
    ids_of = "ns => ns.map(n => n.dataset.id)"
    ids = await page.locator("#grid [aria-selected=true]").evaluate_all(ids_of)
    order = await page.locator("#grid [role=option]").evaluate_all(ids_of)
    assert ids == order[3:10]
    await tile(page, 12).click(modifiers=["Control", "Shift"])  # Ctrl+Shift adds a range
    assert await selected(page) == 10
    await tile(page, 0).click()  # a plain click: that one only
    assert await selected(page) == 1
    # keyboard: arrows move, Space toggles, Shift+arrows extend, Ctrl+A the page, Escape clears
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press("Space")
    assert await selected(page) == 2
    await page.keyboard.press("Shift+ArrowRight")
    await page.keyboard.press("Shift+ArrowRight")
    assert await selected(page) == 4
    focused = await page.evaluate("document.activeElement.dataset.id")
    assert focused == order[3]
    await page.keyboard.press("Escape")
    assert await selected(page) == 0
    await page.keyboard.press("Control+a")
    assert await selected(page) == 20
    assert "20 selected" in await page.locator("#sel-count").inner_text()
    # all matching, then one item out by Ctrl+click: the filter becomes its ids, less that one
    await page.get_by_role("button", name="Select all 20 matching").click()
    assert await page.locator("#sel-count").inner_text() == "All 20 matching items selected"
    await tile(page, 6).click(modifiers=["Control"])
    await page.wait_for_selector("#sel-count:text-is('19 selected')")
    assert await tile(page, 6).get_attribute("aria-selected") == "false"
    assert not page.errors


async def test_select_all_matching_a_status_filter_across_pages_then_classify_leaves_statuses(
        page, live, world):
    items = await copies(live, world, 60)
    task = await make_task(live, items)
    for item in items[::3]:
        await set_status(live, task["id"], item, "discard")
    await sign_in(page, MGR)
    await browse(page, task["id"])
    before = await loaded(page)
    await page.get_by_label("Status in this task").select_option("none")
    await reload_after(page, before)
    assert "40 items match" in await page.locator("#total").inner_text()
    await page.get_by_role("button", name="Select all 40 matching").click()
    assert await page.locator("#sel-count").inner_text() == "All 40 matching items selected"
    before = await loaded(page)
    await page.get_by_label("Items per page").select_option("25")
    await reload_after(page, before)
    await page.get_by_role("button", name="Next page").click()
    await page.wait_for_selector("#page-info:has-text('Page 2 of 2')")
    assert await page.locator("#grid [role=option][aria-selected=true]").count() == 15
    assert await selected(page) == 40
    await page.get_by_role("button", name="Classify…").click()
    await pick_label(page, POLO)
    await page.wait_for_selector("#bulk-preview[data-state=ready]")
    assert await page.locator("#bulk-preview").get_attribute("data-total") == "40"
    await page.locator("#bulk-classify").click()
    await page.wait_for_selector("#bulk-result[data-state=completed]", timeout=60_000)
    assert "40" in await page.locator("#bulk-result").inner_text()
    open_items = [i for k, i in enumerate(items) if k % 3]
    for item in (open_items[0], open_items[-1], items[0]):
        assert await labels_of(live, item) == ([POLO] if item in open_items else [])
    statuses = await live.statuses(task["id"])
    assert {statuses[i] for i in open_items} == {None}  # Classify leaves statuses alone
    assert {statuses[i] for i in items[::3]} == {"discard"}
    await page.get_by_role("button", name="Close (Esc)").click()
    await page.get_by_label("Items per page").select_option("50")
    await page.get_by_role("button", name="Clear filters").click()
    await page.wait_for_selector("#total:has-text('60 items match')")
    await page.wait_for_selector(f"#grid .chip[data-label=\"{POLO}\"]")
    for k in (1, 2, 4, 7):
        await tile(page, k).click(modifiers=["Control"])
    await shot(page, "browse-grid")
    keep("browse-grid")
    # the other filters, and their totals
    before = await loaded(page)
    await page.locator("#f-label").select_option("men's clothes")  # its children match too
    await reload_after(page, before)
    assert "40 items match" in await page.locator("#total").inner_text()
    for query, total in (("?annotated=false", 20), (f"?assignee={ANN1}", 30),
                         ("?name=-0001", 10), ("?annotated=true&status=discard", 0)):
        await browse(page, task["id"], query)
        assert f"{total} items match" in await page.locator("#total").inner_text(), query
        assert await page.locator("#grid [role=option]").count() == total
    assert not page.errors


async def test_classify_and_set_status_with_a_custom_status_preview_progress_and_undo(
        page, live, world):
    items = await copies(live, world, 10)
    task = await make_task(live, items, availableActions=STATUSES)
    r = await live.post(f"/api/v1/tasks/{task['id']}/bulk-classify",
                        {"itemIds": items[:2], "label": POLO})
    assert r.status_code == 200, r.text
    await set_status(live, task["id"], items[2], "discard")
    await sign_in(page, MGR)
    await browse(page, task["id"])
    for k in range(5):
        await tile(page, k).click(modifiers=["Control"])
    await page.keyboard.press("k")  # the classification tool
    await page.wait_for_selector("#bulk[open]")
    status = page.locator("#bulk-status")
    assert await status.input_value() == ""  # custom statuses: one is chosen, none preselected
    assert await status.locator("option[data-custom]").all_inner_texts() == ["Needs review"]
    await page.locator("#bulk-tree").focus()
    await page.keyboard.press("2")  # the second label in recipe order: polo shirts
    await page.wait_for_selector(f"#bulk-label[data-path=\"{POLO}\"]")
    await status.select_option("needs-review")
    await page.wait_for_selector("#bulk-preview[data-state=ready]:has-text('Needs review')")
    preview = page.locator("#bulk-preview")
    assert await preview.get_attribute("data-total") == "5"
    assert await preview.get_attribute("data-already") == "2"
    assert await preview.get_attribute("data-overwritten") == "1"
    assert await preview.get_attribute("data-would-change") == "5"
    said = await preview.inner_text()
    assert "3 items get men's clothes › polo shirts; 2 items already hold it" in said
    assert "Statuses that change to Needs review: no status (4), Discard (1)." in said
    await shot(page, "browse-bulk")
    keep("browse-bulk")
    await page.get_by_role("button", name="Classify & Set Status").click()
    await page.wait_for_selector("#bulk-progress:not([hidden])")
    await page.wait_for_selector("#bulk-result[data-state=completed]", timeout=60_000)
    assert await page.locator("#bulk-progress").get_attribute("data-done") == "5"
    assert await page.locator("#bulk-bar").evaluate("e => e.value === e.max")
    statuses = await live.statuses(task["id"])
    assert [statuses[i] for i in items[:6]] == ["needs-review"] * 5 + [None]
    assert await labels_of(live, items[4]) == [POLO]
    await shot(page, "browse-undo")
    keep("browse-undo")
    await page.wait_for_selector("#grid [data-status=needs-review] >> nth=4")  # the grid follows
    await set_status(live, task["id"], items[3], "discard")  # changed since: undo leaves it
    await page.get_by_role("button", name="Undo this bulk").click()
    await page.wait_for_selector("#bulk-result[data-state=undone]")
    report = await page.locator("#bulk-result").inner_text()
    assert "Undone" in report and "status changed since" in report
    conflict = page.locator(f"#bulk-result [data-item='{items[3]}']")
    assert (await conflict.inner_text()).endswith(f"-{3:05d}.png")
    statuses = await live.statuses(task["id"])
    assert [statuses[i] for i in items[:5]] == [None, None, "discard", "discard", None]
    assert await labels_of(live, items[0]) == [POLO]  # held it before the bulk: kept
    assert await labels_of(live, items[4]) == []
    await shot(page, "browse-undone")
    await conflict.click()  # shown in the grid
    await page.wait_for_selector(f"#grid [data-id='{items[3]}'][data-offender=true]")
    assert not page.errors


async def test_the_classification_tool_is_disabled_in_a_pulling_task_with_the_reason(
        page, live, world):
    task = await make_task(live, await copies(live, world, 6), allocation="pulling",
                           batchSize=3, maxBatchWorkload=5)
    await sign_in(page, MGR)
    await browse(page, task["id"])
    await tile(page, 0).click()
    assert await selected(page) == 1
    tool = page.get_by_role("button", name="Classify…")
    assert await tool.is_disabled()
    reason = await page.locator("#bulk-off").inner_text()
    assert "pulling task" in reason
    assert await tool.get_attribute("aria-describedby") == "bulk-off"
    await page.keyboard.press("k")
    assert not await page.locator("#bulk").is_visible()
    assert not page.errors


async def test_an_unallocated_item_is_refused_listed_and_shown_in_the_grid(page, live, world):
    items = await copies(live, world, 8)
    task = await make_task(live, items)
    await sign_in(page, MGR)
    await browse(page, task["id"])
    await page.locator("#grid").focus()
    await page.keyboard.press("Control+a")
    assert await selected(page) == 8
    # since the page was read, item 5 left its assignment: the selection holds an unallocated item
    r = await live.catalog.db.assignments.update_one(
        {"taskId": task["id"], "itemIds": items[5]}, {"$pull": {"itemIds": items[5]}})
    assert r.modified_count == 1
    await page.get_by_role("button", name="Classify…").click()
    await pick_label(page, POLO)
    error = page.locator("#bulk-error")
    offender = error.locator(f"[data-item='{items[5]}']")
    await offender.wait_for()  # refused already by the preview
    said = await error.inner_text()
    assert "1 selected item(s) are not allocated to an assignment of the task" in said
    assert await page.locator("#bulk-error").get_attribute("data-from") == "preview"
    await page.locator("#bulk-classify").click()  # and by the bulk itself
    await page.wait_for_selector("#bulk-error[data-from=bulk]:has-text('not allocated')")
    assert await page.locator("#bulk-result").inner_text() == ""
    assert (await offender.inner_text()).endswith(f"-{5:05d}.png")
    await shot(page, "browse-refused")
    await offender.click()
    await page.wait_for_selector(f"#grid [data-id='{items[5]}'][data-offender=true]")
    assert await page.evaluate("document.activeElement.dataset.id") == items[5]
    name = (await live.get(f"/api/v1/items/{items[5]}")).json()["name"]
    assert await page.locator("#f-name").input_value() == name
    for item in items:
        assert await labels_of(live, item) == []
    assert not page.errors


async def test_an_annotators_selection_with_someone_elses_items_is_refused_naming_them(
        page, live, world):
    items = await copies(live, world, 6)
    task = await make_task(live, items)
    theirs = set()
    for a in (await live.get(f"/api/v1/tasks/{task['id']}/assignments")).json():
        if a["annotator"] == ANN2:
            rows = (await live.get(f"/api/v1/assignments/{a['id']}/items")).json()["items"]
            theirs = {r["itemId"] for r in rows}
    assert theirs
    await sign_in(page, ANN1)
    await browse(page, task["id"])
    await page.locator("#grid").focus()
    await page.keyboard.press("Control+a")
    await page.keyboard.press("k")
    await pick_label(page, POLO)
    await page.wait_for_selector("#bulk-error[data-from=preview]:has-text('not open to you')")
    named = await page.locator("#bulk-error [data-item]").evaluate_all(
        "ns => ns.map(n => n.dataset.item)")
    assert set(named) == theirs
    await page.get_by_role("button", name="Classify & Set Status").click()
    await page.wait_for_selector("#bulk-error[data-from=bulk]:has-text('not open to you')")
    await page.locator("#bulk-tree").focus()
    await page.keyboard.press("Escape")  # from the label tree too, Escape closes the tool
    await page.wait_for_selector("#bulk", state="hidden")
    for item in items:
        assert await labels_of(live, item) == []
    assert not page.errors


async def test_a_10000_item_select_all_matching_bulk_reaches_done_with_every_item_changed(
        page, live, world):
    t0 = time.perf_counter()
    prefix = f"big{uuid.uuid4().hex[:4]}"
    items = await copies(live, world, 10_000, prefix)
    task = await make_task(live, filter={"dir": f"/{prefix}"}, assignees=(ANN1,))
    setup = time.perf_counter() - t0
    await sign_in(page, MGR)
    await browse(page, task["id"])
    assert "10,000 items match" in await page.locator("#total").inner_text()
    await page.get_by_role("button", name="Select all 10,000 matching").click()
    await page.get_by_role("button", name="Classify…").click()
    await pick_label(page, POLO)
    await page.wait_for_selector("#bulk-preview[data-state=ready]", timeout=60_000)
    assert await page.locator("#bulk-preview").get_attribute("data-total") == "10000"
    # every value the progress bar shows, to see it move (the feed's BulkProgressed)
    await page.evaluate("""() => { window.seen = []; new MutationObserver(() =>
        window.seen.push(Number(document.querySelector('#bulk-progress').dataset.done)))
        .observe(document.querySelector('#bulk-progress'), {attributes: true}); }""")
    t1 = time.perf_counter()
    # Classify & Set Status: completed is preselected (no custom statuses)
    await page.get_by_role("button", name="Classify & Set Status").click()
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # a picture of the bar midway, when there is one
        await page.wait_for_function("""() => { const d = Number(document.querySelector(
            '#bulk-progress').dataset.done); return d > 0 && d < 10000; }""", timeout=20_000)
        await shot(page, "browse-progress")
    await page.wait_for_selector("#bulk-result[data-state=completed]", timeout=180_000)
    bulk = time.perf_counter() - t1
    assert "10,000" in await page.locator("#bulk-result").inner_text()
    seen = await page.evaluate("window.seen")
    assert any(0 < k < 10_000 for k in seen), f"the bar went {seen}"
    view = (await live.get(f"/api/v1/tasks/{task['id']}")).json()
    assert view["totalItems"] == 10_000 and view["itemStatus"]["actions"] == {"completed": 10_000}
    db = live.catalog.db
    ours = {"$gte": items[0], "$lte": items[-1]}
    classified = await db.annotations.count_documents(
        {"itemId": ours, "label": POLO, "_deleted": {"$exists": False}})
    assert classified == 10_000
    print(f"10,000 items: setup {setup:.1f} s, bulk from the page {bulk:.1f} s")
    assert not page.errors
