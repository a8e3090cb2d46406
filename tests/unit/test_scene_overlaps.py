"""Scenes in a single-class task (shared.rules.scene_overlaps): a video's scenes never share a frame.
A scene that takes frames cuts the scenes that held them; an end nobody named gives way."""

from __future__ import annotations

import pytest

from shared.rules import scenes
from shared.rules.scene_overlaps import cut, gives_way, make_room
from shared.rules.scenes import Scene, Video

pytestmark = pytest.mark.unit

VIDEO = Video(fps=25, frame_count=100, duration=4.0)


def scene(start: int, end: int | None = None, label: str = "day") -> Scene:
    made = scenes.start_scene(VIDEO, start, label, end)
    assert isinstance(made, Scene)
    return made


def span(s: Scene) -> tuple[int, int, bool]:
    return s.start, s.end, s.open


def test_a_scene_started_with_no_end_runs_up_to_the_next_scene_not_over_it():
    later = [scene(60, 79, "night"), scene(20, 39, "dusk")]
    assert span(gives_way(scene(45), later)) == (45, 59, False)
    assert span(gives_way(scene(80), later)) == (80, 99, True)  # nothing after: to the end
    assert span(gives_way(scene(45, 70), later)) == (45, 70, False)  # a named end takes


def test_a_cut_shortens_splits_or_deletes():
    assert [span(p) for p in cut(scene(10), 50, 99)] == [(10, 49, False)]
    assert [span(p) for p in cut(scene(10, 60), 0, 30)] == [(31, 60, False)]
    assert [span(p) for p in cut(scene(10), 30, 40)] == [(10, 29, False), (41, 99, True)]
    assert cut(scene(10, 20), 5, 25) == []
    assert cut(scene(10, 20), 21, 30) == [scene(10, 20)]


def test_a_piece_starting_hidden_starts_at_its_first_visible_frame_and_keeps_its_labels():
    s = scenes.change_label(scenes.hide(scene(10, 80), 41, 49), 60, "night")
    tail = cut(s, 30, 40)[1]
    assert span(tail) == (50, 80, False) and tail.hidden == ()
    assert tail.labels == ((50, "day"), (60, "night"))
    assert cut(scenes.hide(scene(10, 49), 41, 49), 30, 40) == [scene(10, 29)]  # no visible tail


def test_room_is_made_in_every_scene_the_claims_cover():
    others = {"a": scene(0, 29), "b": scene(30, 69, "night"), "c": scene(70, 79), "d": scene(85)}
    room = make_room([scene(20, 40, "dusk"), scene(75, 90, "dusk")], others)
    assert {i: span(s) for i, s in room.kept.items()} == {
        "a": (0, 19, False), "b": (41, 69, False), "c": (70, 74, False), "d": (91, 99, True)}
    assert room.split == {} and room.deleted == []
    inside = make_room([scene(40, 50)], {"b": scene(30, 69), "e": scene(42, 45)})
    assert span(inside.kept["b"]) == (30, 39, False)
    assert [span(p) for p in inside.split["b"]] == [(51, 69, False)]
    assert inside.deleted == ["e"]
    assert not make_room([scene(40, 50)], {"f": scene(0, 39)})
