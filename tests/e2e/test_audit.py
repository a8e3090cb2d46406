"""The audit log: who did what, per project, queried by actor, action and time."""

from __future__ import annotations

import asyncio

import pytest

from gateway.repository import connect
from shared.contracts.envelope import utcnow
from tests.platform import running_platform

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"


def audit_path(platform, query: str = "") -> str:
    return f"/api/v1/projects/{platform.ids['project']}/audit{query}"


async def test_every_successful_write_is_recorded_with_actor_action_resource_and_time(platform):
    manager = await platform.add_member("mgr@example.com", "manager")
    annotator = await platform.add_member("ann@example.com", "annotator")
    item = platform.ids["item"]
    await asyncio.sleep(0.01)  # MongoDB keeps milliseconds
    start = utcnow()
    made = (await platform.post(f"/api/v1/items/{item}/annotations", {"label": POLO}, token=manager)).json()
    await platform.post(f"/api/v1/items/{item}/annotations", {"label": "hats"}, token=manager)  # 422
    await platform.post(f"/api/v1/items/{item}/annotations", {"label": POLO}, token=annotator)  # 403
    await platform.get(f"/api/v1/items/{item}", token=manager)  # a read

    entries = (await platform.get(audit_path(platform, "?actor=mgr@example.com"))).json()["items"]
    assert [e["action"] for e in entries] == ["classify"]
    entry = entries[0]
    assert entry["actor"]["email"] == "mgr@example.com" and entry["actor"]["role"] == "manager"
    assert entry["resource"] == {"type": "item", "id": item} and entry["resultId"] == made["id"]
    assert entry["status"] == 201 and entry["projectId"] == platform.ids["project"]
    assert entry["method"] == "POST" and entry["at"] >= start.isoformat()[:19]

    everything = (await platform.get(audit_path(platform))).json()
    actions = [e["action"] for e in everything["items"]]
    assert actions[0] == "classify" and actions.count("add_member") == 2
    assert "create_project" in actions and "create_dataset" in actions  # newest first
    by_id = (await platform.get(audit_path(platform, f"?actor={entry['actor']['userId']}"))).json()
    assert by_id["totalItemsCount"] == 1
    members = (await platform.get(audit_path(platform, "?action=add_member&pageSize=1&page=1"))).json()
    assert members["totalItemsCount"] == 2 and len(members["items"]) == 1 and not members["hasNextPage"]
    since = (await platform.get(audit_path(platform, "?since=" + start.isoformat().replace("+00:00", "Z")))).json()
    assert [e["action"] for e in since["items"]] == ["classify"]
    until = (await platform.get(audit_path(platform, "?until=" + start.isoformat().replace("+00:00", "Z")))).json()
    assert "classify" not in [e["action"] for e in until["items"]]


async def test_only_managers_and_owners_read_the_audit_and_only_of_their_project(platform):
    annotator = await platform.add_member("ann@example.com", "annotator")
    manager = await platform.add_member("mgr@example.com", "manager")
    assert (await platform.get(audit_path(platform), token=annotator)).status_code == 403
    assert (await platform.get(audit_path(platform), token=manager)).status_code == 200
    stranger = await platform.new_user("stranger@example.com")
    assert (await platform.get(audit_path(platform), token=stranger)).status_code == 404
    bad = await platform.get(audit_path(platform, "?since=yesterday"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "since"


async def test_recorded_writes_reach_the_database_in_the_background_and_at_shutdown(settings):
    async with running_platform(settings, services=False) as platform:
        await platform.seed()
        assert platform.gateway.audit.buffer or await platform.catalog.db.audit.count_documents({})
        for _ in range(40):  # the background flush, every half second
            if await platform.catalog.db.audit.count_documents({}) == 4:
                break
            await asyncio.sleep(0.05)
        assert await platform.catalog.db.audit.count_documents({}) == 4
        await platform.post("/api/v1/projects", {"name": "last words"})
    catalog = connect(settings.mongodb_url, settings.mongodb_db)  # after the gateway stopped
    try:
        assert await catalog.db.audit.count_documents({"action": "create_project"}) == 2
    finally:
        catalog.client.close()
