"""Video scenes: the pure frame model of a class annotation over a range of frames, and its
Dataloop JSON (dataloop.md 1.4). No I/O.

A scene covers frames `start`..`end`, both inclusive. Its label may change at key frames
(`labels`: the frames where a label starts; the first is `start`) and stretches of it may be
hidden (`hidden`: inclusive ranges, sorted, never touching, never including `start`: a scene
cannot start hidden). An `open` scene lasts to the last frame of the video: it is stored
closed at `frameCount - 1` with `endTime = duration`, and the flag is kept apart.

Every operation returns a new Scene, or the Problems that refused it (then nothing changed).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace
from typing import Any

from shared.contracts.scene_commands import (
    ChangeSceneLabel,
    HideFrames,
    MoveSceneStart,
    OnScene,
    SetSceneEnd,
    UnhideFrames,
    Video,
)
from shared.rules.labels import Problem

Range = tuple[int, int]
SCENE_FIELD = "_scene"  # internal field of a stored scene: {"open", "applied", "last"}


@dataclass(frozen=True)
class FrameState:
    label: str
    hidden: bool


@dataclass(frozen=True)
class Scene:
    video: Video
    start: int
    end: int
    labels: tuple[tuple[int, str], ...]
    hidden: tuple[Range, ...] = ()
    open: bool = False

    @property
    def label(self) -> str:
        """The label at the first frame: the annotation's top-level `label`."""
        return self.labels[0][1]

    def label_at(self, frame: int) -> str:
        return self.labels[bisect_right([f for f, _ in self.labels], frame) - 1][1]

    def hidden_at(self, frame: int) -> bool:
        i = bisect_right([a for a, _ in self.hidden], frame) - 1
        return i >= 0 and frame <= self.hidden[i][1]

    def state_at(self, frame: int) -> FrameState | None:
        """The scene at `frame`; None outside the scene."""
        if not self.start <= frame <= self.end:
            return None
        return FrameState(self.label_at(frame), self.hidden_at(frame))

    def frames(self) -> list[FrameState]:
        """Every frame's state, `start` to `end`."""
        return [self.state_at(f) for f in range(self.start, self.end + 1)]  # type: ignore[misc]


Outcome = Scene | list[Problem]


def refused(outcome: Any) -> bool:
    """Whether an outcome is a refusal: a list of Problems (never an empty one)."""
    return isinstance(outcome, list) and (not outcome or isinstance(outcome[0], Problem))


# --- ranges and label keys ------------------------------------------------------------------


def merge(ranges: list[Range]) -> tuple[Range, ...]:
    """Sorted, with overlapping and touching ranges joined."""
    out: list[Range] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


def subtract(ranges: tuple[Range, ...], first: int, last: int) -> tuple[Range, ...]:
    """`ranges` without frames `first`..`last` (a range across them splits in two)."""
    out: list[Range] = []
    for a, b in ranges:
        if b < first or a > last:
            out.append((a, b))
            continue
        if a < first:
            out.append((a, first - 1))
        if b > last:
            out.append((last + 1, b))
    return tuple(out)


def _labels(keys: list[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    """Key frames where the label really changes."""
    out: list[tuple[int, str]] = []
    for frame, label in keys:
        if not out or out[-1][1] != label:
            out.append((frame, label))
    return tuple(out)


# --- checks ---------------------------------------------------------------------------------


def _in_video(video: Video, field: str, frame: int) -> list[Problem]:
    if 0 <= frame <= video.last_frame:
        return []
    return [Problem(field, f"must be a frame of the video: 0 to {video.last_frame}")]


def _in_scene(scene: Scene, first: int, last: int) -> list[Problem]:
    if last < first:
        return [Problem("to", f"must not be before 'from' ({first})")]
    if first < scene.start or last > scene.end:
        where = f"the range must lie within the scene, frames {scene.start} to {scene.end}"
        return [Problem("from" if first < scene.start else "to", where)]
    return []


def _label(label: str) -> list[Problem]:
    return [] if label else [Problem("label", "must not be empty")]


# --- operations -----------------------------------------------------------------------------


def start_scene(video: Video, frame: int, label: str, end: int | None = None) -> Outcome:
    """A scene from `frame`; without `end` it is open: it lasts to the video's last frame."""
    problems = _in_video(video, "frame", frame) + _label(label)
    if end is not None:
        problems += _in_video(video, "endFrame", end)
        if end < frame:
            problems.append(Problem("endFrame", f"must not be before the start frame {frame}"))
    if problems:
        return problems
    last = video.last_frame if end is None else end
    return Scene(video, frame, last, ((frame, label),), (), open=end is None)


def set_end(scene: Scene, end: int | None) -> Outcome:
    """Cut or extend the scene at `end` (None: open again, to the video's last frame).
    Frames added at the end continue the state of the old last frame, hidden or not."""
    video = scene.video
    frame = video.last_frame if end is None else end
    problems = _in_video(video, "endFrame", frame)
    if frame < scene.start:
        problems.append(Problem("endFrame",
                                f"must not be before the scene's start frame {scene.start}"))
    if problems:
        return problems
    if frame < scene.end:
        labels = tuple(k for k in scene.labels if k[0] <= frame)
        hidden = tuple((a, min(b, frame)) for a, b in scene.hidden if a <= frame)
    else:
        labels = scene.labels
        hidden = tuple((a, frame if b == scene.end else b) for a, b in scene.hidden)
    return replace(scene, end=frame, labels=labels, hidden=hidden, open=end is None)


def move_start(scene: Scene, frame: int) -> Outcome:
    """Start the scene at `frame`. Frames added before it take the first frame's label; a
    later start keeps the state there, which must be visible."""
    problems = _in_video(scene.video, "frame", frame)
    if frame > scene.end:
        problems.append(Problem("frame", f"must not be after the scene's end frame {scene.end}"))
    elif frame > scene.start and scene.hidden_at(frame):
        problems.append(Problem("frame", f"frame {frame} is hidden and a scene cannot start "
                                "hidden: start it at the first visible frame instead"))
    if problems:
        return problems
    if frame <= scene.start:
        return replace(scene, start=frame, labels=((frame, scene.label),) + scene.labels[1:])
    labels = [(frame, scene.label_at(frame))] + [k for k in scene.labels if k[0] > frame]
    hidden = tuple(r for r in scene.hidden if r[0] > frame)
    return replace(scene, start=frame, labels=_labels(labels), hidden=hidden)


def change_label(scene: Scene, frame: int, label: str) -> Outcome:
    """`label` from key frame `frame` until the scene's next label change (or its end)."""
    problems = _label(label)
    if not scene.start <= frame <= scene.end:
        problems.append(Problem("fromFrame",
                                f"must be a frame of the scene: {scene.start} to {scene.end}"))
    if problems:
        return problems
    keys = [k for k in scene.labels if k[0] < frame] + [(frame, label)]
    keys += [k for k in scene.labels if k[0] > frame]
    return replace(scene, labels=_labels(keys))


def hide(scene: Scene, first: int, last: int) -> Outcome:
    """Hide frames `first`..`last`; joins the hidden ranges it overlaps or touches."""
    problems = _in_scene(scene, first, last)
    if not problems and first == scene.start:
        problems.append(Problem("from", f"the scene's first frame {scene.start} cannot be hidden: "
                                "move the scene's start to its first visible frame instead"))
    if problems:
        return problems
    return replace(scene, hidden=merge([*scene.hidden, (first, last)]))


def unhide(scene: Scene, first: int, last: int) -> Outcome:
    """Show frames `first`..`last` again; splits a hidden range around them."""
    if problems := _in_scene(scene, first, last):
        return problems
    return replace(scene, hidden=subtract(scene.hidden, first, last))


# --- Dataloop JSON ----------------------------------------------------------------------------


def key_frames(scene: Scene) -> list[int]:
    """Frames after the first where something changes: a label, hidden on, hidden off."""
    keys = {f for f, _ in scene.labels[1:]}
    for a, b in scene.hidden:
        keys.add(a)
        if b < scene.end:
            keys.add(b + 1)
    return sorted(keys)


def snapshot(frame: int, label: str, visible: bool, attributes: dict[str, Any]) -> dict[str, Any]:
    return {"frame": frame, "fixed": True, "type": "class", "label": label,
            "objectVisible": visible, "data": [], "attributes": [],
            "namedAttributes": dict(attributes)}


def to_system(scene: Scene, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The video keys of `metadata.system`, as the studio writes them: key frames only."""
    video, attrs = scene.video, attributes or {}
    snaps = [snapshot(k, scene.label_at(k), not scene.hidden_at(k), attrs)
             for k in key_frames(scene)]
    return {
        "frame": scene.start,
        "endFrame": scene.end,
        "startTime": video.time(scene.start),
        "endTime": video.duration if scene.open else video.time(scene.end),
        "snapshots_": snaps,
    }


def from_system(system: dict[str, Any], label: str, video: Video, open: bool = False) -> Outcome:
    """The scene a Dataloop annotation describes (label at `frame`, then its snapshots)."""
    start, end = system.get("frame"), system.get("endFrame")
    if not isinstance(start, int) or not isinstance(end, int) or end < start or start < 0:
        return [Problem("metadata.system", "a scene needs integer frame <= endFrame")]
    snaps = sorted(system.get("snapshots_") or [], key=lambda s: s.get("frame", -1))
    if any(not isinstance(s.get("frame"), int) or not start < s["frame"] <= end for s in snaps):
        return [Problem("metadata.system.snapshots_", f"key frames must lie in {start + 1}..{end}")]
    keys, hidden, current, hidden_from = [(start, label)], [], label, None
    for snap in snaps:
        current = snap.get("label") or current
        keys.append((snap["frame"], current))
        visible = snap.get("objectVisible", True) is not False
        if not visible and hidden_from is None:
            hidden_from = snap["frame"]
        elif visible and hidden_from is not None:
            hidden.append((hidden_from, snap["frame"] - 1))
            hidden_from = None
    if hidden_from is not None:
        hidden.append((hidden_from, end))
    return Scene(video, start, end, _labels(keys), merge(hidden), open and end == video.last_frame)


def is_scene(doc: dict[str, Any]) -> bool:
    system = (doc.get("metadata") or {}).get("system") or {}
    return doc.get("type") == "class" and isinstance(system.get("frame"), int) \
        and isinstance(system.get("endFrame"), int)


def from_annotation(doc: dict[str, Any], video: Video) -> Outcome:
    """The scene of a stored annotation document (Dataloop JSON plus our internal fields)."""
    if not is_scene(doc):
        return [Problem("annotation", "is not a video scene")]
    is_open = bool((doc.get(SCENE_FIELD) or {}).get("open"))
    return from_system(doc["metadata"]["system"], doc["label"], video, is_open)


# --- commands on a scene --------------------------------------------------------------------

_ON_SCENE: dict[type, Any] = {
    SetSceneEnd: lambda c, s: set_end(s, c.end_frame),
    MoveSceneStart: lambda c, s: move_start(s, c.frame),
    ChangeSceneLabel: lambda c, s: change_label(s, c.frame, c.label),
    HideFrames: lambda c, s: hide(s, c.first, c.last),
    UnhideFrames: lambda c, s: unhide(s, c.first, c.last),
}


def apply(command: OnScene, scene: Scene) -> Outcome:
    """The scene after a command on it, or the problems that refuse it (pure). Commands
    that are not edits of a scene (start, delete, paint) have no entry: a caller asking for
    one is a bug."""
    rule = _ON_SCENE.get(type(command))
    if rule is None:
        raise NotImplementedError(command.type)
    return rule(command, scene)  # type: ignore[no-any-return]
