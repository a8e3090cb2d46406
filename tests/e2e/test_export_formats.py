"""Issue 22, export: image CSV, per-video scene CSV and COCO-style labels, streamed from
`GET /datasets/{id}/export?format=csv|scenes|coco`."""

from __future__ import annotations

import csv
import io

import pytest

pytestmark = pytest.mark.e2e

POLO, JEANS, DRESSES = "men's clothes.polo shirts", "men's clothes.jeans", "women's clothes.dresses"


async def _world(p) -> dict[str, str]:
    ds = p.ids["dataset"]
    shirt = p.ids["item"]
    bare = (await p.post(f"/api/v1/datasets/{ds}/items", {"name": "bare.jpg", "dir": "/shop",
                         "url": "http://example.com/b.jpg", "mimetype": "image/jpeg"})).json()["id"]
    clip = (await p.post(f"/api/v1/datasets/{ds}/items", {
        "name": "clip.mp4", "url": "http://example.com/c.mp4", "mimetype": "video/mp4",
        "fps": 25, "frameCount": 75})).json()["id"]
    for label in (POLO, JEANS):
        assert (await p.post(f"/api/v1/items/{shirt}/annotations", {"label": label})).status_code == 201
    task = (await p.post(f"/api/v1/projects/{p.ids['project']}/tasks", {
        "name": "check", "datasetId": ds, "itemIds": [shirt], "assignees": ["owner@example.com"]})).json()
    r = await p.client.put(f"/api/v1/tasks/{task['id']}/items/{shirt}/status", json={"status": "completed"},
                           headers=p.auth())
    assert r.status_code == 200, r.text
    scene = (await p.post(f"/api/v1/items/{clip}/scenes", {"label": DRESSES, "frame": 10, "endFrame": 60})).json()
    assert (await p.post(f"/api/v1/scenes/{scene['id']}/hide", {"from": 20, "to": 30})).status_code == 200
    assert (await p.post(f"/api/v1/items/{clip}/scenes", {"label": POLO, "frame": 0, "endFrame": 5})).status_code == 201
    return {"shirt": shirt, "bare": bare, "clip": clip}


async def _export(p, fmt: str):
    r = await p.get(f"/api/v1/datasets/{p.ids['dataset']}/export", params={"format": fmt})
    assert r.status_code == 200, r.text
    return r


async def test_image_csv_scene_csv_and_coco_hold_what_was_annotated(platform):
    await _world(platform)
    r = await _export(platform, "csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == ["filename", "label", "status", "annotator", "updatedAt"]
    got = [(row["filename"], row["label"], row["status"], row["annotator"]) for row in rows]
    assert got == [("/shirt.jpg", POLO, "completed", "owner@example.com"),
                   ("/shirt.jpg", JEANS, "completed", "owner@example.com"),
                   ("/shop/bare.jpg", "", "", "")]  # the video is not in the image CSV
    assert all(row["updatedAt"] for row in rows[:2])

    scenes = list(csv.reader(io.StringIO((await _export(platform, "scenes")).text)))
    assert scenes[0] == ["video", "label", "startFrame", "endFrame", "startTime", "endTime", "hidden ranges"]
    assert [row[:4] + row[6:] for row in scenes[1:]] == [
        ["/clip.mp4", POLO, "0", "5", ""], ["/clip.mp4", DRESSES, "10", "60", "20-30"]]
    assert float(scenes[2][4]) == pytest.approx(10 / 25)

    doc = (await _export(platform, "coco")).json()
    names = {c["id"]: c["name"] for c in doc["categories"]}
    assert POLO in names.values() and {"name": POLO, "supercategory": "men's clothes"}.items() <= \
        next(c for c in doc["categories"] if c["name"] == POLO).items()
    assert [i["file_name"] for i in doc["images"]] == ["shirt.jpg", "shop/bare.jpg"]
    shirt_id = doc["images"][0]["id"]
    assert sorted(names[a["category_id"]] for a in doc["annotations"] if a["image_id"] == shirt_id) == \
        sorted([POLO, JEANS])
    assert len(doc["annotations"]) == 2  # scenes are not image labels


async def test_an_unknown_export_format_is_a_422_naming_it(platform):
    r = await platform.get(f"/api/v1/datasets/{platform.ids['dataset']}/export", params={"format": "xml"})
    assert r.status_code == 422 and "format" in r.text
