"""Scenes in a single-class task: one class per frame, so a video's scenes never share a frame.
Pure; the annotation service applies it to scene commands a single-class task forwarded.

Image classification's "one class per item" does not mean one scene per video: a video holds
many scenes, one after the other. The rule, as a video editor's timeline behaves:

- The frames a scene covers (`start`..`end`, its hidden stretches included: they are still
  its frames) are its own. A new scene, or one whose start or end moved, takes its frames
  from the scenes that held them: those are cut there, i.e. shortened, split in two around
  it, or deleted when nothing of them is left.
- An end nobody named gives way. A scene started with no end (or opened again) lasts "to the
  end", which in a single-class task means up to the next scene that starts after it: one
  key press at frame 50 inserts a scene there and never wipes the work after it.
  Ends that were named (a set or dragged end, a painted stretch, which was played) take
  what they cover.
- A piece left over keeps the state it had on its frames; it cannot start hidden, so a piece
  whose first frames are hidden starts at its first visible frame (hidden frames show
  nothing), and a piece with no visible frame is deleted.
- Painting "none" stops painting: the frames painted none keep the scenes they had.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.rules import scenes
from shared.rules.scenes import Scene


@dataclass(frozen=True)
class Room:
    """What the other scenes become to make room. `kept[id]`: the scene shortened (its first
    piece keeps the annotation); `split[id]`: its further pieces, new scenes; `deleted`: the
    scenes nothing is left of. Scenes not named are unchanged."""

    kept: dict[str, Scene] = field(default_factory=dict)
    split: dict[str, list[Scene]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.kept or self.split or self.deleted)


def gives_way(scene: Scene, others: Iterable[Scene]) -> Scene:
    """An open scene (an end nobody named) ends before the next scene starting after it."""
    if not scene.open:
        return scene
    later = [o.start for o in others if o.start > scene.start]
    if not later:
        return scene
    cut = scenes.set_end(scene, min(later) - 1)
    assert isinstance(cut, Scene)  # start <= min(later) - 1 <= end: always a frame of it
    return cut


def _from(scene: Scene, first: int) -> Scene | None:
    """The scene from `first` on, started at its first visible frame there; None if none."""
    frame = next((f for f in range(first, scene.end + 1) if not scene.hidden_at(f)), None)
    if frame is None:
        return None
    if frame == scene.start:
        return scene
    moved = scenes.move_start(scene, frame)
    assert isinstance(moved, Scene)  # a visible frame of the scene
    return moved


def cut(scene: Scene, first: int, last: int) -> list[Scene]:
    """The pieces of `scene` left outside frames `first`..`last`, in frame order."""
    if last < scene.start or first > scene.end:
        return [scene]
    pieces: list[Scene] = []
    if scene.start < first:
        head = scenes.set_end(scene, first - 1)  # a named end: closed
        assert isinstance(head, Scene)
        pieces.append(head)
    if last < scene.end and (tail := _from(scene, last + 1)) is not None:
        pieces.append(tail)
    return pieces


def make_room(claims: list[Scene], others: dict[str, Scene]) -> Room:
    """Cut every scene of `others` (id -> scene) out of the frames the `claims` cover."""
    room = Room()
    for annotation_id, scene in others.items():
        pieces = [scene]
        for claim in claims:
            pieces = [p for piece in pieces for p in cut(piece, claim.start, claim.end)]
        if not pieces:
            room.deleted.append(annotation_id)
        elif pieces != [scene]:
            room.kept[annotation_id] = pieces[0]
            if pieces[1:]:
                room.split[annotation_id] = pieces[1:]
    return room
