"""The frame arithmetic of video scenes (shared.rules.scenes, shared.rules.painting): examples that read
as the rules, and property-based runs of random edit sequences against a naive model that
keeps one (label, hidden) entry per frame."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contracts.envelope import Actor
from shared.contracts.scene_commands import (
    SCENE_COMMAND,
    ChangeSceneLabel,
    DeleteScene,
    HideFrames,
    MoveSceneStart,
    PaintScenes,
    SetSceneEnd,
    StartScene,
    SwitchIn,
    UnhideFrames,
)
from shared.rules import scenes
from shared.rules.painting import Switch, paint
from shared.rules.scenes import FrameState, Scene, Video

pytestmark = pytest.mark.unit

VIDEO = Video(fps=25, frame_count=100, duration=4.0)
LABELS = ("run", "walk", "jump")


def scene(start: int = 10, end: int | None = None, label: str = "run") -> Scene:
    made = scenes.start_scene(VIDEO, start, label, end)
    assert isinstance(made, Scene), made
    return made


def ok(outcome) -> Scene:
    assert isinstance(outcome, Scene), outcome
    return outcome


def fields(outcome) -> list[str]:
    assert isinstance(outcome, list), outcome
    return [p.field for p in outcome]


# --- the rules, by example ------------------------------------------------------------------


def test_a_started_scene_lasts_to_the_last_frame_of_the_video_until_an_end_is_set():
    s = scene(10)
    assert (s.start, s.end, s.open) == (10, 99, True)
    system = scenes.to_system(s)
    assert system == {"frame": 10, "endFrame": 99, "startTime": 0.4, "endTime": 4.0, "snapshots_": []}
    closed = ok(scenes.set_end(s, 60))
    assert not closed.open and scenes.to_system(closed)["endTime"] == 60 / 25


def test_an_open_scene_is_never_written_with_a_null_end_frame():
    assert scenes.to_system(scene(0))["endFrame"] == VIDEO.last_frame


def test_a_scene_can_be_opened_again_to_the_end():
    again = ok(scenes.set_end(ok(scenes.set_end(scene(10), 40)), None))
    assert again.open and again.end == 99


def test_frames_outside_the_video_are_refused():
    assert fields(scenes.start_scene(VIDEO, 100, "run")) == ["frame"]
    assert fields(scenes.start_scene(VIDEO, -1, "run")) == ["frame"]
    assert fields(scenes.start_scene(VIDEO, 5, "run", 100)) == ["endFrame"]
    assert fields(scenes.set_end(scene(10), 120)) == ["endFrame"]
    assert fields(scenes.move_start(scene(10), -3)) == ["frame"]


def test_an_end_before_the_start_is_refused():
    assert fields(scenes.start_scene(VIDEO, 50, "run", 40)) == ["endFrame"]
    assert fields(scenes.set_end(scene(50), 49)) == ["endFrame"]
    assert fields(scenes.move_start(ok(scenes.set_end(scene(10), 20)), 21)) == ["frame"]


def test_a_one_frame_scene_is_allowed():
    s = ok(scenes.set_end(scene(30), 30))
    assert s.frames() == [FrameState("run", False)]


def test_a_hidden_range_is_two_key_frames_hidden_then_visible():
    s = ok(scenes.hide(scene(10), 20, 29))
    assert [(k["frame"], k["objectVisible"]) for k in scenes.to_system(s)["snapshots_"]] == [
        (20, False), (30, True)]
    assert scenes.to_system(s)["snapshots_"][0] == {
        "frame": 20, "fixed": True, "type": "class", "label": "run", "objectVisible": False,
        "data": [], "attributes": [], "namedAttributes": {}}


def test_a_scene_hidden_to_its_end_has_no_visible_key_frame_after():
    s = ok(scenes.hide(scene(10), 90, 99))
    assert [(k["frame"], k["objectVisible"]) for k in scenes.to_system(s)["snapshots_"]] == [(90, False)]


def test_hidden_ranges_that_overlap_or_touch_merge():
    s = ok(scenes.hide(ok(scenes.hide(ok(scenes.hide(scene(10), 20, 25)), 26, 30)), 28, 40))
    assert s.hidden == ((20, 40),)


def test_unhiding_the_middle_of_a_hidden_range_splits_it():
    s = ok(scenes.unhide(ok(scenes.hide(scene(10), 20, 40)), 25, 30))
    assert s.hidden == ((20, 24), (31, 40))


def test_a_scene_cannot_start_hidden():
    assert fields(scenes.hide(scene(10), 10, 20)) == ["from"]
    hidden = ok(scenes.hide(scene(10), 20, 30))
    assert fields(scenes.move_start(hidden, 25)) == ["frame"]
    assert ok(scenes.move_start(hidden, 31)).hidden == ()


def test_a_hidden_range_outside_the_scene_is_refused():
    s = ok(scenes.set_end(scene(10), 50))
    assert fields(scenes.hide(s, 40, 60)) == ["to"]
    assert fields(scenes.hide(s, 5, 20)) == ["from"]
    assert fields(scenes.unhide(s, 51, 55)) == ["to"]
    assert fields(scenes.hide(s, 30, 20)) == ["to"]


def test_a_label_changes_from_a_key_frame_until_the_next_label_change():
    s = ok(scenes.change_label(scene(10), 50, "walk"))
    s = ok(scenes.change_label(s, 30, "jump"))
    assert s.labels == ((10, "run"), (30, "jump"), (50, "walk"))
    assert ok(scenes.change_label(s, 30, "run")).labels == ((10, "run"), (50, "walk"))
    assert fields(scenes.change_label(s, 5, "walk")) == ["fromFrame"]


def test_changing_the_first_label_changes_the_annotations_label():
    s = ok(scenes.change_label(ok(scenes.change_label(scene(10), 50, "walk")), 10, "jump"))
    assert s.label == "jump" and s.labels == ((10, "jump"), (50, "walk"))


def test_cutting_the_end_drops_later_key_frames_and_clips_hidden_ranges():
    s = ok(scenes.hide(ok(scenes.change_label(scene(10), 50, "walk")), 40, 60))
    cut = ok(scenes.set_end(s, 45))
    assert cut.labels == ((10, "run"),) and cut.hidden == ((40, 45),)


def test_frames_added_at_the_end_continue_the_last_frames_state():
    s = ok(scenes.set_end(ok(scenes.hide(scene(10), 40, 45)), 45))
    assert ok(scenes.set_end(s, 70)).hidden == ((40, 70),)


def test_moving_the_start_earlier_extends_the_first_label():
    s = ok(scenes.move_start(ok(scenes.change_label(scene(10), 50, "walk")), 2))
    assert s.labels == ((2, "run"), (50, "walk")) and s.state_at(3) == FrameState("run", False)


def test_several_scenes_may_overlap_with_different_labels():
    a, b = scene(10, 60, "run"), scene(40, None, "walk")
    assert [x.state_at(50) for x in (a, b)] == [FrameState("run", False), FrameState("walk", False)]
    assert a.state_at(70) is None


def test_a_dataloop_scene_reads_back_as_the_same_scene():
    s = ok(scenes.hide(ok(scenes.change_label(scene(10), 50, "walk")), 45, 99))
    doc = {"type": "class", "label": s.label, "metadata": {"system": scenes.to_system(s)},
           scenes.SCENE_FIELD: {"open": True}}
    assert scenes.from_annotation(json.loads(json.dumps(doc)), VIDEO) == s


def test_dataloop_json_with_snapshots_past_the_end_or_a_null_end_is_refused():
    system = scenes.to_system(scene(10, 20))
    assert scenes.refused(scenes.from_system(system | {"endFrame": None}, "run", VIDEO))
    late = system | {"snapshots_": [scenes.snapshot(21, "run", False, {})]}
    assert scenes.refused(scenes.from_system(late, "run", VIDEO))


def test_an_image_annotation_is_not_a_scene():
    image = {"type": "class", "label": "run", "metadata": {"system": {"attributes": {}}}}
    assert fields(scenes.from_annotation(image, VIDEO)) == ["annotation"]


def test_snapshots_carry_the_scenes_attributes():
    system = scenes.to_system(ok(scenes.hide(scene(10), 20, 30)), {"speed": "fast"})
    assert all(k["namedAttributes"] == {"speed": "fast"} for k in system["snapshots_"])


# --- play-to-paint ----------------------------------------------------------------------------


def spans(painted) -> list[tuple]:
    assert not scenes.refused(painted), painted
    return [(s.label, s.start, s.end, s.hidden, s.open) for s in painted]


def test_painting_makes_one_scene_per_stretch_of_a_label():
    painted = paint(VIDEO, [Switch(5, "run"), Switch(20, "walk"), Switch(30, None)])
    assert spans(painted) == [("run", 5, 19, (), False), ("walk", 20, 29, (), False)]


def test_a_gap_between_two_stretches_of_the_same_label_is_hidden_in_one_scene():
    switches = [Switch(5, "run"), Switch(10, None), Switch(15, "run"), Switch(20, None),
                Switch(22, "run")]
    assert spans(paint(VIDEO, switches, 40)) == [("run", 5, 40, ((10, 14), (20, 21)), False)]


def test_a_gap_between_different_labels_is_left_uncovered():
    painted = paint(VIDEO, [Switch(0, "run"), Switch(10, None), Switch(15, "walk")], 50)
    assert spans(painted) == [("run", 0, 9, (), False), ("walk", 15, 50, (), False)]


def test_a_painted_stretch_reaching_the_end_without_a_stop_is_open():
    assert spans(paint(VIDEO, [Switch(90, "run")])) == [("run", 90, 99, (), True)]


def test_the_last_switch_on_a_frame_wins_and_repeats_are_one_stretch():
    painted = paint(VIDEO, [Switch(0, "run"), Switch(0, "walk"), Switch(5, "walk")], 9)
    assert spans(painted) == [("walk", 0, 9, (), False)]


def test_bad_switches_are_refused():
    assert fields(paint(VIDEO, [])) == ["switches"]
    assert fields(paint(VIDEO, [Switch(10, "run"), Switch(5, None)])) == ["switches[1].frame"]
    assert fields(paint(VIDEO, [Switch(100, "run")])) == ["switches[0].frame"]
    assert fields(paint(VIDEO, [Switch(10, "run")], 5)) == ["stopFrame"]
    assert fields(paint(VIDEO, [Switch(10, None)])) == ["switches"]


# --- a naive per-frame model, and random edit sequences against it -------------------------


@dataclass
class Naive:
    start: int
    frames: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.start + len(self.frames) - 1

    def at(self, f: int) -> tuple[str, bool]:
        return self.frames[f - self.start]

    def apply(self, op: tuple) -> bool:
        """Apply `op` if the rules allow it; whether they did."""
        kind, *args = op
        last = VIDEO.last_frame
        if kind == "end":
            (e,) = args
            e = last if e is None else e
            if not (0 <= e <= last and e >= self.start):
                return False
            keep = self.frames[: e - self.start + 1]
            self.frames = keep + [keep[-1]] * (e - self.end)
        elif kind == "start":
            (s,) = args
            if not (0 <= s <= last and s <= self.end) or (s > self.start and self.at(s)[1]):
                return False
            if s < self.start:
                self.frames = [(self.frames[0][0], False)] * (self.start - s) + self.frames
            else:
                self.frames = self.frames[s - self.start:]
            self.start = s
        elif kind == "label":
            f, label = args
            if not self.start <= f <= self.end:
                return False
            i = f - self.start
            j = next((j for j in range(i + 1, len(self.frames))
                      if self.frames[j][0] != self.frames[j - 1][0]), len(self.frames))
            self.frames[i:j] = [(label, h) for _, h in self.frames[i:j]]
        else:
            a, b = args
            if not (a <= b and self.start <= a and b <= self.end) or (kind == "hide" and a == self.start):
                return False
            for f in range(a, b + 1):
                self.frames[f - self.start] = (self.at(f)[0], kind == "hide")
        return True


def real(s: Scene, op: tuple):
    kind, *args = op
    return {"end": scenes.set_end, "start": scenes.move_start, "label": scenes.change_label,
            "hide": scenes.hide, "unhide": scenes.unhide}[kind](s, *args)


# A frame is either absolute (often outside the scene or the video, to test refusals) or
# relative to the scene as it is when the edit comes (0.0: its start, 1.0: its end).
frames = st.one_of(st.integers(min_value=-2, max_value=VIDEO.frame_count + 1),
                   st.floats(0, 1).map(lambda x: ("rel", x)))
ops = st.one_of(
    st.tuples(st.just("end"), st.one_of(st.none(), frames)),
    st.tuples(st.just("start"), frames),
    st.tuples(st.just("label"), frames, st.sampled_from(LABELS)),
    st.tuples(st.just("hide"), frames, frames),
    st.tuples(st.just("unhide"), frames, frames),
    st.tuples(st.sampled_from(("hide", "hide", "unhide")), st.floats(0, 1), st.floats(0, 1)).map(
        lambda t: (t[0], ("rel", min(t[1:])), ("rel", max(t[1:])))),
)


def resolve(op: tuple, s: Scene) -> tuple:
    def frame(x):
        if isinstance(x, tuple):
            return s.start + round(x[1] * (s.end - s.start))
        return x
    return tuple(frame(x) for x in op)


def assert_well_formed(s: Scene) -> None:
    keys = [f for f, _ in s.labels]
    assert keys[0] == s.start and keys == sorted(set(keys)) and keys[-1] <= s.end
    assert all(a[1] != b[1] for a, b in zip(s.labels, s.labels[1:]))
    for a, b in s.hidden:
        assert s.start < a <= b <= s.end
    assert all(x[1] + 1 < y[0] for x, y in zip(s.hidden, s.hidden[1:]))
    assert not s.open or s.end == VIDEO.last_frame


def changes(naive: Naive) -> int:
    return sum(naive.frames[i] != naive.frames[i - 1] for i in range(1, len(naive.frames)))


@settings(max_examples=400, deadline=None)
@given(start=st.integers(0, VIDEO.last_frame), label=st.sampled_from(LABELS),
       edits=st.lists(ops, max_size=25))
def test_random_edits_match_the_per_frame_model(start, label, edits):
    s = scene(start, label=label)
    naive = Naive(start, [(label, False)] * (VIDEO.frame_count - start))
    for op in edits:
        op = resolve(op, s)
        outcome = real(s, op)
        allowed = naive.apply(op)
        assert allowed == (not scenes.refused(outcome)), (op, s, outcome)
        if allowed:
            s = outcome
        assert_well_formed(s)
        assert (s.start, s.end) == (naive.start, naive.end)
        assert [(x.label, x.hidden) for x in s.frames()] == naive.frames
    # Dataloop JSON holds key frames only, and reads back as the same frames.
    system = json.loads(json.dumps(scenes.to_system(s)))
    assert len(system["snapshots_"]) == changes(naive)
    assert scenes.from_system(system, s.label, VIDEO, s.open) == s


def per_frame_paint(switches: list[Switch], stop: int) -> dict[int, str | None]:
    value: dict[int, str | None] = {}
    for sw in switches:
        for f in range(sw.frame, stop + 1):
            value[f] = sw.label
    return value


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from((*LABELS[:2], None))),
                min_size=1, max_size=12),
       st.one_of(st.none(), st.integers(40, VIDEO.last_frame)))
def test_painted_scenes_cover_what_was_painted_with_hidden_gaps(raw, stop):
    switches = [Switch(f, label) for f, label in sorted(raw, key=lambda x: x[0])]
    painted = paint(VIDEO, switches, stop)
    value = per_frame_paint(switches, VIDEO.last_frame if stop is None else stop)
    if all(v is None for v in value.values()):
        assert scenes.refused(painted)
        return
    assert not scenes.refused(painted)
    for f in range(VIDEO.frame_count):
        on = [x for s in painted if (x := s.state_at(f)) is not None]
        assert len(on) <= 1  # painted scenes never overlap
        if value.get(f) is not None:
            assert on == [FrameState(value[f], False)]
        elif on:  # a gap: hidden, and the same label is painted right before and after it
            before = next(value[g] for g in range(f, -1, -1) if value.get(g) is not None)
            after = next(value[g] for g in range(f, VIDEO.frame_count) if value.get(g) is not None)
            assert on == [FrameState(before, True)] and before == after
    for s in painted:
        assert_well_formed(s)
        assert len(set(s.frames()) - {FrameState(s.label, True)}) == 1  # one label per scene


# --- the commands on the wire -----------------------------------------------------------------

ACTOR = Actor(user_id="u1", email="ann@example.com", role="manager")
COMMON = dict(actor=ACTOR, item_id="i1", dataset_id="d1", project_id="p1", recipe_id="r1",
              video=VIDEO, annotation_id="a1")
SAMPLES = [
    StartScene(**COMMON, frame=3, label="run", attributes={"speed": "fast"}, task_id="t1",
               assignment_id="as1"),
    StartScene(**COMMON, frame=3, end_frame=9, label="run"),
    SetSceneEnd(**COMMON, end_frame=40),
    SetSceneEnd(**COMMON),
    MoveSceneStart(**COMMON, frame=2),
    ChangeSceneLabel(**COMMON, frame=20, label="walk"),
    HideFrames(**COMMON, first=4, last=8),
    UnhideFrames(**COMMON, first=5, last=5),
    DeleteScene(**COMMON),
    PaintScenes(**{k: v for k, v in COMMON.items() if k != "annotation_id"},
                annotation_ids=["a1", "a2"], stop_frame=50,
                switches=[SwitchIn(frame=0, label="run"), SwitchIn(frame=10)]),
]


@pytest.mark.contract
@pytest.mark.parametrize("command", SAMPLES, ids=lambda c: c.type)
def test_a_scene_command_survives_json_through_the_scene_stream_reader(command):
    wire = json.loads(json.dumps(command.wire()))
    assert not [k for k in wire if "_" in k] and wire["type"] == type(command).__name__
    assert wire["video"] == {"fps": 25.0, "frameCount": 100, "duration": 4.0}
    read = SCENE_COMMAND.validate_python(wire)
    assert read == command and type(read) is type(command)
