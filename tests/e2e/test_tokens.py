"""Personal API tokens: scopes, expiry, listing without secrets, revocation on every replica,
and the per-token rate limit shared by the replicas."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from gateway.auth import digest, issue_token
from shared.contracts.envelope import utcnow
from tests.platform import gateway_replica, running_platform

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"
TOKENS = "/api/v1/users/me/tokens"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_read_only_token_reads_everything_and_writes_nothing(platform):
    made = await platform.post(TOKENS, {"name": "dashboard", "scopes": ["read"]})
    assert made.status_code == 201 and made.json()["scopes"] == ["read"]
    reader = made.json()["token"]
    item = platform.ids["item"]
    assert (await platform.get(f"/api/v1/items/{item}/annotations", token=reader)).status_code == 200
    assert (await platform.get(f"/api/v1/datasets/{platform.ids['dataset']}/export", token=reader)).status_code == 200
    refused = await platform.post(f"/api/v1/items/{item}/annotations", {"label": POLO}, token=reader)
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    assert (await platform.post(TOKENS, {"name": "escalate"}, token=reader)).status_code == 403
    assert (await platform.post("/api/v1/projects", {"name": "x"}, token=reader)).status_code == 403
    assert await platform.catalog.db.annotations.count_documents({}) == 0


async def test_a_token_secret_is_shown_once_and_only_its_digest_is_stored(platform):
    made = (await platform.post(TOKENS, {"name": "ci"})).json()
    stored = await platform.catalog.db.tokens.find_one({"tokenId": made["id"]})
    assert stored["_id"] == digest(made["token"]) and made["token"] not in str(stored)
    listed = (await platform.get(TOKENS)).json()["items"]
    assert {t["name"] for t in listed} == {"default", "ci"}
    assert all(set(t) == {"id", "name", "scopes", "createdAt", "expiresAt", "revokedAt"} for t in listed)
    assert made["token"] not in str(listed) and stored["_id"] not in str(listed)


async def test_token_scopes_and_expiry_are_checked_with_422_naming_the_field(platform):
    for body, field in [({"scopes": ["write"]}, "scopes"), ({"scopes": ["admin"]}, "scopes.0"),
                        ({"expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
                        ({"expiresAt": "2999-01-01T00:00:00"}, "expiresAt"), ({"secret": "x"}, "secret")]:
        r = await platform.post(TOKENS, body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith(field), (body, r.text)


async def test_an_expired_token_is_refused(platform):
    user = await platform.catalog.ensure_user("owner@example.com")
    soon, _ = await issue_token(platform.catalog, user, expires_at=utcnow() + timedelta(seconds=0.3))
    assert (await platform.get("/api/v1/users/me", token=soon)).status_code == 200
    await asyncio.sleep(0.35)
    assert (await platform.get("/api/v1/users/me", token=soon)).status_code == 401


async def test_a_revoked_token_stops_at_once_on_every_replica(platform):
    made = (await platform.post(TOKENS, {"name": "laptop"})).json()
    async with gateway_replica(platform.settings) as other:
        # both replicas have the token's principal cached
        assert (await platform.get("/api/v1/users/me", token=made["token"])).status_code == 200
        assert (await other.get("/api/v1/users/me", headers=bearer(made["token"]))).status_code == 200
        gone = await other.delete(f"{TOKENS}/{made['id']}", headers=bearer(platform.token))
        assert gone.status_code == 204
        assert (await platform.get("/api/v1/users/me", token=made["token"])).status_code == 401
        assert (await other.get("/api/v1/users/me", headers=bearer(made["token"]))).status_code == 401
    listed = {t["id"]: t for t in (await platform.get(TOKENS)).json()["items"]}
    assert listed[made["id"]]["revokedAt"] is not None
    again = await platform.client.delete(f"{TOKENS}/{made['id']}", headers=platform.auth())
    assert again.status_code == 204


async def test_a_token_revoked_from_itself_or_by_someone_else(platform):
    made = (await platform.post(TOKENS, {"name": "self"})).json()
    stranger = await platform.new_user("stranger@example.com")
    theirs = await platform.client.delete(f"{TOKENS}/{made['id']}", headers=bearer(stranger))
    assert theirs.status_code == 404
    own = await platform.client.delete(f"{TOKENS}/{made['id']}", headers=bearer(made["token"]))
    assert own.status_code == 204
    assert (await platform.get("/api/v1/users/me", token=made["token"])).status_code == 401


async def _away_from_a_minute_boundary() -> None:
    if 60 - time.time() % 60 < 3:  # the fixed window turns over at the minute
        await asyncio.sleep(3.1)


async def test_past_the_rate_limit_a_token_gets_429_with_retry_after_on_every_replica(settings):
    limited = settings.model_copy(update={"rate_limit_per_minute": 3})
    async with running_platform(limited, services=False) as platform, gateway_replica(limited) as other:
        await _away_from_a_minute_boundary()
        token, neighbour = await platform.new_user("busy@example.com"), await platform.new_user("n@example.com")
        answers = [(await platform.get("/api/v1/users/me", token=token)).status_code,
                   (await other.get("/api/v1/users/me", headers=bearer(token))).status_code,
                   (await platform.get("/api/v1/users/me", token=token)).status_code]
        assert answers == [200, 200, 200]
        refused = await other.get("/api/v1/users/me", headers=bearer(token))
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert (await platform.get("/api/v1/users/me", token=token)).status_code == 429
        assert (await platform.get("/api/v1/users/me", token=neighbour)).status_code == 200
