"""Issue 22, import: Dataloop JSON (an item export in the current and the 2021 layout, an
annotation list, Dataloop's export zip with its item files), CSV and class folders, as a
job with a per-file report; a re-run doubles nothing; export → import round trip."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from typing import Any

import pytest
from PIL import Image

pytestmark = pytest.mark.e2e

POLO, JEANS, DRESSES = "men's clothes.polo shirts", "men's clothes.jeans", "women's clothes.dresses"


def png(k: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (k * 40 % 256, 90, 160)).save(out, "PNG")
    return out.getvalue()


async def run(p, files: dict[str, Any], dataset: str | None = None) -> dict[str, Any]:
    """Import and wait for the job; its final report."""
    dataset = dataset or p.ids["dataset"]
    r = await p.client.post(f"/api/v1/datasets/{dataset}/import", files=files, headers=p.auth())
    assert r.status_code == 202, r.text
    url = r.json()["url"].removeprefix("http://testserver")
    for _ in range(400):
        job = (await p.get(url)).json()
        if job["status"] != "running":
            assert job["status"] == "completed", job
            return job
        await asyncio.sleep(0.025)
    raise AssertionError(f"import still running: {job}")


async def labels_of(p, item_id: str) -> list[tuple[str, dict]]:
    body = (await p.get(f"/api/v1/items/{item_id}/annotations")).json()
    return sorted((a["label"], a["metadata"]["system"].get("attributes", {})) for a in body["annotations"])


async def item(p, name: str, directory: str = "/") -> str:
    r = await p.post(f"/api/v1/datasets/{p.ids['dataset']}/items",
                     {"name": name, "dir": directory, "url": f"http://example.com/{name}", "mimetype": "image/jpeg"})
    return r.json()["id"]


def export(name: str, annotations: list[dict], directory: str = "/") -> bytes:
    return json.dumps({"_id": "x", "name": name, "dir": directory, "filename": f"{directory.rstrip('/')}/{name}",
                       "annotations": annotations, "extraField": {"kept": "or ignored"}}).encode()


CURRENT = {"id": "a1", "type": "class", "label": POLO,
           "metadata": {"system": {"attributes": {"condition": "new", "sizes": ["S", "M"]}}}}
OLD_2021 = {"_id": "a2", "type": "class", "label": JEANS, "attributes": ["used", "L"],
            "metadata": {"system": {}}, "coordinates": None}


async def test_dataloop_json_in_each_layout_csv_and_class_folders_import_with_a_report(platform):
    p = platform
    shirt, trousers, listed, in_dir = (p.ids["item"], await item(p, "trousers.jpg"),
                                       await item(p, "listed.jpg"), await item(p, "a.jpg", "/shop"))
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("json/shop/a.jpg.json", export("a.jpg", [{"type": "class", "label": DRESSES}], "/shop"))
        z.writestr("json/new/fresh.png.json", export("fresh.png", [CURRENT], "/new"))
        z.writestr("items/new/fresh.png", png(1))
        z.writestr("json/nobody.jpg.json", export("nobody.jpg", [CURRENT]))  # no item, no file
    folders = io.BytesIO()
    with zipfile.ZipFile(folders, "w") as z:
        z.writestr(f"train/{DRESSES}/folder1.png", png(2))
        z.writestr("train/not a label/folder2.png", png(3))

    job = await run(p, {"file": ("shirt.jpg.json", export("shirt.jpg", [CURRENT]))})
    assert (job["imported"], job["duplicates"], job["refused"]) == (1, 0, 0)
    await run(p, {"file": ("trousers.json", export("trousers.jpg", [OLD_2021]))})
    await run(p, {"file": ("listed.jpg.json", json.dumps([{"type": "class", "label": DRESSES}]).encode())})
    job = await run(p, {"file": ("export.zip", zipped.getvalue())})
    by_file = {f["file"]: f for f in job["files"]}
    assert by_file["json/shop/a.jpg.json"]["imported"] == 1
    assert by_file["json/new/fresh.png.json"]["imported"] == 1  # the item made from items/
    assert "no item" in by_file["json/nobody.jpg.json"]["refused"][0]["reason"]
    csv = f'filename,label,status,condition,branded\n/trousers.jpg,"{DRESSES}",,new,true\n' \
          f'/trousers.jpg,no such label,,,\n'
    job = await run(p, {"file": ("labels.csv", csv.encode())})
    assert job["imported"] == 1 and job["labelsNotInRecipe"] == ["no such label"]
    job = await run(p, {"file": ("classes.zip", folders.getvalue())})
    assert job["imported"] == 1 and job["refused"] == 1

    assert await labels_of(p, shirt) == [(POLO, {"condition": "new", "sizes": ["S", "M"]})]
    assert await labels_of(p, trousers) == [(JEANS, {"condition": "used", "sizes": ["L"]}),
                                            (DRESSES, {"branded": True, "condition": "new"})]
    assert await labels_of(p, listed) == [(DRESSES, {})]
    assert await labels_of(p, in_dir) == [(DRESSES, {})]
    made = (await p.get(f"/api/v1/datasets/{p.ids['dataset']}/items?pageSize=1000")).json()["items"]
    fresh = next(i for i in made if i["filename"] == "/new/fresh.png")
    assert fresh["metadata"]["system"]["mimetype"] == "image/png"
    assert [i["name"] for i in made if i["name"].startswith("folder")] == ["folder1.png"]

    again = await run(p, {"file": ("export.zip", zipped.getvalue())})  # nothing doubles
    assert (again["imported"], again["duplicates"]) == (0, 2)
    assert await labels_of(p, in_dir) == [(DRESSES, {})]


async def test_an_unreadable_file_is_a_422_naming_the_file_field(platform):
    r = await platform.client.post(f"/api/v1/datasets/{platform.ids['dataset']}/import",
                                   files={"file": ("notes.txt", b"hello")}, headers=platform.auth())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    r = await platform.client.post(f"/api/v1/datasets/{platform.ids['dataset']}/import",
                                   files={"file": ("x.json", b"{not json")}, headers=platform.auth())
    assert r.status_code == 422 and "not JSON" in r.json()["errors"][0]["rule"]


async def test_an_export_imported_into_a_fresh_project_gives_the_same_annotations(platform):
    p = platform
    await p.post(f"/api/v1/items/{p.ids['item']}/annotations",
                 {"label": POLO, "attributes": {"condition": "used", "quality": 7}})
    await p.post(f"/api/v1/items/{p.ids['item']}/annotations", {"label": DRESSES})
    archive = (await p.get(f"/api/v1/datasets/{p.ids['dataset']}/export?format=zip")).content
    before = await labels_of(p, p.ids["item"])
    await p.seed()  # a fresh project with the same recipe and an item of the same name
    job = await run(p, {"file": ("export.zip", archive)})
    assert job["imported"] == 2
    assert await labels_of(p, p.ids["item"]) == before


async def _frames(p, item_id: str, count: int) -> list[tuple[list[str], list[str]]]:
    states = []
    for frame in range(count):
        body = (await p.get(f"/api/v1/items/{item_id}/frames/{frame}")).json()
        states.append((body["labels"], body["hiddenLabels"]))
    return states


async def _clip(p) -> str:
    r = await p.post(f"/api/v1/datasets/{p.ids['dataset']}/items", {
        "name": "clip.mp4", "url": "http://example.com/c.mp4", "mimetype": "video/mp4", "fps": 25, "frameCount": 75})
    return r.json()["id"]


async def test_video_scenes_round_trip_frame_for_frame(platform):
    p = platform
    clip = await _clip(p)
    dress = (await p.post(f"/api/v1/items/{clip}/scenes", {"label": DRESSES, "frame": 10, "endFrame": 60})).json()
    assert (await p.post(f"/api/v1/scenes/{dress['id']}/hide", {"from": 20, "to": 30})).status_code == 200
    assert (await p.post(f"/api/v1/items/{clip}/scenes", {"label": POLO, "frame": 0, "endFrame": 5})).status_code == 201
    assert (await p.post(f"/api/v1/items/{clip}/scenes", {"label": JEANS, "frame": 65})).status_code == 201
    before = await _frames(p, clip, 75)
    assert before[25] == ([], [DRESSES]) and before[70] == ([JEANS], [])
    archive = (await p.get(f"/api/v1/datasets/{p.ids['dataset']}/export?format=zip")).content
    await p.seed()  # a fresh project, the same video registered there
    fresh = await _clip(p)
    job = await run(p, {"file": ("export.zip", archive)})
    assert job["imported"] == 3, job
    assert await _frames(p, fresh, 75) == before
    again = await run(p, {"file": ("export.zip", archive)})
    assert (again["imported"], again["duplicates"]) == (0, 3)


async def test_labels_not_in_the_recipe_are_listed_or_added_when_asked(platform):
    p = platform
    csv = b'filename,label\n/shirt.jpg,"hats.caps"\n/shirt.jpg,"men\'s clothes.shorts"\n'
    job = await run(p, {"file": ("new.csv", csv)})
    assert job["imported"] == 0 and job["labelsNotInRecipe"] == ["hats.caps", "men's clothes.shorts"]
    job = await run(p, {"file": ("new.csv", csv), "addLabels": (None, "true")})
    assert job["imported"] == 2 and job["labelsNotInRecipe"] == []
    recipe = (await p.get(f"/api/v1/recipes/{p.ids['recipe']}")).json()
    assert "hats" in json.dumps(recipe) and "shorts" in json.dumps(recipe)
    assert [label for label, _ in await labels_of(p, p.ids["item"])] == ["hats.caps", "men's clothes.shorts"]


def with_refs(name: str, refs: list[dict]) -> bytes:
    return json.dumps({"id": "x", "name": name, "dir": "/", "filename": f"/{name}", "annotations": [],
                       "metadata": {"system": {"mimetype": "image/jpeg", "refs": refs}}}).encode()


def task_ref(task_id: str, status: str, **more: Any) -> dict:
    return {"type": "task", "id": task_id, "metadata": {"status": status}} | more


async def test_item_statuses_from_refs_and_csv_are_set_in_the_task_or_skipped_with_the_reason(platform):
    p = platform
    await p.add_member("ann@example.com", "annotator")
    shirt, b, c = p.ids["item"], await item(p, "b.jpg"), await item(p, "c.jpg")
    r = await p.post(f"/api/v1/projects/{p.ids['project']}/tasks", {
        "name": "review", "datasetId": p.ids["dataset"], "itemIds": [shirt, b, c], "assignees": ["ann@example.com"]})
    task = r.json()["id"]
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("json/shirt.jpg.json", with_refs("shirt.jpg", [  # this platform's task, by id
            task_ref(task, "completed"), {"type": "assignment", "id": "a", "metadata": {"status": "completed"}}]))
        z.writestr("json/b.jpg.json", with_refs("b.jpg", [  # Dataloop's task id; a task of that name here
            task_ref("5f0c0ffee0000000000000aa", "discard", name="review")]))
        z.writestr("json/c.jpg.json", with_refs("c.jpg", [
            task_ref("5f0c0ffee0000000000000bb", "completed"),  # no such task here
            task_ref(task, "approved")]))  # not one of the task's statuses
    job = await run(p, {"file": ("export.zip", zipped.getvalue())})
    assert (job["statuses"], job["skipped"]) == (2, 2), job
    reasons = [s["reason"] for f in job["files"] for s in f["skipped"]]
    assert "is not a task of this project" in reasons[0] and "'approved' is not one of" in reasons[1]

    csv = b"filename,label,status\n/c.jpg,,completed\n"  # a CSV's status: into the task named by taskId
    job = await run(p, {"file": ("statuses.csv", csv), "taskId": (None, task)})
    assert job["statuses"] == 1, job
    exported = (await p.get(f"/api/v1/tasks/{task}/export?format=json")).json()
    statuses = {i["name"]: [(ref["name"], ref["metadata"].get("status")) for ref in i["metadata"]["system"]["refs"]
                            if ref["type"] == "task"] for i in exported}
    assert statuses == {"shirt.jpg": [("review", "completed")], "b.jpg": [("review", "discard")],
                        "c.jpg": [("review", "completed")]}
    for _ in range(200):  # counted by the task service as the status's event goes out (the answer may come first)
        counts = (await p.get(f"/api/v1/tasks/{task}")).json()["itemStatus"]["actions"]
        if counts == {"completed": 2, "discard": 1}:
            break
        await asyncio.sleep(0.02)
    assert counts == {"completed": 2, "discard": 1}

    again = await run(p, {"file": ("export.zip", zipped.getvalue())})
    assert (again["statuses"], again["duplicates"]) == (0, 2)
    r = await p.client.post(f"/api/v1/datasets/{p.ids['dataset']}/import", headers=p.auth(),
                            files={"file": ("statuses.csv", csv), "taskId": (None, "no-such-task")})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "taskId"
