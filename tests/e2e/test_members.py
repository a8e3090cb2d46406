"""Project members and roles, organisations, and isolation between teams."""

from __future__ import annotations

import asyncio

import pytest

from tests.platform import gateway_replica

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"


def members_path(platform) -> str:
    return f"/api/v1/projects/{platform.ids['project']}/members"


async def roles(platform, token: str | None = None) -> dict[str, str]:
    listed = (await platform.get(members_path(platform), token=token)).json()["items"]
    return {m["email"]: m["role"] for m in listed}


async def test_an_owner_adds_members_changes_their_role_and_removes_them(platform):
    ann = await platform.add_member("ann@example.com", "annotator")
    assert await roles(platform) == {"owner@example.com": "owner", "ann@example.com": "annotator"}
    item = platform.ids["item"]
    assert (await platform.get(f"/api/v1/items/{item}", token=ann)).status_code == 200
    refused = await platform.post(f"/api/v1/items/{item}/annotations", {"label": POLO}, token=ann)
    assert refused.status_code == 403 and "manager role" in refused.json()["detail"]

    user_id = (await platform.get("/api/v1/users/me", token=ann)).json()["id"]
    promoted = await platform.request("PATCH", f"{members_path(platform)}/{user_id}", json={"role": "manager"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "manager"
    made = await platform.post(f"/api/v1/items/{item}/annotations", {"label": POLO}, token=ann)
    assert made.status_code == 201 and made.json()["creator"] == "ann@example.com"

    gone = await platform.request("DELETE", f"{members_path(platform)}/{user_id}")
    assert gone.status_code == 204
    assert (await platform.get(f"/api/v1/items/{item}", token=ann)).status_code == 404
    assert await roles(platform) == {"owner@example.com": "owner"}


async def test_the_last_owner_can_be_neither_removed_nor_demoted(platform):
    owner_id = (await platform.get("/api/v1/users/me")).json()["id"]
    path = f"{members_path(platform)}/{owner_id}"
    demoted = await platform.request("PATCH", path, json={"role": "manager"})
    assert demoted.status_code == 409 and "at least one owner" in demoted.json()["detail"]
    assert (await platform.request("DELETE", path)).status_code == 409
    second = await platform.add_member("second@example.com", "owner")
    assert (await platform.request("PATCH", path, json={"role": "manager"})).status_code == 200
    assert (await platform.request("DELETE", path, token=second)).status_code == 204
    assert await roles(platform, second) == {"second@example.com": "owner"}
    assert (await platform.get(members_path(platform))).status_code == 404


async def test_member_changes_that_break_a_rule_are_refused(platform):
    await platform.add_member("ann@example.com", "annotator")
    twice = await platform.post(members_path(platform), {"email": "ann@example.com", "role": "manager"})
    assert twice.status_code == 409
    for body, field in [({"email": "nobody", "role": "annotator"}, "email"),
                        ({"email": "a@example.com", "role": "admin"}, "role")]:
        r = await platform.post(members_path(platform), body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    missing = await platform.request("PATCH", f"{members_path(platform)}/nobody", json={"role": "manager"})
    assert missing.status_code == 404


async def test_a_removed_member_loses_access_at_once_on_every_replica(platform):
    ann = await platform.add_member("ann@example.com", "annotator")
    user_id = (await platform.get("/api/v1/users/me", token=ann)).json()["id"]
    dataset = f"/api/v1/datasets/{platform.ids['dataset']}"
    async with gateway_replica(platform.settings) as other:
        assert (await other.get(dataset, headers=platform.auth(ann))).status_code == 200  # cached there
        assert (await platform.request("DELETE", f"{members_path(platform)}/{user_id}")).status_code == 204
        for _ in range(20):  # pub/sub: milliseconds; the cache alone would take two seconds
            if (await other.get(dataset, headers=platform.auth(ann))).status_code == 404:
                break
            await asyncio.sleep(0.05)
        assert (await other.get(dataset, headers=platform.auth(ann))).status_code == 404


async def test_organisations_hold_projects_and_show_each_caller_only_their_own(platform):
    org = (await platform.post("/api/v1/organizations", {"name": "acme"})).json()
    mine = (await platform.post("/api/v1/projects", {"name": "a", "organizationId": org["id"]})).json()
    hidden = (await platform.post("/api/v1/projects", {"name": "b", "organizationId": org["id"]})).json()
    ann = await platform.add_member("ann@example.com", "annotator", project=mine["id"])
    stranger = await platform.new_user("stranger@example.com")

    projects = (await platform.get(f"/api/v1/organizations/{org['id']}/projects", token=ann)).json()
    assert [p["id"] for p in projects["items"]] == [mine["id"]]
    assert (await platform.get("/api/v1/organizations", token=ann)).json()["items"][0]["id"] == org["id"]
    assert (await platform.get(f"/api/v1/organizations/{org['id']}", token=stranger)).status_code == 404
    assert (await platform.get(f"/api/v1/organizations/{org['id']}/projects", token=stranger)).status_code == 404
    assert (await platform.get("/api/v1/organizations", token=stranger)).json()["items"] == []
    assert (await platform.get(f"/api/v1/projects/{hidden['id']}", token=ann)).status_code == 404
    # creating a project in an organisation: members only; an unseen one does not exist
    inside = await platform.post("/api/v1/projects", {"name": "c", "organizationId": org["id"]}, token=ann)
    assert inside.status_code == 403
    unseen = await platform.post("/api/v1/projects", {"name": "d", "organizationId": org["id"]}, token=stranger)
    assert unseen.status_code == 404


async def test_another_teams_resources_answer_404_in_lists_and_exports_too(platform):
    stranger = await platform.new_user("stranger@example.com")
    theirs = (await platform.post("/api/v1/projects", {"name": "theirs"}, token=stranger)).json()
    assert [p["id"] for p in (await platform.get("/api/v1/projects", token=stranger)).json()["items"]] == [theirs["id"]]
    for path in [f"/api/v1/projects/{platform.ids['project']}/datasets",
                 f"/api/v1/datasets/{platform.ids['dataset']}/items",
                 f"/api/v1/datasets/{platform.ids['dataset']}/export",
                 f"/api/v1/datasets/{platform.ids['dataset']}/export?format=zip",
                 f"/api/v1/projects/{platform.ids['project']}/audit"]:
        assert (await platform.get(path, token=stranger)).status_code == 404, path
    cross = await platform.post(f"/api/v1/projects/{theirs['id']}/datasets",
                                {"name": "x", "recipeId": platform.ids["recipe"]}, token=stranger)
    assert cross.status_code == 404  # another team's recipe, named in a body
