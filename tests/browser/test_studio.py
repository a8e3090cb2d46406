"""The studio in headless Chromium against a live gateway: sign in, the task list, and
classifying in the studio by mouse and by keyboard alone (Auto next, Auto complete,
multi-class with the done key, undo), refusals shown with the server's words, and an item
taken meanwhile skipped. Every wait is for a condition, never a fixed time."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS, shot, sign_in
from tests.waiting import eventually

POLO = "men's clothes.polo shirts"
MENS = "men's clothes"


async def open_studio(page, task_id: str) -> None:
    await page.goto(f"/tasks/{task_id}/studio")
    await page.wait_for_selector("#studio[data-ready=true]")


async def on_item(page, item_id: str) -> None:
    """Wait until the stage shows `item_id` painted."""
    await page.wait_for_selector(f"#stage[data-painted='{item_id}']")


@pytest.fixture(scope="module")
async def world(live):
    """An annotator and a manager with passwords, and 40 uploaded images (each test takes
    its own slice: an item is in one task at a time here)."""
    await live.member("ann@example.com", "annotator")
    await live.member("mgr@example.com", "manager")
    items = await live.images(45)
    return {"items": items}


async def test_a_page_without_a_session_redirects_to_sign_in_and_signing_in_lists_the_tasks(
        page, live, world):
    task = await live.task(world["items"][:3], ["ann@example.com"], name="Shirts, first look")
    await page.goto(f"/tasks/{task['id']}/studio")
    await page.wait_for_url(lambda url: "/sign-in?next=" in url)
    await shot(page, "sign-in")
    await page.get_by_label("Email").fill("ann@example.com")
    await page.get_by_label("Password").fill("a long enough password")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_selector("#studio[data-ready=true]")  # back where it was going
    await page.goto("/")
    link = page.get_by_role("link", name="Shirts, first look")
    await link.wait_for()
    assert await link.get_attribute("href") == f"/tasks/{task['id']}/studio"
    await page.wait_for_selector("#tasks-status:has-text('assigned to you')")
    assert "Completed 0" in await page.locator("#tasks").inner_text()  # progress by status
    await shot(page, "home")
    assert not page.errors


async def test_classify_by_click_and_by_hotkey_shows_the_chip_and_the_list_entry(page, live, world):
    items = world["items"][3:5]
    task = await live.task(items, ["ann@example.com"], singleClass=False)
    await sign_in(page, "ann@example.com")
    await open_studio(page, task["id"])
    await on_item(page, items[0])
    await page.locator("#tree [role=treeitem][data-path=\"men's clothes.jeans\"]").click()
    await page.wait_for_selector("#chips .chip[data-label=\"men's clothes.jeans\"]")
    await page.keyboard.press("1")  # the first label in recipe order: men's clothes
    await page.wait_for_selector(f"#chips .chip[data-label=\"{MENS}\"]")
    entries = page.locator("#annotations .annotation")
    await entries.nth(1).wait_for()
    text = await page.locator("#annotations").inner_text()
    assert "jeans" in text and "ann@example.com" in text
    assert sorted(a["label"] for a in await live.annotations(items[0])) == \
        [MENS, "men's clothes.jeans"]
    await shot(page, "studio-multi-class")
    # type-ahead in the label tree, then Enter
    await page.locator("#tree").focus()
    await page.keyboard.type("dre")
    assert await page.locator("#filter").input_value() == "dre"
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#chips .chip[data-label=\"women's clothes.dresses\"]")
    # zoom by key on the image, and back to fit
    await page.locator("#stage").focus()
    await page.keyboard.press("+")
    await page.wait_for_selector("#stage[data-zoom='1.20']")
    await page.keyboard.press("0")
    await page.wait_for_selector("#stage[data-zoom='1.00']")
    # a lost connection is said as such
    await page.context.set_offline(True)
    try:
        await page.keyboard.press("4")
        await page.wait_for_selector("#toast:has-text('connection to the server is lost')")
    finally:
        await page.context.set_offline(False)
    assert not page.errors


async def test_auto_next_and_auto_complete_walk_twenty_items_by_keyboard_alone(page, live, world):
    items = world["items"][5:25]
    task = await live.task(items, ["ann@example.com"])
    await sign_in(page, "ann@example.com")
    await open_studio(page, task["id"])
    await on_item(page, items[0])
    await page.locator("#auto-next").focus()
    await page.keyboard.press("Space")  # Auto next on: only now is Auto complete offered
    complete = page.locator("#auto-complete")
    await complete.wait_for(state="visible")
    await complete.focus()
    await page.keyboard.press("Space")
    await page.wait_for_function("document.querySelector('#auto-complete').checked")
    assert (await live.get(f"/api/v1/tasks/{task['id']}/workflow-settings",
                           token=None)).json()["autoNext"] in (True, False)  # the owner's own
    await page.locator("#stage").focus()
    for k, item in enumerate(items):
        await on_item(page, item)
        if k == 1:
            await shot(page, "studio-auto-next")
        await page.keyboard.press("2")  # polo shirts
    await page.wait_for_selector("#empty:not([hidden])")  # nothing left to do

    async def all_completed() -> bool:
        return await live.statuses(task["id"]) == {i: "completed" for i in items}

    assert await eventually(all_completed)
    for item in (items[0], items[-1]):
        assert [a["label"] for a in await live.annotations(item)] == [POLO]
    assert not page.errors


async def test_required_attributes_are_asked_for_before_saving(page, live, world):
    recipe = (await live.get(f"/api/v1/recipes/{live.ids['recipe']}")).json()
    ontology = recipe["ontology"]
    for attribute in ontology["metadata"]["attributes"]:
        if attribute["key"] == "condition":
            attribute["optional"] = False
    r = await live.client.put(f"/api/v1/recipes/{live.ids['recipe']}/ontology", headers=live.auth(),
                              json={"roots": ontology["roots"],
                                    "attributes": ontology["metadata"]["attributes"]})
    assert r.status_code == 200, r.text
    try:
        items = world["items"][25:26]
        task = await live.task(items, ["ann@example.com"])
        await sign_in(page, "ann@example.com")
        await open_studio(page, task["id"])
        await on_item(page, items[0])
        await page.keyboard.press("5")  # dresses: condition is required
        toast = page.locator("#toast")
        await toast.wait_for(state="visible")
        assert "Condition is required" in await toast.inner_text()
        assert await live.annotations(items[0]) == []
        await page.get_by_label("Condition (required)").select_option("used")  # focus is there
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#chips .chip[data-label=\"women's clothes.dresses\"]")
        saved = await live.annotations(items[0])
        assert saved[0]["metadata"]["system"]["attributes"] == {"condition": "used"}
        await shot(page, "studio-attributes")
    finally:
        for attribute in ontology["metadata"]["attributes"]:
            attribute["optional"] = True
        await live.client.put(f"/api/v1/recipes/{live.ids['recipe']}/ontology", headers=live.auth(),
                              json={"roots": ontology["roots"],
                                    "attributes": ontology["metadata"]["attributes"]})


async def test_a_multi_class_item_gets_two_labels_and_the_done_key_completes_it_and_moves_on(
        page, live, world):
    items = world["items"][26:28]
    task = await live.task(items, ["ann@example.com"], singleClass=False)
    await sign_in(page, "ann@example.com")
    await open_studio(page, task["id"])
    await page.wait_for_selector("#auto-next:disabled")
    assert "single-class" in await page.locator("#auto-reason").inner_text()
    await on_item(page, items[0])
    await page.keyboard.press("2")
    await page.wait_for_selector(f"#chips .chip[data-label=\"{POLO}\"]")
    await page.keyboard.press("3")
    await page.wait_for_selector("#chips .chip[data-label=\"men's clothes.jeans\"]")
    await page.keyboard.press("Enter")  # done (the default key map's)
    await on_item(page, items[1])

    async def completed() -> bool:
        return (await live.statuses(task["id"]))[items[0]] == "completed"

    assert await eventually(completed)
    assert sorted(a["label"] for a in await live.annotations(items[0])) == \
        ["men's clothes.jeans", POLO]
    await page.keyboard.press("?")
    await page.wait_for_selector("#help[open]")
    assert "done" in await page.locator("#help-keys").inner_text()
    await shot(page, "studio-keys")
    await page.keyboard.press("Escape")
    assert not page.errors


async def test_change_and_remove_from_the_chip(page, live, world):
    items = world["items"][28:29]
    task = await live.task(items, ["ann@example.com"], singleClass=False)
    await sign_in(page, "ann@example.com")  # an annotator: changes in the task's context
    await open_studio(page, task["id"])
    await on_item(page, items[0])
    await page.keyboard.press("2")
    chip = page.locator(f"#chips .chip[data-label=\"{POLO}\"]")
    await chip.wait_for()
    await chip.get_by_role("button", name="Change polo shirts").click()
    await page.keyboard.press("3")  # the new label
    jeans = page.locator("#chips .chip[data-label=\"men's clothes.jeans\"]")
    await jeans.wait_for()
    assert await chip.count() == 0
    assert [a["label"] for a in await live.annotations(items[0])] == ["men's clothes.jeans"]
    await jeans.get_by_role("button", name="Remove jeans").click()
    await jeans.wait_for(state="detached")
    assert await live.annotations(items[0]) == []
    assert not page.errors


async def test_undo_takes_back_a_classify_that_moved_on_and_a_status_on_the_item(page, live, world):
    items = world["items"][29:32]
    task = await live.task(items, ["ann@example.com"])
    await sign_in(page, "ann@example.com")
    await open_studio(page, task["id"])
    await on_item(page, items[0])
    await page.locator("#auto-next").check()
    await page.locator("#auto-complete").check()
    await page.wait_for_function("document.querySelector('#auto-complete').checked")
    await page.locator("#stage").focus()
    await page.keyboard.press("2")
    await on_item(page, items[1])
    await page.keyboard.press("Control+z")  # back to the item just left, as it was
    await on_item(page, items[0])
    await page.wait_for_selector("#toast:has-text('Undone')")

    async def as_before() -> bool:
        return await live.annotations(items[0]) == [] and \
            (await live.statuses(task["id"]))[items[0]] is None

    assert await eventually(as_before)
    await page.keyboard.press("c")  # a status on this item, then undone
    await page.wait_for_selector("#statuses [data-status=completed][aria-pressed=true]")
    await page.keyboard.press("Control+z")
    await page.wait_for_selector("#statuses [data-status=completed][aria-pressed=false]")
    assert await eventually(as_before)
    assert not page.errors


async def test_refusals_show_the_servers_message_and_keep_the_annotator_on_the_item(
        page, live, world):
    items = world["items"][32:35]
    task = await live.task(items, ["ann@example.com"], allowNextOnlyOnDone=True)
    await sign_in(page, "ann@example.com")
    await open_studio(page, task["id"])
    await on_item(page, items[0])
    await page.keyboard.press("ArrowRight")  # no status yet: "next only on done" refuses
    toast = page.locator("#toast")
    await toast.wait_for(state="visible")
    refused = await live.post(f"/api/v1/tasks/{task['id']}/next-item", {"itemId": items[0]},
                              token=await live.new_user("ann@example.com"))
    assert refused.status_code >= 400 and refused.json()["detail"] in await toast.inner_text()
    await on_item(page, items[0])
    # the item goes to someone else meanwhile: classifying it is refused with the reason
    assignment = (await live.get(f"/api/v1/tasks/{task['id']}/assignments")).json()[0]["id"]
    r = await live.post(f"/api/v1/assignments/{assignment}/reassign", {"annotator": "mgr@example.com"})
    assert r.status_code in (200, 202), r.text

    async def reassigned() -> bool:
        rows = (await live.get(f"/api/v1/tasks/{task['id']}/assignments")).json()
        return "mgr@example.com" in [a["annotator"] for a in rows]

    assert await eventually(reassigned)
    await page.keyboard.press("Escape")
    await page.keyboard.press("2")
    await page.wait_for_function(
        "(before) => document.querySelector('#toast').textContent !== before",
        arg=await toast.inner_text())
    await shot(page, "studio-refused")
    assert await live.annotations(items[0]) == []
    assert not page.errors


async def test_an_item_taken_meanwhile_is_skipped(page, live, world):
    items = world["items"][35:39]
    task = await live.task(items, ["ann@example.com"])
    await sign_in(page, "ann@example.com")
    await open_studio(page, task["id"])
    await on_item(page, items[0])
    await page.wait_for_selector(f"#stage[data-feed=live][data-next='{items[1]}']")
    r = await live.post(f"/api/v1/tasks/{task['id']}/items/remove", {"itemIds": [items[1]]})
    assert r.status_code in (200, 202), r.text
    # the task feed tells the page: what comes next is read again
    await page.wait_for_selector(f"#stage[data-next='{items[2]}']")
    # a status given elsewhere shows on the item in hand
    r = await live.client.put(f"/api/v1/tasks/{task['id']}/items/{items[0]}/status",
                              json={"status": "discard"}, headers=live.auth())
    assert r.status_code == 200, r.text
    await page.wait_for_selector("#statuses [data-status=discard][aria-pressed=true]")
    await page.keyboard.press("ArrowRight")
    await on_item(page, items[2])  # the server's answer; the taken one never stays
    assert await page.locator("#stage").get_attribute("data-painted") == items[2]
    assert not page.errors


async def test_the_users_own_key_map_is_the_studios(page, live, world):
    token = await live.member("keys@example.com", "annotator")
    r = await live.client.put("/api/v1/users/me/keymap", headers=live.auth(token),
                              json={"bindings": {"label:2": "q", f"label:{POLO.split('.')[0]}.jeans": "w",
                                                 "status:completed": "c", "help": "?"}})
    assert r.status_code == 200, r.text
    items = world["items"][39:40]
    task = await live.task(items, ["keys@example.com"], singleClass=False)
    await sign_in(page, "keys@example.com")
    await open_studio(page, task["id"])
    await on_item(page, items[0])
    polo = page.locator(f"#tree [data-path=\"{POLO}\"] kbd")
    assert await polo.inner_text() == "q"
    assert await page.locator(f"#tree [data-path=\"{MENS}\"] kbd").count() == 0  # left out: no key
    await page.keyboard.press("1")  # not bound any more
    await page.keyboard.press("q")
    await page.wait_for_selector(f"#chips .chip[data-label=\"{POLO}\"]")
    await page.keyboard.press("w")
    await page.wait_for_selector("#chips .chip[data-label=\"men's clothes.jeans\"]")
    assert sorted(a["label"] for a in await live.annotations(items[0])) == \
        ["men's clothes.jeans", POLO]
    assert not page.errors


async def test_an_item_opened_by_its_address_or_a_thumbnail_is_shown_and_moving_on_goes_after_it(
        page, live, world):
    """The task browser opens `/tasks/{id}/studio?item=…`; the strip's thumbnails open their
    item; the address names the item shown, so a reload comes back to it."""
    items = world["items"][40:45]
    task = await live.task(items, ["ann@example.com"])
    await sign_in(page, "ann@example.com")
    await page.goto(f"/tasks/{task['id']}/studio?item={items[2]}")
    await page.wait_for_selector("#studio[data-ready=true]")
    await on_item(page, items[2])
    assert await page.locator("#position").inner_text() == "Item 3 of 5"
    await page.locator(f"#strip a[data-item-id='{items[4]}']").click()
    await on_item(page, items[4])
    await page.wait_for_url(lambda url: url.endswith(f"?item={items[4]}"))
    await page.reload()
    await page.wait_for_selector("#studio[data-ready=true]")
    await on_item(page, items[4])
    await page.locator(f"#strip a[data-item-id='{items[1]}']").focus()
    await page.keyboard.press("Enter")  # a thumbnail is a link: the keyboard opens it too
    await on_item(page, items[1])
    await page.get_by_role("button", name="Next").click()
    await on_item(page, items[2])  # the open item after the one opened, in work order
    assert not page.errors
