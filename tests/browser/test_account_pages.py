"""The account pages in Chromium: an invitation accepted in the page signs the invitee in,
a sign-in link signs in once, a reset link sets a new password, and a used link says so."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from gateway.admin import create_owner
from tests.browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a fresh long password"


def path_of(url: str) -> str:
    return urlparse(url).path


async def test_an_invitation_accepted_in_the_page_signs_the_invitee_in_and_a_used_one_says_so(page, live):
    added = await live.post(f"/api/v1/projects/{live.ids['project']}/members",
                            {"email": "invited@example.com", "role": "annotator"})
    assert added.status_code in (200, 201), added.text
    link = path_of(added.json()["invitation"]["url"])
    await page.goto(link)
    await page.get_by_label("Display name").fill("Invited Person")
    await page.get_by_label("New password").fill(NEW_PASSWORD)
    await shot(page, "invitation")
    await page.get_by_role("button", name="Accept and sign in").click()
    await page.wait_for_url(lambda url: urlparse(url).path == "/")
    await page.wait_for_selector("text=invited@example.com")
    await page.goto(link)
    assert "used" in (await page.locator("main").inner_text()).lower()
    await shot(page, "invitation-used")
    assert not page.errors


async def test_a_sign_in_link_signs_in_once(page, live):
    url = await create_owner(live.settings, "linked@example.com", "Linked")
    await page.goto(path_of(url))
    await shot(page, "sign-in-link")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda u: urlparse(u).path == "/")
    await page.wait_for_selector("text=linked@example.com")
    assert not page.errors


async def test_a_reset_link_sets_a_new_password_in_the_page(page, live):
    await live.member("forgetful@example.com", "annotator")
    user = await live.catalog.db.users.find_one({"email": "forgetful@example.com"})
    reset = await live.post(f"/api/v1/projects/{live.ids['project']}/members/{user['_id']}/password-reset")
    assert reset.status_code == 201, reset.text
    await page.goto(path_of(reset.json()["url"]))
    await page.get_by_label("New password").fill(NEW_PASSWORD)
    await shot(page, "password-reset")
    await page.get_by_role("button", name="Set the password and sign in").click()
    await page.wait_for_url(lambda u: urlparse(u).path == "/")
    await page.context.clear_cookies()
    await sign_in(page, "forgetful@example.com", NEW_PASSWORD)
    await page.wait_for_selector("text=forgetful@example.com")
    assert not page.errors
