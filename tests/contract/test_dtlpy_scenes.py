"""Our video scenes read by Dataloop's own SDK, offline (dataloop.md 1.4, 6): every scene we
export parses in `dtlpy` and gives, for every frame, the same label and hidden/visible
state as our own model; and what `dtlpy` writes back reads as the same scene."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.exports import item_export
from services.annotation.rules import public
from services.annotation.scene_rules import new_scene_annotation, updated_scene
from shared.contracts.envelope import Actor
from shared.contracts.scene_commands import (
    ChangeSceneLabel,
    HideFrames,
    OnScene,
    PaintScenes,
    SetSceneEnd,
    StartScene,
    SwitchIn,
    UnhideFrames,
)
from shared.rules import scenes
from shared.rules.painting import Switch, paint
from shared.rules.scenes import Scene, Video

# tests/conftest.py has pointed DATALOOP_PATH at a temp folder before this import.
import dtlpy as dl  # noqa: E402  isort: skip

pytestmark = pytest.mark.contract

API = "http://testserver/api/v1"
ACTOR = Actor(user_id="u1", email="ann@example.com", role="manager")
AT = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
FPS = 30000 / 1001
VIDEO = Video(fps=FPS, frame_count=287, duration=9.5762)  # the StreamPoseML clip's facts
ITEM, DATASET = "65a1b2c3d4e5f6a7b8c9d0aa", "65a1b2c3d4e5f6a7b8c9d0dd"
COMMON = dict(actor=ACTOR, occurred_at=AT, item_id=ITEM, dataset_id=DATASET, project_id="p1",
              recipe_id="r1", video=VIDEO)


def start(annotation_id: str, frame: int, label: str, end: int | None = None,
          object_id: int = 1) -> dict:
    cmd = StartScene(**COMMON, annotation_id=annotation_id, frame=frame, end_frame=end, label=label)
    made = scenes.start_scene(VIDEO, frame, label, end)
    assert isinstance(made, Scene)
    return new_scene_annotation(cmd, made, annotation_id, object_id, "http://testserver")


def change(doc: dict, cmd_type: type[OnScene], **fields) -> dict:
    new = updated_scene(doc, cmd_type(**COMMON, annotation_id=doc["_id"], **fields))
    assert isinstance(new, tuple), new
    return new[0]


def exported(doc: dict) -> dict:
    return json.loads(json.dumps(public(doc)))


def video_item(fps: float = FPS) -> dl.Item:
    """A video Item whose dataset needs no platform call (dataloop.md section 6)."""
    ds = dl.Dataset.from_json(_json={"id": DATASET, "name": "offline"},
                              client_api=dl.client_api, project=None, is_fetched=False)
    ds._labels = []
    return dl.Item.from_json(
        _json={"id": ITEM, "datasetId": DATASET, "filename": "/clips/run.webm",
               "metadata": {"system": {"mimetype": "video/webm"}, "fps": fps}},
        client_api=dl.client_api, dataset=ds, is_fetched=False)


def parse(ann: dict) -> dl.Annotation:
    return dl.Annotation.from_json(_json=copy.deepcopy(ann), item=video_item(), is_video=True)


def assert_same_frames(parsed: dl.Annotation, ours: Scene) -> None:
    """Label and hidden/visible of every frame of the video, ours against dtlpy's."""
    assert (parsed.start_frame, parsed.end_frame) == (ours.start, ours.end)
    for f in range(VIDEO.frame_count):
        state = ours.state_at(f)
        if state is None:
            with pytest.raises(KeyError):
                parsed.frames[f]
            continue
        frame = parsed.frames[f]
        assert (frame.label, not frame.object_visible) == (state.label, state.hidden), f


def ours(ann: dict) -> Scene:
    scene = scenes.from_annotation(ann, VIDEO)
    assert isinstance(scene, Scene), scene
    return scene


def several() -> list[dict]:
    """An open scene with a hidden stretch; a closed one with label changes; one hidden to
    its end; a one-frame scene; and an open one hidden from a frame to the end."""
    a = change(start("a" * 24, 15, "running"), HideFrames, first=100, last=149)
    b = start("b" * 24, 0, "walking", 120, object_id=2)
    b = change(change(b, ChangeSceneLabel, frame=40, label="running"),
               ChangeSceneLabel, frame=80, label="jumping")
    b = change(change(b, HideFrames, first=50, last=90), UnhideFrames, first=60, last=70)
    c = change(start("c" * 24, 200, "jumping", 250, object_id=3), HideFrames, first=230, last=250)
    d = start("d" * 24, 286, "walking", object_id=4)
    e = change(start("e" * 24, 10, "running", object_id=5), HideFrames, first=280, last=286)
    return [a, b, c, d, e]


# --- one scene at a time ----------------------------------------------------------------------


@pytest.mark.parametrize("index", range(5))
def test_dtlpy_reads_every_frame_of_our_scene_as_we_do(index):
    ann = exported(several()[index])
    parsed = parse(ann)
    assert parsed.type == "class" and parsed.is_video and parsed.label == ann["label"]
    assert parsed.object_id == ann["metadata"]["system"]["objectId"]
    assert_same_frames(parsed, ours(ann))


def test_an_open_scene_is_written_closed_at_the_last_frame_with_the_videos_duration():
    ann = exported(several()[0])
    system = ann["metadata"]["system"]
    assert system["endFrame"] == 286 and system["endTime"] == 9.5762
    assert system["startTime"] == 15 / FPS
    assert "_scene" not in ann
    assert [(s["frame"], s["objectVisible"]) for s in system["snapshots_"]] == [(100, False), (150, True)]


def test_a_scene_without_an_item_parses_from_its_end_frame():
    # dataloop.md 1.6: with no item, dtlpy calls it video because endFrame > 0.
    parsed = dl.Annotation.from_json(_json=exported(several()[1]))
    assert parsed.is_video and parsed.end_frame == 120


def test_what_dtlpy_writes_back_reads_as_the_same_scene():
    for doc in several():
        ann = exported(doc)
        written = parse(ann).to_json()
        assert written["metadata"]["system"]["snapshots_"] == ann["metadata"]["system"]["snapshots_"]
        again = scenes.from_system(written["metadata"]["system"], written["label"], VIDEO,
                                   ours(ann).open)
        assert again == ours(ann)
        assert_same_frames(parse(written), ours(ann))


# --- an item export -----------------------------------------------------------------------------


def item_doc() -> dict:
    return {
        "id": ITEM, "datasetId": DATASET, "projectId": "p1", "name": "run.webm", "dir": "/clips",
        "filename": "/clips/run.webm", "createdAt": "2025-01-01T09:00:00.000Z",
        "creator": "owner@example.com", "fileId": "f1",
        "metadata": {"system": {"refs": [], "taskStatusLog": [], "mimetype": "video/webm",
                                "originalname": "run.webm", "size": 1234, "isBinary": True,
                                "fps": FPS, "nb_frames": 287, "duration": 9.5762,
                                "width": 64, "height": 48, "startTime": 0,
                                "ffmpeg": {"nb_read_frames": "287", "avg_frame_rate": "30000/1001",
                                           "r_frame_rate": "30000/1001"}},
                     "fps": FPS, "startTime": 0, "user": {}},
    }


def test_dtlpy_reads_every_scene_of_our_video_item_export(caplog):
    docs = several()
    export = json.loads(json.dumps(item_export(item_doc(), [public(d) for d in docs], API)))
    with caplog.at_level(logging.WARNING):
        collection = dl.AnnotationCollection.from_json(_json=export["annotations"],
                                                       item=video_item())
    assert not [r for r in caplog.records if r.name.startswith("dtlpy") and r.levelno >= logging.WARNING]
    by_id = {a.id: a for a in collection.annotations}
    assert sorted(by_id) == sorted(d["_id"] for d in docs)
    for doc in docs:
        assert by_id[doc["_id"]].is_video
        assert_same_frames(by_id[doc["_id"]], ours(exported(doc)))


def test_dtlpy_reads_our_video_items_fps():
    export = json.loads(json.dumps(item_export(item_doc(), [], API)))
    ds = dl.Dataset.from_json(_json={"id": DATASET, "name": "offline"}, client_api=dl.client_api,
                              project=None, is_fetched=False)
    item = dl.Item.from_json(_json=export, client_api=dl.client_api, dataset=ds, is_fetched=False)
    assert item.fps == FPS and item.mimetype == "video/webm"


# --- play-to-paint and random scenes --------------------------------------------------------------


def test_painted_scenes_read_in_dtlpy_as_painted():
    switches = [Switch(5, "running"), Switch(40, None), Switch(60, "running"), Switch(90, "walking"),
                Switch(150, None), Switch(170, "jumping")]
    painted = paint(VIDEO, switches)
    assert not scenes.refused(painted)
    cmd = PaintScenes(**COMMON, annotation_ids=[str(i) * 24 for i in range(len(painted))],
                      switches=[SwitchIn(frame=s.frame, label=s.label) for s in switches])
    for i, scene in enumerate(painted):
        doc = new_scene_annotation(cmd, scene, cmd.annotation_ids[i], i + 1, "http://testserver")
        assert ours(doc) == scene  # the stored document, which keeps whether it is open
        assert_same_frames(parse(exported(doc)), scene)


edits = st.lists(st.one_of(
    st.tuples(st.just(HideFrames), st.integers(1, 286), st.integers(0, 40)),
    st.tuples(st.just(UnhideFrames), st.integers(0, 286), st.integers(0, 40)),
    st.tuples(st.just(ChangeSceneLabel), st.integers(0, 286), st.sampled_from(("running", "walking"))),
    st.tuples(st.just(SetSceneEnd), st.one_of(st.none(), st.integers(0, 286)), st.none()),
), max_size=12)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 200), edits)
def test_dtlpy_agrees_with_us_on_every_frame_of_random_scenes(first, steps):
    doc = start("f" * 24, first, "running")
    for kind, frame, extra in steps:
        fields = {HideFrames: lambda: {"first": frame, "last": frame + extra},
                  UnhideFrames: lambda: {"first": frame, "last": frame + extra},
                  ChangeSceneLabel: lambda: {"frame": frame, "label": extra},
                  SetSceneEnd: lambda: {"end_frame": frame}}[kind]()
        new = updated_scene(doc, kind(**COMMON, annotation_id=doc["_id"], **fields))
        doc = new[0] if isinstance(new, tuple) else doc  # refused edits change nothing
    ann = exported(doc)
    assert_same_frames(parse(ann), ours(ann))
