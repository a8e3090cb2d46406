"""Play-to-paint: label switches recorded while a video played, turned into scenes. Pure.

A switch `(frame, label)` means "from this frame on, the video shows `label`"; a switch to
None means "from here on, nothing". Each switch holds until the next one, the last one until
`stop` (default: the last frame of the video). The choices:

- Switches come in playing order: frames never decrease. Several switches on one frame:
  the last one wins (two keys pressed within a frame).
- A stretch of one label becomes one scene. Two different labels one after the other make
  two adjacent scenes (never one scene with a label change: one label per scene keeps
  "which scenes say X" a plain query).
- A None stretch between two stretches of the same label is a hidden gap inside one scene
  (L, None, L, None, L is one scene with two hidden ranges). Any other None stretch (at the
  start, at the end, or between different labels) is simply not covered by a scene.
- The last scene is open (it lasts to the end of the video) when its stretch reaches the
  last frame and no `stop` was given; with `stop` it ends there, closed.
- The scenes are new: scenes already on the item are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.rules.labels import Problem
from shared.rules.scenes import Scene, Video, merge


@dataclass(frozen=True)
class Switch:
    frame: int
    label: str | None


@dataclass(frozen=True)
class Stretch:
    first: int
    last: int
    label: str | None


def _problems(video: Video, switches: list[Switch], stop: int | None) -> list[Problem]:
    if not switches:
        return [Problem("switches", "must hold at least one switch")]
    problems = []
    for i, switch in enumerate(switches):
        if not 0 <= switch.frame <= video.last_frame:
            problems.append(Problem(f"switches[{i}].frame",
                                    f"must be a frame of the video: 0 to {video.last_frame}"))
        elif i and switch.frame < switches[i - 1].frame:
            problems.append(Problem(f"switches[{i}].frame",
                                    "must not be before the previous switch (playing order)"))
        if switch.label == "":
            problems.append(Problem(f"switches[{i}].label", "must be a label or null"))
    if stop is not None and not max(s.frame for s in switches) <= stop <= video.last_frame:
        problems.append(Problem("stopFrame", "must be a frame of the video, not before the "
                                f"last switch: up to {video.last_frame}"))
    return problems


def stretches(switches: list[Switch], stop: int) -> list[Stretch]:
    """Contiguous stretches, each a different value from its neighbours."""
    last_of_frame = {s.frame: s.label for s in switches}  # later switches on a frame win
    frames = sorted(last_of_frame)
    out: list[Stretch] = []
    for i, frame in enumerate(frames):
        label = last_of_frame[frame]
        last = frames[i + 1] - 1 if i + 1 < len(frames) else stop
        if out and out[-1].label == label:
            out[-1] = Stretch(out[-1].first, last, label)
        else:
            out.append(Stretch(frame, last, label))
    return out


def paint(video: Video, switches: list[Switch],
          stop: int | None = None) -> list[Scene] | list[Problem]:
    """The scenes the switches paint, in frame order; or what is wrong with them."""
    if problems := _problems(video, switches, stop):
        return problems
    runs = stretches(switches, video.last_frame if stop is None else stop)
    spans: list[tuple[str, int, int, list[tuple[int, int]]]] = []  # label, first, last, gaps
    gap: Stretch | None = None
    for run in runs:
        if run.label is None:
            gap = run
            continue
        resumes = gap is not None and spans and spans[-1][0] == run.label
        if resumes and gap is not None and spans[-1][2] + 1 == gap.first:
            label, first, _, gaps = spans[-1]
            spans[-1] = (label, first, run.last, gaps + [(gap.first, gap.last)])
        else:
            spans.append((run.label, run.first, run.last, []))
        gap = None
    if not spans:
        return [Problem("switches", "paint no label: every switch is null")]
    return [
        Scene(video, first, last, ((first, label),), merge(gaps),
              open=stop is None and last == video.last_frame)
        for label, first, last, gaps in spans
    ]
