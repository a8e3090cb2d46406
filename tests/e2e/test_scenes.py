"""Video scene classification through HTTP on real servers, with a real video made here with
PyAV: upload (fps, frame count and duration probed), scenes started, ended, moved,
relabelled, hidden and shown, painted, asked about frame by frame, deleted; bad input
refused with 422 and nothing stored."""

from __future__ import annotations

import io

import av
import pytest
from PIL import Image

from shared.contracts import streams

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"
JEANS = "men's clothes.jeans"
DRESSES = "women's clothes.dresses"
FPS, FRAMES = 25, 75  # 3 seconds


def make_video(frames: int = FRAMES, fps: int = FPS, size: tuple[int, int] = (64, 48)) -> bytes:
    """An MP4 (MPEG-4 part 2) whose frames fade from black to white."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        for i in range(frames):
            shade = round(255 * i / max(frames - 1, 1))
            frame = av.VideoFrame.from_image(Image.new("RGB", size, (shade, shade, shade)))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


@pytest.fixture
async def video(platform) -> dict:
    r = await platform.client.post(
        f"/api/v1/datasets/{platform.ids['dataset']}/items/upload",
        files={"file": ("clip.mp4", make_video(), "video/mp4")}, data={"dir": "/clips"},
        headers=platform.auth())
    assert r.status_code == 201, r.text
    return r.json()


async def start(platform, item_id: str, **body) -> dict:
    r = await platform.post(f"/api/v1/items/{item_id}/scenes", body)
    assert r.status_code == 201, r.text
    return r.json()


async def patch(platform, annotation_id: str, body: dict):
    return await platform.client.patch(f"/api/v1/scenes/{annotation_id}", json=body,
                                       headers=platform.auth())


async def at(platform, item_id: str, frame: int) -> dict:
    r = await platform.get(f"/api/v1/items/{item_id}/frames/{frame}")
    assert r.status_code == 200, r.text
    return r.json()


def keys(annotation: dict) -> list[tuple[int, bool, str]]:
    return [(s["frame"], s["objectVisible"], s["label"])
            for s in annotation["metadata"]["system"]["snapshots_"]]


async def test_an_uploaded_video_knows_its_fps_frame_count_and_duration(platform, video):
    system = video["metadata"]["system"]
    assert system["mimetype"] == "video/mp4"
    assert (system["fps"], system["nb_frames"], system["duration"]) == (25.0, FRAMES, 3.0)
    assert (system["width"], system["height"]) == (64, 48)
    assert system["ffmpeg"]["avg_frame_rate"] == "25/1"
    assert system["ffmpeg"]["nb_read_frames"] == str(FRAMES)
    assert video["metadata"]["fps"] == 25.0 and video["metadata"]["startTime"] == 0


async def test_a_scene_lives_from_start_to_end_with_hidden_stretches_and_label_changes(platform, video):
    item = video["id"]
    scene = await start(platform, item, label=POLO, frame=10)
    system = scene["metadata"]["system"]
    assert scene["type"] == "class" and scene["label"] == POLO
    assert (system["frame"], system["endFrame"], system["startTime"], system["endTime"]) == (10, 74, 0.4, 3.0)
    assert system["snapshots_"] == [] and system["objectId"] == "1" and "_scene" not in scene

    r = await patch(platform, scene["id"], {"endFrame": 60})
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["system"]["endTime"] == 2.4
    r = await platform.post(f"/api/v1/scenes/{scene['id']}/hide", {"from": 20, "to": 40})
    assert r.status_code == 200, r.text
    r = await platform.post(f"/api/v1/scenes/{scene['id']}/unhide", {"from": 25, "to": 30})
    assert r.status_code == 200, r.text
    r = await patch(platform, scene["id"], {"label": JEANS, "fromFrame": 50})
    assert r.status_code == 200, r.text
    assert keys(r.json()) == [(20, False, POLO), (25, True, POLO), (31, False, POLO),
                              (41, True, POLO), (50, True, JEANS)]
    r = await patch(platform, scene["id"], {"frame": 5})
    assert r.status_code == 200 and r.json()["metadata"]["system"]["frame"] == 5

    assert (await at(platform, item, 22))["scenes"][0]["hidden"] is True
    visible = await at(platform, item, 27)
    assert visible["labels"] == [POLO] and visible["hiddenLabels"] == []
    assert (await at(platform, item, 55))["labels"] == [JEANS]
    assert (await at(platform, item, 61))["scenes"] == []

    r = await patch(platform, scene["id"], {"endFrame": None})  # lasts to the end again
    assert r.status_code == 200 and r.json()["metadata"]["system"]["endFrame"] == 74
    assert r.json()["metadata"]["system"]["endTime"] == 3.0


async def test_overlapping_scenes_show_on_the_same_frame(platform, video):
    item = video["id"]
    await start(platform, item, label=POLO, frame=0, endFrame=40)
    dress = await start(platform, item, label=DRESSES, frame=30)
    await platform.post(f"/api/v1/scenes/{dress['id']}/hide", {"from": 33, "to": 36})
    frame = await at(platform, item, 35)
    assert frame["labels"] == [POLO] and frame["hiddenLabels"] == [DRESSES]
    assert frame["time"] == 35 / FPS and len(frame["scenes"]) == 2
    assert (await at(platform, item, 38))["labels"] == [POLO, DRESSES]


async def test_play_to_paint_makes_scenes_with_hidden_gaps_in_one_request(platform, video):
    item = video["id"]
    r = await platform.post(f"/api/v1/items/{item}/scenes/paint", {"switches": [
        {"frame": 0, "label": POLO}, {"frame": 10, "label": None}, {"frame": 15, "label": POLO},
        {"frame": 40, "label": JEANS}]})
    assert r.status_code == 201, r.text
    polo, jeans = r.json()["annotations"]
    assert (polo["label"], polo["metadata"]["system"]["frame"], polo["metadata"]["system"]["endFrame"]) == (POLO, 0, 39)
    assert keys(polo) == [(10, False, POLO), (15, True, POLO)]
    assert (jeans["metadata"]["system"]["frame"], jeans["metadata"]["system"]["endFrame"]) == (40, 74)
    assert (await at(platform, item, 12))["hiddenLabels"] == [POLO]
    export = (await platform.get(f"/api/v1/items/{item}/annotations")).json()
    assert export["annotationsCount"] == 2
    assert not [k for a in export["annotations"] for k in a if k.startswith("_")]


async def test_a_deleted_scene_is_gone(platform, video):
    scene = await start(platform, video["id"], label=POLO, frame=3)
    r = await platform.client.delete(f"/api/v1/scenes/{scene['id']}", headers=platform.auth())
    assert r.status_code == 204
    assert (await platform.get(f"/api/v1/annotations/{scene['id']}")).status_code == 404
    assert (await at(platform, video["id"], 3))["scenes"] == []


async def test_bad_scene_input_is_refused_with_422_and_nothing_stored(platform, video):
    item = video["id"]
    scene = await start(platform, item, label=POLO, frame=10, endFrame=50)
    before = await platform.catalog.db.annotations.find_one({"_id": scene["id"]})
    ops_before = await platform.catalog.db.operations.count_documents({})
    scene_stream = streams.stream(streams.SCENE, platform.settings.namespace)
    entries_before = await platform.gateway.redis.xlen(scene_stream)
    refusals = [
        ("post", f"/api/v1/items/{item}/scenes", {"label": POLO, "frame": FRAMES}, "frame"),
        ("post", f"/api/v1/items/{item}/scenes", {"label": POLO, "frame": 20, "endFrame": 10}, "endFrame"),
        ("post", f"/api/v1/items/{item}/scenes", {"label": "shoes", "frame": 1}, "label"),
        ("post", f"/api/v1/items/{platform.ids['item']}/scenes", {"label": POLO, "frame": 1}, "item"),
        ("patch", f"/api/v1/scenes/{scene['id']}", {"endFrame": 5}, "endFrame"),
        ("patch", f"/api/v1/scenes/{scene['id']}", {"endFrame": 80}, "endFrame"),
        ("patch", f"/api/v1/scenes/{scene['id']}", {"label": "shoes", "fromFrame": 20}, "label"),
        ("patch", f"/api/v1/scenes/{scene['id']}", {"endFrame": 40, "frame": 12}, "body"),
        ("post", f"/api/v1/scenes/{scene['id']}/hide", {"from": 45, "to": 55}, "to"),
        ("post", f"/api/v1/scenes/{scene['id']}/hide", {"from": 10, "to": 20}, "from"),
        ("post", f"/api/v1/scenes/{scene['id']}/unhide", {"from": 30, "to": 20}, "to"),
        ("post", f"/api/v1/items/{item}/scenes/paint", {"switches": [{"frame": 90, "label": POLO}]},
         "switches[0].frame"),
        ("post", f"/api/v1/items/{item}/scenes/paint", {"switches": [{"frame": 0, "label": "shoes"}]},
         "label"),
    ]
    for method, path, body, field in refusals:
        r = await platform.client.request(method.upper(), path, json=body, headers=platform.auth())
        assert r.status_code == 422, (path, body, r.text)
        assert r.json()["errors"][0]["field"] == field, (path, body, r.text)
    assert (await platform.get(f"/api/v1/items/{platform.ids['item']}/frames/0")).status_code == 422
    assert (await platform.get(f"/api/v1/items/{item}/frames/{FRAMES}")).status_code == 422
    image_class = (await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations",
                                       {"label": POLO})).json()
    r = await platform.post(f"/api/v1/scenes/{image_class['id']}/hide", {"from": 0, "to": 0})
    assert r.status_code == 422

    assert await platform.catalog.db.annotations.find_one({"_id": scene["id"]}) == before
    assert await platform.catalog.db.annotations.count_documents({}) == 2
    assert await platform.catalog.db.operations.count_documents({}) == ops_before + 1
    assert await platform.gateway.redis.xlen(scene_stream) == entries_before


async def test_a_video_registered_by_url_with_its_facts_takes_scenes(platform):
    r = await platform.post(f"/api/v1/datasets/{platform.ids['dataset']}/items",
                            {"name": "far.mp4", "url": "http://example.com/far.mp4",
                             "mimetype": "video/mp4", "fps": 30, "frameCount": 300})
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["metadata"]["system"]["nb_frames"] == 300 and item["metadata"]["fps"] == 30
    scene = await start(platform, item["id"], label=POLO, frame=0)
    assert scene["metadata"]["system"]["endFrame"] == 299
    assert scene["metadata"]["system"]["endTime"] == 10.0
