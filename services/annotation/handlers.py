"""The annotation service's use cases: one function per command, `(command, *, repo, clock)
-> list[Event]`, registered in `table`. Each makes its effect durable before it returns; the
platform runner (shared.platform.runner) dedups on the command id, records the outcome and
publishes the events after. Every one is idempotent on its command id as well (ids derive
from it, and what is already stored is read back), since the process may die between the
effect and its outcome record."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from services.annotation import rules, scene_rules
from services.annotation.events import Event, changed, classified
from services.annotation.repository import AnnotationRepository
from services.annotation.scene_events import change, ids_of, invalid, planned
from services.annotation.scene_events import classified as scenes_classified
from services.annotation.scene_room import make_room_for, takes_frames
from shared.contracts.commands import Classify, DeleteAnnotation, UpdateAnnotation
from shared.contracts.scene_commands import (
    ChangeSceneLabel,
    DeleteScene,
    HideFrames,
    MoveSceneStart,
    OnScene,
    PaintScenes,
    SetSceneEnd,
    StartScene,
    UnhideFrames,
)
from shared.platform.runner import Clock, Handler
from shared.rules.scenes import refused

MAX_ATTEMPTS = 5  # another writer changed the scene meanwhile: read it again, this many times


async def classify(cmd: Classify, *, repo: AnnotationRepository, clock: Clock, base_url: str) -> list[Event]:
    """A new class annotation; in a single-class task it replaces the item's earlier classes
    (looked for while the new one is inserted: such a classify takes the whole item, so the
    runner has run the item's earlier commands already)."""
    doc = rules.new_class_annotation(cmd, base_url)
    if cmd.replace_classes:
        existed, replaced = await asyncio.gather(repo.insert_new([doc]), _replace_classes(repo, cmd, doc))
    else:
        existed, replaced = await repo.insert_new([doc]), []
    if existed:  # inserted by an earlier delivery: answer with the document as stored
        doc = (await repo.get_many([cmd.annotation_id])).get(cmd.annotation_id) or doc
    return [classified(cmd, doc, replaced)]


async def _replace_classes(repo: AnnotationRepository, cmd: Classify, doc: dict[str, Any]) -> list[str]:
    tombstone = {"at": cmd.occurred_at.isoformat(), "by": cmd.actor.email, "commandId": cmd.id,
                 "replacedBy": cmd.annotation_id}
    return await repo.replace_classes(cmd.item_id, cmd.annotation_id, doc["createdAt"], tombstone)


async def change_annotation(cmd: UpdateAnnotation | DeleteAnnotation, *, repo: AnnotationRepository,
                            clock: Clock) -> list[Event]:
    """An update (what it replaced is remembered, so a redelivery reports the same) or a
    delete (a tombstone naming the command)."""
    doc = (await repo.get_many([cmd.annotation_id])).get(cmd.annotation_id)
    event, new = changed(cmd, doc)
    if new is not None:
        await repo.replace_many([new])
    return [event]


async def create_scenes(cmd: StartScene | PaintScenes, *, repo: AnnotationRepository, clock: Clock,
                        base_url: str) -> list[Event]:
    """A started scene, or the scenes a play-to-paint made, each with the next video object id
    of the item; in a single-class task they make room first (scene_room)."""
    if takes_frames(cmd):
        return [await make_room_for(cmd, repo=repo, base_url=base_url)]
    scenes = planned(cmd)
    if refused(scenes):
        return [invalid(cmd, scenes)]  # type: ignore[arg-type]
    first = (await repo.next_object_ids({cmd.item_id: len(scenes)}))[cmd.item_id]
    docs = [scene_rules.new_scene_annotation(cmd, scene, annotation_id, first + n, base_url)
            for n, (annotation_id, scene) in enumerate(zip(ids_of(cmd), scenes, strict=True))]
    existed = await repo.insert_new(docs)
    stored = await repo.get_many(existed) if existed else {}
    return [scenes_classified(cmd, [stored.get(d["_id"]) or d for d in docs])]


async def change_scene(cmd: OnScene, *, repo: AnnotationRepository, clock: Clock, base_url: str) -> list[Event]:
    """A change to one scene (end, start, label, hidden frames, delete). The write is
    conditional on the scene's revision: a scene another consumer changed meanwhile is read
    again and the command applied again to it."""
    if takes_frames(cmd):
        return [await make_room_for(cmd, repo=repo, base_url=base_url)]
    for _ in range(MAX_ATTEMPTS):
        doc = (await repo.get_many([cmd.annotation_id])).get(cmd.annotation_id)
        event, new = change(cmd, doc)
        if new is None or doc is None:
            return [event]
        if not await repo.replace_unless_changed([(new, scene_rules.revision(doc))]):
            return [event]
    raise RuntimeError(f"scene {cmd.annotation_id} kept changing under this consumer; will retry")


def table(base_url: str) -> dict[type, Handler]:
    """Every command the service handles through the runner, and its handler."""
    with_urls = {"base_url": base_url}
    return {
        Classify: partial(classify, **with_urls),
        UpdateAnnotation: change_annotation,
        DeleteAnnotation: change_annotation,
        StartScene: partial(create_scenes, **with_urls),
        PaintScenes: partial(create_scenes, **with_urls),
        SetSceneEnd: partial(change_scene, **with_urls),
        MoveSceneStart: partial(change_scene, **with_urls),
        ChangeSceneLabel: partial(change_scene, **with_urls),
        HideFrames: partial(change_scene, **with_urls),
        UnhideFrames: partial(change_scene, **with_urls),
        DeleteScene: partial(change_scene, **with_urls),
    }


def read_first(cmd: Any) -> str | None:
    """The annotation a command's handler reads before anything else, if any (a change:
    the annotation or scene it changes), for the runner's read-ahead."""
    if isinstance(cmd, UpdateAnnotation | DeleteAnnotation) or (
            isinstance(cmd, SetSceneEnd | MoveSceneStart | ChangeSceneLabel | HideFrames | UnhideFrames
                       | DeleteScene) and not takes_frames(cmd)):
        return cmd.annotation_id
    return None


def scope_of(cmd: Any) -> tuple[str, ...]:
    """The runner's key: what a command reads and writes. A classify that replaces the item's
    classes, and every scene command (which may cut the item's other scenes), take the whole
    item; any other command only its annotation, so classifies of one item run together."""
    if isinstance(cmd, UpdateAnnotation | DeleteAnnotation) or (
            isinstance(cmd, Classify) and not cmd.replace_classes):
        return (cmd.item_id, cmd.annotation_id)
    return (cmd.item_id,)
