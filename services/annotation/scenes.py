"""Use cases of the `scene` stream: video scene commands in, annotation events out.
Idempotent on command id, exactly like handlers.py: outcomes in `operations`, event ids
derived from the command id, stored events re-published on redelivery."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from services.annotation import rules, scene_rules
from services.annotation.handlers import Event, event_for, not_found, outcome_of, unique
from services.annotation.repository import AnnotationRepository
from shared.events import (
    ANNOTATION_EVENT,
    AnnotationDeleted,
    AnnotationUpdated,
    CommandRejected,
    ItemClassified,
)
from shared.labels import Problem
from shared.painting import paint
from shared.scene_commands import DeleteScene, OnScene, PaintScenes, SceneCommand, StartScene
from shared.scenes import Scene, refused

Create = StartScene | PaintScenes
MAX_ATTEMPTS = 5  # conflicting writes to one scene before the batch is left for redelivery


def _ids(cmd: Create) -> list[str]:
    return [cmd.annotation_id] if isinstance(cmd, StartScene) else list(cmd.annotation_ids)


def _invalid(cmd: SceneCommand, problems: list[Problem]) -> CommandRejected:
    rule = "; ".join(f"{p.field}: {p.rule}" for p in problems)
    errors = [{"field": p.field, "rule": p.rule, "source": "body"} for p in problems]
    return event_for(
        cmd, CommandRejected, command_type=cmd.type, reason="invalid",
        message=f"the scene command breaks a rule: {rule}",
        details={"annotationId": getattr(cmd, "annotation_id", None), "errors": errors},
    )


def planned(cmd: Create) -> list[Scene] | list[Problem]:
    """The scenes a create command makes, or why it is refused."""
    if isinstance(cmd, StartScene):
        scene = scene_rules.started(cmd)
        return scene if isinstance(scene, list) else [scene]
    scenes = paint(cmd.video, [s.switch() for s in cmd.switches], cmd.stop_frame)
    if not refused(scenes) and len(scenes) != len(cmd.annotation_ids):
        return [Problem("annotationIds", f"must hold one id per painted scene ({len(scenes)})")]
    return scenes


def _new_docs(creates: list[Create], plans: dict[str, list], firsts: dict[str, int],
              base_url: str) -> dict[str, list[dict[str, Any]]]:
    docs: dict[str, list[dict[str, Any]]] = {}
    for cmd in creates:
        if refused(plans[cmd.id]):
            continue
        docs[cmd.id] = []
        for annotation_id, scene in zip(_ids(cmd), plans[cmd.id], strict=True):
            docs[cmd.id].append(scene_rules.new_scene_annotation(
                cmd, scene, annotation_id, firsts[cmd.item_id], base_url))
            firsts[cmd.item_id] += 1
    return docs


def _classified(cmd: Create, docs: list[dict[str, Any]]) -> Event:
    public = [rules.public(d) for d in docs]
    return event_for(cmd, ItemClassified, item_id=cmd.item_id, dataset_id=cmd.dataset_id,
                  project_id=cmd.project_id, annotation=public[0],
                  annotations=public if isinstance(cmd, PaintScenes) else [])


def _change(cmd: OnScene, doc: dict[str, Any] | None) -> tuple[Event, dict | None]:
    """The event for one change command and the document to store (None: store nothing)."""
    deleted = (doc or {}).get("_deleted")
    if (doc is None or doc["itemId"] != cmd.item_id or doc.get("_projectId") != cmd.project_id
            or (deleted and deleted.get("commandId") != cmd.id)):
        return not_found(cmd), None
    if isinstance(cmd, DeleteScene):
        return event_for(cmd, AnnotationDeleted, item_id=cmd.item_id, project_id=cmd.project_id,
                         annotation_id=cmd.annotation_id), scene_rules.deleted_scene(doc, cmd)
    updated = scene_rules.updated_scene(doc, cmd)
    if isinstance(updated, list):
        return _invalid(cmd, updated), None
    new, previous = updated
    return event_for(cmd, AnnotationUpdated, item_id=cmd.item_id, project_id=cmd.project_id,
                     annotation=rules.public(new), previous=previous), new


async def handle_scene_commands(
    commands: list[SceneCommand],
    *,
    repo: AnnotationRepository,
    base_url: str,
    publish: Callable[[list[Event]], Awaitable[None]],
) -> list[Event]:
    """Apply a batch of scene commands and publish the events they produce (see
    handlers.handle_commands for the redelivery rules, which are the same)."""
    commands = unique(commands)
    creates: list[Create] = [c for c in commands if isinstance(c, Create)]
    changes: list[OnScene] = [c for c in commands if not isinstance(c, Create)]
    plans = {c.id: planned(c) for c in creates}
    counts = Counter({c.item_id: 0 for c in creates})
    for cmd in creates:
        if not refused(plans[cmd.id]):
            counts[cmd.item_id] += len(plans[cmd.id])
    firsts = await repo.next_object_ids({i: n for i, n in counts.items() if n}) if +counts else {}
    new_docs = _new_docs(creates, plans, firsts, base_url)
    existed = await repo.insert_new([d for docs in new_docs.values() for d in docs])
    again = [c for c in creates if existed & set(_ids(c))]
    maybe_done = again + changes
    lookup = {i for c in again for i in _ids(c)} | {c.annotation_id for c in changes}
    done, stored = await asyncio.gather(
        repo.outcomes(c.id for c in maybe_done) if maybe_done else _nothing(),
        repo.get_many(lookup) if lookup else _nothing(),
    )
    todo = [c for c in commands if c.id not in done]
    replayed = [ANNOTATION_EVENT.validate_python(done[c.id]["event"])
                for c in commands if c.id in done]

    by_command = await _apply_changes([c for c in todo if not isinstance(c, Create)], stored, repo)
    for cmd in todo:
        if isinstance(cmd, Create) and cmd.id not in new_docs:
            by_command[cmd.id] = _invalid(cmd, plans[cmd.id])  # type: ignore[arg-type]
        elif isinstance(cmd, Create):
            by_command[cmd.id] = _classified(cmd, [stored.get(d["_id"]) or d for d in new_docs[cmd.id]])
    events = [by_command[cmd.id] for cmd in todo]
    outcomes = [outcome_of(cmd, ev) for cmd, ev in zip(todo, events, strict=True)]
    await asyncio.gather(repo.save_outcomes(outcomes), publish(replayed + events))
    return replayed + events


async def _apply_changes(changes: list[OnScene], stored: dict[str, dict[str, Any]],
                         repo: AnnotationRepository) -> dict[str, Event]:
    """Apply change commands in order and store the scenes they change. A scene another
    consumer changed meanwhile is read again and its commands applied again to it."""
    events: dict[str, Event] = {}
    for _ in range(MAX_ATTEMPTS):
        changed: dict[str, dict[str, Any]] = {}
        for cmd in changes:
            doc = changed.get(cmd.annotation_id) or stored.get(cmd.annotation_id)
            events[cmd.id], new = _change(cmd, doc)
            if new is not None:
                changed[cmd.annotation_id] = new
        writes = [(new, scene_rules.revision(stored[i])) for i, new in changed.items()]
        lost = await repo.replace_unless_changed(writes)
        if not lost:
            return events
        changes = [c for c in changes if c.annotation_id in lost]
        stored = await repo.get_many(lost)
    raise RuntimeError(f"scenes {sorted(lost)} kept changing under this consumer; will retry")


async def _nothing() -> dict[str, Any]:
    return {}
