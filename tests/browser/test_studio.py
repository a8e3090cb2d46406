"""The studio in headless Chromium against a live gateway: sign in, the task list, and
classifying in the studio by mouse and by keyboard alone (Auto next, Auto complete,
multi-class with the done key, undo), refusals shown with the server's words, and an item
taken meanwhile skipped. Every wait is for a condition, never a fixed time."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tests.browser.conftest import ARTIFACTS, shot, sign_in

POLO = "men's clothes.polo shirts"
MENS = "men's clothes"
DOCS = Path(__file__).parents[2] / "docs"


async def eventually(check, timeout: float = 15.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def open_studio(page, task_id: str) -> None:
    await page.goto(f"/tasks/{task_id}/studio")
    await page.wait_for_selector("#studio[data-ready=true]")


async def on_item(page, item_id: str) -> None:
    """Wait until the stage shows `item_id` painted."""
    await page.wait_for_selector(f"#stage[data-painted='{item_id}']")


@pytest.fixture(scope="module")
async def world(live):
    """An annotator and a manager with passwords, and 24 uploaded images."""
    await live.member("ann@example.com", "annotator")
    await live.member("mgr@example.com", "manager")
    items = await live.images(24)
    return {"items": items}


async def test_a_page_without_a_session_redirects_to_sign_in_and_signing_in_lists_the_tasks(
        page, live, world):
    task = await live.task(world["items"][:3], ["ann@example.com"], name="Shirts, first look")
    await page.goto(f"/tasks/{task['id']}/studio")
    await page.wait_for_url(lambda url: "/sign-in?next=" in url)
    await page.get_by_label("Email").fill("ann@example.com")
    await page.get_by_label("Password").fill("a long enough password")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_selector("#studio[data-ready=true]")  # back where it was going
    await page.goto("/")
    link = page.get_by_role("link", name="Shirts, first look")
    await link.wait_for()
    assert await link.get_attribute("href") == f"/tasks/{task['id']}/studio"
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
    assert not page.errors
