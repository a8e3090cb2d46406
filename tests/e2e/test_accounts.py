"""Accounts over HTTP with cookies: invitations, password sign-in and out, browser sessions
with CSRF, throttling, reset and sign-in links, and a removed member's session on another
gateway replica."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from gateway.admin import create_owner
from shared.contracts.envelope import utcnow
from tests.platform import gateway_replica, running_platform

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"
PASSWORD = "correct horse battery"


@contextlib.asynccontextmanager
async def browser(platform) -> AsyncIterator[httpx.AsyncClient]:
    """A client of its own cookie jar, on the same gateway as the platform's."""
    async with httpx.AsyncClient(transport=platform.client._transport,
                                 base_url="http://testserver", timeout=30) as client:
        yield client


def csrf(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies["clf_csrf"]}


def secret_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def invite(platform, email: str, role: str = "annotator") -> dict:
    r = await platform.post(f"/api/v1/projects/{platform.ids['project']}/members",
                            {"email": email, "role": role})
    assert r.status_code == 201, r.text
    return r.json()


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/session", json={"email": email, "password": password})


async def test_an_invited_annotator_accepts_signs_in_classifies_in_a_task_and_signs_out(platform):
    added = await invite(platform, "ivy@example.com")
    assert added["role"] == "annotator" and added["invitation"]["url"].startswith(
        platform.settings.public_url)
    secret = secret_of(added["invitation"]["url"])
    page = await platform.client.get(f"/invitations/{secret}")
    assert page.status_code == 200 and "ivy@example.com" in page.text and "shop" in page.text

    async with browser(platform) as ivy:
        accepted = await ivy.post(f"/api/v1/invitations/{secret}/accept",
                                  json={"displayName": "Ivy", "password": PASSWORD})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["name"] == "Ivy"
        set_cookie = accepted.headers.get_list("set-cookie")
        session = next(c for c in set_cookie if c.startswith("clf_session="))
        assert "HttpOnly" in session and "SameSite=lax" in session.replace("Lax", "lax")
        assert (await ivy.get("/api/v1/users/me")).json()["email"] == "ivy@example.com"
    again = await platform.client.post(f"/api/v1/invitations/{secret}/accept",
                                       json={"displayName": "Eve", "password": "another password"})
    assert again.status_code == 410 and "already used" in again.json()["detail"]

    task = await platform.post(f"/api/v1/projects/{platform.ids['project']}/tasks",
                               {"name": "label shirts", "datasetId": platform.ids["dataset"],
                                "itemIds": [platform.ids["item"]], "assignees": ["ivy@example.com"]})
    assert task.status_code == 201, task.text
    async with browser(platform) as ivy:
        assert (await sign_in(ivy, "ivy@example.com")).status_code == 200
        cookie = ivy.cookies["clf_session"]
        made = await ivy.post(f"/api/v1/items/{platform.ids['item']}/annotations",
                              json={"label": POLO, "taskId": task.json()["id"]}, headers=csrf(ivy))
        assert made.status_code == 201, made.text
        assert made.json()["creator"] == "ivy@example.com"
        outside = await ivy.post(f"/api/v1/items/{platform.ids['item']}/annotations",
                                 json={"label": POLO}, headers=csrf(ivy))
        assert outside.status_code == 403  # the annotator's role, as with a token

        out = await ivy.delete("/api/v1/session", headers=csrf(ivy))
        assert out.status_code == 204
        assert "clf_session" not in ivy.cookies
    stale = await platform.client.get("/api/v1/users/me", headers={"Cookie": f"clf_session={cookie}"})
    assert stale.status_code == 401 and "session has ended" in stale.json()["detail"]


async def test_a_write_in_a_session_needs_the_csrf_token_and_a_bearer_token_does_not(platform):
    await invite(platform, "carl@example.com", "manager")
    async with browser(platform) as carl:
        user = await platform.catalog.ensure_user("carl@example.com")
        await platform.gateway.accounts.set_password(user["id"], PASSWORD)
        assert (await sign_in(carl, "carl@example.com")).status_code == 200
        item = f"/api/v1/items/{platform.ids['item']}/annotations"
        missing = await carl.post(item, json={"label": POLO})
        assert missing.status_code == 403 and "x-csrf-token" in missing.json()["detail"]
        wrong = await carl.post(item, json={"label": POLO}, headers={"X-CSRF-Token": "0" * 128})
        assert wrong.status_code == 403 and "does not match" in wrong.json()["detail"]
        assert (await carl.get(item)).status_code == 200  # reads need no token
        made = await carl.post(item, json={"label": POLO}, headers=csrf(carl))
        assert made.status_code == 201
        token = await carl.post("/api/v1/users/me/tokens", json={"name": "script"}, headers=csrf(carl))
        assert token.status_code == 201
    by_script = await platform.post(item, {"label": POLO}, token=token.json()["token"])
    assert by_script.status_code == 201  # a bearer token, no CSRF, exactly as before


async def test_wrong_passwords_are_throttled_per_account_and_never_tell_whether_an_email_exists(platform):
    await invite(platform, "dora@example.com")
    user = await platform.catalog.ensure_user("dora@example.com")
    await platform.gateway.accounts.set_password(user["id"], PASSWORD)
    attempts = platform.settings.signin_attempts
    async with browser(platform) as client:
        unknown = await sign_in(client, "nobody@example.com", "whatever it is")
        wrong = await sign_in(client, "dora@example.com", "not the password")
        assert unknown.status_code == wrong.status_code == 401
        assert unknown.json()["detail"] == wrong.json()["detail"] == "wrong email or password"
        for _ in range(attempts - 1):
            assert (await sign_in(client, "dora@example.com", "still wrong")).status_code == 401
        throttled = await sign_in(client, "dora@example.com")  # even the right password waits
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
        assert "too many failed sign-ins" in throttled.json()["detail"]
        assert "clf_session" not in client.cookies
    keys = await platform.gateway.redis.keys(f"{platform.settings.namespace}:signin-failed:account:*")
    await platform.gateway.redis.delete(*keys)  # the window ended
    async with browser(platform) as client:
        assert (await sign_in(client, "dora@example.com")).status_code == 200


async def test_too_short_passwords_and_used_expired_or_revoked_invitations_are_refused(platform):
    first = (await invite(platform, "erin@example.com"))["invitation"]
    short = await platform.client.post(f"/api/v1/invitations/{secret_of(first['url'])}/accept",
                                       json={"displayName": "Erin", "password": "short"})
    assert short.status_code == 422 and "too short" in short.json()["detail"]
    listed = (await platform.get(f"/api/v1/projects/{platform.ids['project']}/invitations")).json()
    assert [i["email"] for i in listed["items"]] == ["erin@example.com"]  # nothing was used
    assert "url" not in listed["items"][0]

    path = f"/api/v1/projects/{platform.ids['project']}/invitations/{first['id']}"
    reissued = await platform.post(f"{path}/reissue")
    assert reissued.status_code == 201, reissued.text
    old = await platform.client.get(f"/api/v1/invitations/{secret_of(first['url'])}")
    assert old.status_code == 410 and "revoked" in old.json()["detail"]
    new = reissued.json()["invitation"]
    revoked = await platform.request("DELETE", f"/api/v1/projects/{platform.ids['project']}"
                                     f"/invitations/{new['id']}")
    assert revoked.status_code == 204
    gone = await platform.client.post(f"/api/v1/invitations/{secret_of(new['url'])}/accept",
                                      json={"displayName": "Erin", "password": PASSWORD})
    assert gone.status_code == 410 and "revoked" in gone.json()["detail"]
    page = await platform.client.get(f"/invitations/{secret_of(new['url'])}")
    assert page.status_code == 410

    late = (await invite(platform, "finn@example.com"))["invitation"]
    await platform.catalog.db.links.update_one({"linkId": late["id"]},
                                               {"$set": {"expiresAt": utcnow() - timedelta(seconds=1)}})
    expired = await platform.client.post(f"/api/v1/invitations/{secret_of(late['url'])}/accept",
                                         json={"displayName": "Finn", "password": PASSWORD})
    assert expired.status_code == 410 and "expired" in expired.json()["detail"]
    unknown = await platform.client.post("/api/v1/invitations/not-a-secret/accept",
                                         json={"displayName": "X", "password": PASSWORD})
    assert unknown.status_code == 404


async def test_a_member_with_an_account_gets_no_invitation(platform):
    await platform.new_user("gil@example.com")  # has a token: an account
    added = await invite(platform, "gil@example.com")
    assert "invitation" not in added


async def test_an_owner_issues_a_password_reset_that_ends_the_members_other_sessions(platform):
    added = await invite(platform, "hana@example.com")
    accepted = await platform.client.post(
        f"/api/v1/invitations/{secret_of(added['invitation']['url'])}/accept",
        json={"displayName": "Hana", "password": PASSWORD})
    assert accepted.status_code == 200
    platform.client.cookies.clear()
    async with browser(platform) as before:
        assert (await sign_in(before, "hana@example.com")).status_code == 200
        reset = await platform.post(f"/api/v1/projects/{platform.ids['project']}/members/"
                                    f"{added['userId']}/password-reset")
        assert reset.status_code == 201, reset.text
        secret = secret_of(reset.json()["url"])
        async with browser(platform) as after:
            done = await after.post(f"/api/v1/password-resets/{secret}",
                                    json={"password": "a brand new password"})
            assert done.status_code == 200, done.text
            assert (await after.get("/api/v1/users/me")).status_code == 200
        assert (await before.get("/api/v1/users/me")).status_code == 401
    async with browser(platform) as client:
        assert (await sign_in(client, "hana@example.com")).status_code == 401
        assert (await sign_in(client, "hana@example.com", "a brand new password")).status_code == 200
    reused = await platform.client.post(f"/api/v1/password-resets/{secret}",
                                        json={"password": "yet another password"})
    assert reused.status_code == 410
    stranger = await platform.post(f"/api/v1/projects/{platform.ids['project']}/members/"
                                   "000000000000000000000000/password-reset")
    assert stranger.status_code == 404


async def test_a_sign_in_link_works_once_and_sign_out_everywhere_ends_every_session(platform):
    url = await create_owner(platform.settings, "first@example.com", "First")
    secret = secret_of(url)
    assert (await platform.client.get(f"/sign-in-links/{secret}")).status_code == 200
    async with browser(platform) as one, browser(platform) as two:
        assert (await one.post(f"/api/v1/sign-in-links/{secret}")).status_code == 200
        assert (await one.post(f"/api/v1/sign-in-links/{secret}")).status_code == 410
        before = one.cookies["clf_session"]
        chosen = await one.put("/api/v1/users/me/password", json={"password": PASSWORD},
                               headers=csrf(one))
        assert chosen.status_code == 204
        assert one.cookies["clf_session"] != before  # a new session; the old one ended
        stale = {"Cookie": f"clf_session={before}"}
        assert (await platform.client.get("/api/v1/users/me", headers=stale)).status_code == 401
        assert (await sign_in(two, "first@example.com")).status_code == 200
        wrong = await one.put("/api/v1/users/me/password",
                              json={"currentPassword": "nope", "password": "whatever 1234"},
                              headers=csrf(one))
        assert wrong.status_code == 403
        async with gateway_replica(platform.settings) as replica:
            cookie = {"Cookie": f"clf_session={two.cookies['clf_session']}"}
            assert (await replica.get("/api/v1/users/me", headers=cookie)).status_code == 200
            ended = await one.delete("/api/v1/users/me/sessions", headers=csrf(one))
            assert ended.status_code == 204
            assert (await replica.get("/api/v1/users/me", headers=cookie)).status_code == 401
        assert (await two.get("/api/v1/users/me")).status_code == 401


async def test_a_removed_members_session_stops_on_another_replica_at_once(platform):
    added = await invite(platform, "jo@example.com")
    accepted = await platform.client.post(
        f"/api/v1/invitations/{secret_of(added['invitation']['url'])}/accept",
        json={"displayName": "Jo", "password": PASSWORD})
    cookie = {"Cookie": f"clf_session={accepted.cookies['clf_session']}"}
    platform.client.cookies.clear()
    item = f"/api/v1/items/{platform.ids['item']}"
    async with gateway_replica(platform.settings) as replica:
        assert (await replica.get(item, headers=cookie)).status_code == 200  # cached there now
        removed = await platform.request(
            "DELETE", f"/api/v1/projects/{platform.ids['project']}/members/{added['userId']}")
        assert removed.status_code == 204
        assert (await replica.get(item, headers=cookie)).status_code == 404
        assert (await replica.get("/api/v1/users/me", headers=cookie)).status_code == 200


async def test_failures_from_one_address_are_throttled_whichever_accounts_they_try(settings):
    tight = settings.model_copy(update={"signin_address_attempts": 3})
    async with running_platform(tight, services=False) as platform, browser(platform) as client:
        for n in range(3):
            assert (await sign_in(client, f"guess{n}@example.com", "not it")).status_code == 401
        throttled = await sign_in(client, "another@example.com", "not it")
        assert throttled.status_code == 429 and throttled.headers["Retry-After"]


async def test_a_session_ends_when_idle_and_past_its_absolute_expiry(platform):
    added = await invite(platform, "kim@example.com")
    async with browser(platform) as kim:
        accepted = await kim.post(f"/api/v1/invitations/{secret_of(added['invitation']['url'])}/accept",
                                  json={"displayName": "Kim", "password": PASSWORD})
        assert accepted.status_code == 200
        key = f"{platform.settings.namespace}:session:{kim.cookies['clf_session']}"
        redis = platform.gateway.redis
        idle = platform.settings.session_idle_minutes * 60
        await redis.expire(key, 5)
        assert (await kim.get("/api/v1/users/me")).status_code == 200
        assert idle - 5 <= await redis.ttl(key) <= idle  # a request renews the idle expiry
        data = json.loads(await redis.get(key))
        await redis.set(key, json.dumps(data | {"expiresAt": data["createdAt"] - 1}), ex=idle)
        past = await kim.get("/api/v1/users/me")
        assert past.status_code == 401 and "session has ended" in past.json()["detail"]


async def test_a_reset_link_of_a_member_of_another_teams_project_is_not_shown(platform):
    """A reset link is the whole account: an owner gets it only for members whose every
    project they own; otherwise it is mailed (SMTP) or refused."""
    added = await invite(platform, "ida@example.com")
    other = await platform.new_user("other-owner@example.com")
    theirs = (await platform.post("/api/v1/projects", {"name": "other team"}, token=other)).json()
    joined = await platform.post(f"/api/v1/projects/{theirs['id']}/members",
                                 {"email": "ida@example.com", "role": "owner"}, token=other)
    assert joined.status_code in (200, 201), joined.text
    refused = await platform.post(f"/api/v1/projects/{platform.ids['project']}/members/"
                                  f"{added['userId']}/password-reset")
    assert refused.status_code == 403 and "do not own" in refused.json()["detail"]
    assert await platform.catalog.db.links.count_documents({"kind": "reset"}) == 0
