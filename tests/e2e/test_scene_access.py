"""Scene work is annotators' work in a task, as image classification is: with `?taskId=` an
annotator starts, changes, hides, paints and deletes scenes on the videos of their own
assignment (the task service checks the task's rules and forwards the command); on another
annotator's video they are refused with the reason, and outside a task they need the
manager role. Managers do scene work anywhere."""

from __future__ import annotations

import pytest

from tests.e2e.test_tasks import add_member, assignments, create_task, items_of

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"
JEANS = "men's clothes.jeans"


async def _videos(platform, count: int) -> list[str]:
    made = []
    for i in range(count):
        r = await platform.post(f"/api/v1/datasets/{platform.ids['dataset']}/items",
                                {"name": f"clip{i}.webm", "url": f"http://example.com/clip{i}.webm",
                                 "mimetype": "video/webm", "fps": 25, "frameCount": 100, "duration": 4})
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    return made


@pytest.fixture
async def video_task(platform):
    tokens = {"ann1": await add_member(platform, "ann1@example.com", "annotator"),
              "ann2": await add_member(platform, "ann2@example.com", "annotator"),
              "mgr": await add_member(platform, "mgr@example.com", "manager")}
    videos = await _videos(platform, 4)
    task = (await create_task(platform, itemIds=videos)).json()
    by = await assignments(platform, task["id"])
    mine = (await items_of(platform, by["ann1@example.com"]["id"]))[0]
    theirs = (await items_of(platform, by["ann2@example.com"]["id"]))[0]
    return tokens, task["id"], mine, theirs


async def test_an_annotator_does_scene_work_on_their_own_video_in_a_task(platform, video_task):
    tokens, task, mine, _ = video_task
    ann = tokens["ann1"]
    q = f"?taskId={task}"
    made = await platform.post(f"/api/v1/items/{mine}/scenes{q}", {"label": POLO, "frame": 10}, token=ann)
    assert made.status_code == 201, made.text
    scene = made.json()
    system = scene["metadata"]["system"]
    assert system["taskId"] == task and system["assignmentId"]
    sid = scene["id"]
    for method, path, body, code in [
        ("PATCH", f"/api/v1/scenes/{sid}{q}", {"endFrame": 40}, 200),
        ("POST", f"/api/v1/scenes/{sid}/hide{q}", {"from": 20, "to": 25}, 200),
        ("POST", f"/api/v1/scenes/{sid}/unhide{q}", {"from": 20, "to": 25}, 200),
        ("PATCH", f"/api/v1/scenes/{sid}{q}", {"label": JEANS}, 200),
        ("PATCH", f"/api/v1/scenes/{sid}{q}", {"frame": 5}, 200),
        ("POST", f"/api/v1/items/{mine}/scenes/paint{q}",
         {"switches": [{"frame": 50, "label": POLO}, {"frame": 60, "label": None}]}, 201),
        ("DELETE", f"/api/v1/scenes/{sid}{q}", None, 204),
    ]:
        r = await platform.request(method, path, token=ann, json=body)
        assert r.status_code == code, f"{method} {path}: {r.status_code} {r.text}"
    stored = (await platform.get(f"/api/v1/items/{mine}/annotations", token=ann)).json()["annotations"]
    assert [(a["metadata"]["system"]["frame"], a["metadata"]["system"]["endFrame"]) for a in stored] == [(50, 59)]


async def test_an_annotator_is_refused_scene_work_on_another_annotators_video(platform, video_task):
    tokens, task, _, theirs = video_task
    ann = tokens["ann1"]
    r = await platform.post(f"/api/v1/items/{theirs}/scenes?taskId={task}", {"label": POLO, "frame": 10},
                            token=ann)
    assert r.status_code == 403, r.text
    assert "not in one of your assignments" in r.json()["detail"]
    painted = await platform.post(f"/api/v1/items/{theirs}/scenes/paint?taskId={task}",
                                  {"switches": [{"frame": 0, "label": POLO}]}, token=ann)
    assert painted.status_code == 403, painted.text
    # their colleague's scene: changing it is refused as well
    made = await platform.post(f"/api/v1/items/{theirs}/scenes?taskId={task}", {"label": POLO, "frame": 10},
                               token=tokens["ann2"])
    assert made.status_code == 201, made.text
    changed = await platform.request("PATCH", f"/api/v1/scenes/{made.json()['id']}?taskId={task}",
                                     token=ann, json={"endFrame": 40})
    assert changed.status_code == 403, changed.text
    stored = (await platform.get(f"/api/v1/items/{theirs}/annotations")).json()["annotations"]
    assert [a["metadata"]["system"]["endFrame"] for a in stored] == [99]  # unchanged: open to the end


async def test_outside_a_task_scene_work_needs_the_manager_role(platform, video_task):
    tokens, _, mine, _ = video_task
    r = await platform.post(f"/api/v1/items/{mine}/scenes", {"label": POLO, "frame": 10}, token=tokens["ann1"])
    assert r.status_code == 403 and "taskId" in r.json()["detail"]
    by_manager = await platform.post(f"/api/v1/items/{mine}/scenes", {"label": POLO, "frame": 10},
                                     token=tokens["mgr"])
    assert by_manager.status_code == 201, by_manager.text


async def test_a_task_of_another_project_is_not_found(platform, video_task):
    tokens, _, mine, _ = video_task
    r = await platform.post(f"/api/v1/items/{mine}/scenes?taskId=nothing", {"label": POLO, "frame": 10},
                            token=tokens["ann1"])
    assert r.status_code == 404, r.text


def _spans(annotations: list[dict]) -> list[tuple[int, int, str]]:
    rows = [(a["metadata"]["system"]["frame"], a["metadata"]["system"]["endFrame"], a["label"])
            for a in annotations]
    return sorted(rows)


async def test_in_a_single_class_task_a_videos_scenes_never_share_a_frame(platform, video_task):
    """shared.rules.scene_overlaps: a scene takes its frames from the scenes that held them (cut,
    split or deleted there); a scene started with no end runs up to the next one."""
    tokens, task, mine, _ = video_task
    ann, q = tokens["ann1"], f"?taskId={task}"

    async def call(method: str, path: str, body: dict | None, code: int) -> dict:
        r = await platform.request(method, f"/api/v1{path}{q}", token=ann, json=body)
        assert r.status_code == code, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    first = await call("POST", f"/items/{mine}/scenes", {"label": POLO, "frame": 10}, 201)
    second = await call("POST", f"/items/{mine}/scenes", {"label": JEANS, "frame": 50}, 201)
    assert second["metadata"]["system"]["endFrame"] == 99  # nothing after it: to the end
    inserted = await call("POST", f"/items/{mine}/scenes", {"label": POLO, "frame": 30}, 201)
    assert inserted["metadata"]["system"]["endFrame"] == 49  # gives way to the scene at 50
    await call("PATCH", f"/scenes/{second['id']}", {"frame": 40}, 200)  # takes 40..49
    await call("PATCH", f"/scenes/{inserted['id']}", {"endFrame": 60}, 200)  # takes 40..60 back
    await call("POST", f"/items/{mine}/scenes/paint",  # splits the first scene; none keeps
               {"switches": [{"frame": 20, "label": JEANS}, {"frame": 25, "label": None}],
                "stopFrame": 35}, 201)
    stored = (await platform.get(f"/api/v1/items/{mine}/annotations", token=ann)).json()["annotations"]
    assert _spans(stored) == [(10, 19, POLO), (20, 24, JEANS), (25, 29, POLO), (30, 60, POLO),
                              (61, 99, JEANS)]
    assert first["id"] in {a["id"] for a in stored} and len({a["id"] for a in stored}) == 5
    frame = (await platform.get(f"/api/v1/items/{mine}/frames/27", token=ann)).json()
    assert [s["label"] for s in frame["scenes"]] == [POLO]

    # a multi-class task leaves scenes overlapping, as outside a task
    clip = (await _videos(platform, 1))[0]
    multi = (await create_task(platform, name="multi", singleClass=False, itemIds=[clip],
                               assignees=["ann1@example.com"])).json()["id"]
    for frame in (10, 50):
        r = await platform.post(f"/api/v1/items/{clip}/scenes?taskId={multi}",
                                {"label": POLO, "frame": frame}, token=ann)
        assert r.status_code == 201, r.text
    stored = (await platform.get(f"/api/v1/items/{clip}/annotations", token=ann)).json()["annotations"]
    assert _spans(stored) == [(10, 99, POLO), (50, 99, POLO)]
