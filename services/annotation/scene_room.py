"""Use case: a scene command that takes frames in a single-class task (a new scene, a moved
start or end). The rule is shared.rules.scene_overlaps; this applies it to the item's stored scenes.

One command at a time per item (handlers.scope_of), since each reads the item's scenes as
they are. Crash safety: the new documents (the command's scenes, pieces split off others) are
inserted first, then the conditional replaces (the command's change, the scenes cut or
deleted to make room); a redelivery reads the item again, finds its own scenes by id and
cuts only what still overlaps, so nothing is cut twice. Split-off ids are derived from the command."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

from services.annotation import rules, scene_rules
from services.annotation.events import Event
from services.annotation.repository import AnnotationRepository
from services.annotation.scene_events import Create, change, classified, ids_of, invalid, planned
from shared.contracts.envelope import derived_id
from shared.contracts.events import AnnotationUpdated, ItemClassified
from shared.contracts.scene_commands import (
    MoveSceneStart,
    OnScene,
    SceneCommand,
    SetSceneEnd,
    StartScene,
)
from shared.rules.scene_overlaps import Room, gives_way, make_room
from shared.rules.scenes import Scene, from_annotation, refused

MAX_ATTEMPTS = 5  # another writer changed a scene meanwhile: read the item again


def takes_frames(cmd: SceneCommand) -> bool:
    """Commands that may cover frames another scene holds, in a single-class task."""
    return cmd.single_class and isinstance(cmd, Create | SetSceneEnd | MoveSceneStart)


def _scenes(docs: dict[str, dict[str, Any]], video: Any) -> dict[str, Scene]:
    parsed = {i: from_annotation(d, video) for i, d in docs.items()}
    return {i: s for i, s in parsed.items() if isinstance(s, Scene)}


class _Plan:
    """What one attempt writes, and the event that answers the command."""

    def __init__(self, own: set[str]) -> None:
        self.own = own
        self.fresh: list[tuple[str, Scene]] = []  # the command's new scenes, by id
        self.inserts: list[dict[str, Any]] = []
        self.writes: list[tuple[dict[str, Any], str | None]] = []
        self.claims: list[Scene] = []
        self.event: Event | None = None


def _create(cmd: Create, docs: dict[str, dict[str, Any]], others: dict[str, Scene]) -> _Plan:
    ids = ids_of(cmd)
    plan = _Plan(set(ids))
    if all(i in docs for i in ids):  # inserted by an earlier delivery
        plan.claims = [s for i in ids if isinstance(s := from_annotation(docs[i], cmd.video), Scene)]
        plan.event = classified(cmd, [docs[i] for i in ids])
        return plan
    made = planned(cmd)
    if refused(made):
        plan.event = invalid(cmd, made)  # type: ignore[arg-type]
        return plan
    if isinstance(cmd, StartScene):
        made = [gives_way(made[0], others.values())]  # type: ignore[arg-type]
    plan.claims = made  # type: ignore[assignment]
    plan.fresh = list(zip(ids, made, strict=True))  # type: ignore[arg-type]
    return plan


async def _change(cmd: OnScene, docs: dict[str, dict[str, Any]], others: dict[str, Scene],
                  repo: AnnotationRepository) -> _Plan:
    plan = _Plan({cmd.annotation_id})
    doc = docs.get(cmd.annotation_id) or (await repo.get_many([cmd.annotation_id])).get(cmd.annotation_id)
    plan.event, new = change(cmd, doc, lambda s: gives_way(s, others.values()))
    if new is not None and doc is not None:
        plan.writes.append((new, scene_rules.revision(doc)))
        if isinstance(scene := from_annotation(new, cmd.video), Scene):
            plan.claims = [scene]
    return plan


def _make_room(cmd: SceneCommand, plan: _Plan, room: Room, docs: dict[str, dict[str, Any]],
               objects: Iterator[int], base_url: str) -> list[dict[str, Any]]:
    """Add the documents of the command's new scenes and of the other scenes' cuts to the
    plan; the scenes cut, as they are now."""
    for i, scene in plan.fresh:
        plan.inserts.append(scene_rules.new_scene_annotation(cmd, scene, i, next(objects), base_url))  # type: ignore[arg-type]
    if plan.fresh:
        plan.event = classified(cmd, plan.inserts)  # type: ignore[arg-type]
    trimmed: list[dict[str, Any]] = []
    for i in room.deleted:
        gone = scene_rules.deleted_scene(docs[i], cmd)
        gone["_deleted"] |= {"replacedBy": min(plan.own)}
        plan.writes.append((gone, scene_rules.revision(docs[i])))
    for i, scene in room.kept.items():
        trimmed.append(scene_rules.reshaped_scene(docs[i], scene, cmd))
        plan.writes.append((trimmed[-1], scene_rules.revision(docs[i])))
    for i, pieces in room.split.items():
        for n, piece in enumerate(pieces):
            piece_id = derived_id(cmd.id, f"split:{i}:{n}")[:24]
            trimmed.append(scene_rules.split_scene(docs[i], piece, cmd, piece_id, next(objects), base_url))
            plan.inserts.append(trimmed[-1])
    return [rules.public(d) for d in trimmed]


async def _attempt(cmd: Create | OnScene, repo: AnnotationRepository, base_url: str) -> Event | None:
    """One try: the event, or None when another writer changed a scene meanwhile."""
    docs = await repo.live_scenes(cmd.item_id)
    own = set(ids_of(cmd)) if isinstance(cmd, Create) else {cmd.annotation_id}
    others = _scenes({i: d for i, d in docs.items() if i not in own}, cmd.video)
    plan = _create(cmd, docs, others) if isinstance(cmd, Create) else await _change(cmd, docs, others, repo)
    room = make_room(plan.claims, others)
    wanted = len(plan.fresh) + sum(len(p) for p in room.split.values())
    first = (await repo.next_object_ids({cmd.item_id: wanted}))[cmd.item_id] if wanted else 0
    trimmed = _make_room(cmd, plan, room, docs, count(first), base_url)
    await repo.insert_new(plan.inserts)
    if await repo.replace_unless_changed(plan.writes):
        return None
    event = plan.event
    if room and isinstance(event, ItemClassified | AnnotationUpdated):
        event = event.model_copy(update={"replaced": room.deleted, "trimmed": trimmed})
    return event


async def make_room_for(cmd: Create | OnScene, *, repo: AnnotationRepository, base_url: str) -> Event:
    """Apply one command that takes frames; its event (the runner records and publishes it)."""
    for _ in range(MAX_ATTEMPTS):
        if (event := await _attempt(cmd, repo, base_url)) is not None:
            return event
    raise RuntimeError(f"the scenes of item {cmd.item_id} kept changing under this consumer; will retry")
