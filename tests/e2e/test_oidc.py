"""Single sign-on end to end against a real OpenID provider (oidc-provider-mock, a Flask app
on authlib) served on a loopback port: the browser's redirects are followed by hand, the
provider's sign-in form is submitted with a subject whose claims the test sets, and the
gateway talks to the provider over real HTTP (discovery, token exchange, keys).

The signed-in gateway is a second replica of the platform with OIDC_* set (the group
mapping names the project the first one seeded), on the same Redis and MongoDB.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import oidc_provider_mock
import pytest
import werkzeug.serving

from tests.platform import gateway_replica

pytestmark = [pytest.mark.e2e,  # the provider's own authlib calls, not ours:
              pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")]

LOGIN = "/api/v1/auth/oidc/login"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """The identity provider on 127.0.0.1 (a free port), in a thread; its issuer URL."""
    app = oidc_provider_mock.app(require_nonce=True)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


@pytest.fixture
async def idp(provider) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=provider, timeout=10) as client:
        yield client


@pytest.fixture
async def sso(platform, settings, provider) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on a gateway replica with single sign-on on: the group "annotators" maps to
    annotator and "leads" to manager in the seeded project."""
    project = platform.ids["project"]
    on = settings.model_copy(update={
        "oidc_issuer": provider, "oidc_client_id": "classifier", "oidc_client_secret": "s3cret",
        "oidc_groups_claim": "groups",
        "oidc_group_roles": f"annotators={project}:annotator,leads={project}:manager"})
    async with gateway_replica(on) as browser:
        yield browser


async def to_provider(browser: httpx.AsyncClient, next_path: str | None = None) -> str:
    """Start signing in; the provider's authorization URL the gateway redirected to."""
    r = await browser.get(LOGIN, params={"next": next_path} if next_path else None)
    assert r.status_code == 302, r.text
    return r.headers["location"]


async def back_from_provider(idp: httpx.AsyncClient, authorize: str, sub: str,
                             claims: dict[str, Any], action: str | None = None) -> str:
    """The user `sub` (with `claims`) signs in at the provider; the callback URL it sends
    the browser back to."""
    (await idp.put(f"/users/{sub}", json=claims)).raise_for_status()
    form = await idp.get(authorize)
    assert form.status_code == 200 and 'name="sub"' in form.text, form.text[:300]
    back = await idp.post(authorize, data={"action": action} if action else {"sub": sub})
    assert back.status_code == 302, back.text[:300]
    return back.headers["location"]


def claims_of(email: str, *groups: str, verified: bool = True) -> dict[str, Any]:
    return {"email": email, "email_verified": verified, "name": email.split("@")[0].title(),
            "groups": list(groups)}


async def sign_in(browser, idp, sub: str, claims: dict[str, Any], next_path: str | None = None):
    return await browser.get(await back_from_provider(idp, await to_provider(browser, next_path),
                                                      sub, claims))


async def users(platform) -> int:
    return await platform.catalog.db.users.count_documents({})


def with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"state": state}
    return parts._replace(query=urlencode(query)).geturl()


async def test_signing_in_creates_the_user_grants_the_mapped_role_and_opens_a_session(
        platform, sso, idp):
    authorize = await to_provider(sso, "/studio?task=1")
    sent = parse_qs(urlsplit(authorize).query)
    assert sent["code_challenge_method"] == ["S256"] and sent["code_challenge"][0]
    assert sent["nonce"][0] and sent["state"][0] and sent["client_id"] == ["classifier"]

    signed = await sso.get(await back_from_provider(
        idp, authorize, "ann-sub", claims_of("ann@example.com", "annotators", "unmapped")))
    assert signed.status_code == 302, signed.text
    assert signed.headers["location"] == "/studio?task=1"
    me = await sso.get("/api/v1/users/me")
    assert me.status_code == 200 and me.json()["email"] == "ann@example.com"

    project = platform.ids["project"]
    assert (await sso.get(f"/api/v1/projects/{project}")).status_code == 200
    members = (await platform.get(f"/api/v1/projects/{project}/members")).json()["items"]
    assert {m["email"]: m["role"] for m in members}["ann@example.com"] == "annotator"
    csrf = {"X-CSRF-Token": sso.cookies["clf_csrf"]}
    refused = await sso.post(f"/api/v1/projects/{project}/datasets", json={"name": "mine"},
                             headers=csrf)
    assert refused.status_code == 403 and "manager role" in refused.json()["detail"], refused.text

    again = await sign_in(sso, idp, "ann-sub", claims_of("ann@example.com", "annotators"))
    assert again.status_code == 302 and again.headers["location"] == "/"
    assert await platform.catalog.db.users.count_documents({"email": "ann@example.com"}) == 1


async def test_a_group_raises_a_members_role_and_never_lowers_one(platform, sso, idp):
    project = platform.ids["project"]
    await platform.add_member("lee@example.com", "annotator")
    signed = await sign_in(sso, idp, "lee-sub", claims_of("lee@example.com", "leads"))
    assert signed.status_code == 302, signed.text
    csrf = {"X-CSRF-Token": sso.cookies["clf_csrf"]}
    made = await sso.post(f"/api/v1/projects/{project}/datasets", json={"name": "lee's"},
                          headers=csrf)
    assert made.status_code == 201, made.text

    sso.cookies.clear()
    owner = await sign_in(sso, idp, "owner-sub", claims_of("owner@example.com", "annotators"))
    assert owner.status_code == 302, owner.text
    members = (await platform.get(f"/api/v1/projects/{project}/members")).json()["items"]
    assert {m["email"]: m["role"] for m in members} == {
        "owner@example.com": "owner", "lee@example.com": "manager"}


async def test_a_tampered_or_reused_state_is_refused_naming_it_and_nobody_is_created(
        platform, sso, idp):
    before = await users(platform)
    callback = await back_from_provider(idp, await to_provider(sso), "eve-sub",
                                        claims_of("eve@example.com", "leads"))
    state = parse_qs(urlsplit(callback).query)["state"][0]
    tampered = await sso.get(with_state(callback, ("A" if state[0] != "A" else "B") + state[1:]))
    assert tampered.status_code == 400 and tampered.json()["detail"].startswith("state:"), tampered.text
    assert "clf_session" not in tampered.headers.get("set-cookie", "")
    assert await users(platform) == before

    assert (await sso.get(callback)).status_code == 302  # the genuine one, once
    reused = await sso.get(callback)
    assert reused.status_code == 400 and "already used" in reused.json()["detail"]


async def test_a_callback_in_another_browser_is_refused_naming_the_state(platform, sso, idp):
    before = await users(platform)
    callback = await back_from_provider(idp, await to_provider(sso), "mal-sub",
                                        claims_of("mal@example.com"))
    sso.cookies.delete("clf_oidc")  # as another browser would come back
    elsewhere = await sso.get(callback)
    assert elsewhere.status_code == 400 and "another browser" in elsewhere.json()["detail"]
    assert await users(platform) == before


async def test_an_answer_for_another_sign_in_fails_on_its_nonce(platform, sso, idp):
    """Two sign-ins started in one browser: the code of the first brought back with the
    state of the second carries the first's nonce in its ID token."""
    before = await users(platform)
    first = await back_from_provider(idp, await to_provider(sso), "nan-sub",
                                     claims_of("nan@example.com", "leads"))
    second = parse_qs(urlsplit(await to_provider(sso)).query)["state"][0]
    mixed = await sso.get(with_state(first, second))
    assert mixed.status_code == 401 and mixed.json()["detail"].startswith("nonce:"), mixed.text
    assert await users(platform) == before


async def test_a_refusal_by_the_provider_is_401_with_its_reason(platform, sso, idp):
    before = await users(platform)
    denied = await back_from_provider(idp, await to_provider(sso), "den-sub",
                                      claims_of("den@example.com"), action="deny")
    r = await sso.get(denied)
    assert r.status_code == 401 and "refused the sign-in" in r.json()["detail"], r.text
    assert await users(platform) == before


async def test_an_unverified_email_is_refused_with_403(platform, sso, idp):
    before = await users(platform)
    r = await sign_in(sso, idp, "unv-sub", claims_of("unv@example.com", "leads", verified=False))
    assert r.status_code == 403 and r.json()["detail"].startswith("email_verified:"), r.text
    assert await users(platform) == before


async def test_next_must_stay_on_this_site(sso):
    r = await sso.get(LOGIN, params={"next": "//evil.example/"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "next", r.text


async def test_without_an_issuer_the_routes_answer_404_naming_why(platform):
    for path in (LOGIN, "/api/v1/auth/oidc/callback?state=x&code=y"):
        r = await platform.client.get(path)
        assert r.status_code == 404 and "single sign-on is not configured" in r.json()["detail"]
