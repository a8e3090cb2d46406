"""`make run`'s demo data, seeded through the public API: an annotator with a single-class
task ready on the demo dataset, and a banner naming the studio and both sign-in links."""

from __future__ import annotations

import pytest

from deploy.seed import ANNOTATOR_EMAIL, DEMO_TASK, banner, seed
from tests.slow_path import transport_for

pytestmark = pytest.mark.e2e


async def _seed(platform) -> dict:
    return await seed(platform.settings, "http://testserver",
                      transport=transport_for(platform.app, platform.settings.outcome_wait_s))


async def test_the_demo_annotator_signs_in_by_link_and_finds_a_ready_single_class_task(platform):
    seeded = await _seed(platform)
    text = banner(seeded, "http://studio.example")
    assert "Studio (in a browser):   http://studio.example/\n" in text
    assert seeded["signInLink"] in text and seeded["annotatorSignInLink"] in text
    assert ANNOTATOR_EMAIL in text and seeded["signInLink"] != seeded["annotatorSignInLink"]

    secret = seeded["annotatorSignInLink"].rsplit("/", 1)[-1]
    signed_in = await platform.client.post(f"/api/v1/sign-in-links/{secret}")
    assert signed_in.status_code == 200 and signed_in.json()["email"] == ANNOTATOR_EMAIL
    token = await platform.new_user(ANNOTATOR_EMAIL)
    task = seeded["task"]
    assert task["name"] == DEMO_TASK
    mine = (await platform.get(f"/api/v1/projects/{seeded['project']['id']}/tasks", token=token)).json()
    assert [t["id"] for t in mine["items"]] == [task["id"]]
    assert mine["items"][0]["singleClass"] is True
    next_item = await platform.get(f"/api/v1/tasks/{task['id']}/next-item", token=token)
    assert next_item.status_code == 200, next_item.text
    assert next_item.json()["nextItem"]["id"] in {i["id"] for i in seeded["items"]}


async def test_seeding_again_adds_no_second_annotator_or_task(platform):
    first = await _seed(platform)
    again = await _seed(platform)
    assert again["task"]["id"] == first["task"]["id"]
    members = (await platform.get(f"/api/v1/projects/{first['project']['id']}/members",
                                  token=again["token"])).json()
    assert [m["role"] for m in members["items"] if m.get("email") == ANNOTATOR_EMAIL] == ["annotator"]
