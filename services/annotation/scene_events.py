"""What one scene command makes: the scenes it plans, the documents it changes and the event
that answers it. Pure; used by the scene handlers (handlers.py) and the single-class path
(scene_room.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.annotation import rules, scene_rules
from services.annotation.events import Event, event_for, is_gone, not_found
from shared.contracts.events import (
    AnnotationDeleted,
    AnnotationUpdated,
    CommandRejected,
    ItemClassified,
)
from shared.contracts.scene_commands import (
    DeleteScene,
    OnScene,
    PaintScenes,
    SceneCommand,
    StartScene,
)
from shared.rules.labels import Problem
from shared.rules.painting import Switch, paint
from shared.rules.scenes import Scene, refused

Create = StartScene | PaintScenes


def ids_of(cmd: Create) -> list[str]:
    return [cmd.annotation_id] if isinstance(cmd, StartScene) else list(cmd.annotation_ids)


def invalid(cmd: SceneCommand, problems: list[Problem]) -> CommandRejected:
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
    scenes = paint(cmd.video, [Switch(s.frame, s.label) for s in cmd.switches], cmd.stop_frame)
    if not refused(scenes) and len(scenes) != len(cmd.annotation_ids):
        return [Problem("annotationIds", f"must hold one id per painted scene ({len(scenes)})")]
    return scenes


def classified(cmd: Create, docs: list[dict[str, Any]], **extra: Any) -> Event:
    public = [rules.public(d) for d in docs]
    return event_for(cmd, ItemClassified, item_id=cmd.item_id, dataset_id=cmd.dataset_id,
                  project_id=cmd.project_id, annotation=public[0],
                  annotations=public if isinstance(cmd, PaintScenes) else [], **extra)


def change(cmd: OnScene, doc: dict[str, Any] | None,
           adjust: Callable[[Scene], Scene] | None = None) -> tuple[Event, dict | None]:
    """The event for one change command and the document to store (None: store nothing)."""
    if doc is None or is_gone(cmd, doc):
        return not_found(cmd), None
    if isinstance(cmd, DeleteScene):
        return event_for(cmd, AnnotationDeleted, item_id=cmd.item_id, project_id=cmd.project_id,
                         annotation_id=cmd.annotation_id), scene_rules.deleted_scene(doc, cmd)
    updated = scene_rules.updated_scene(doc, cmd, adjust)
    if isinstance(updated, list):
        return invalid(cmd, updated), None
    new, previous = updated
    return event_for(cmd, AnnotationUpdated, item_id=cmd.item_id, project_id=cmd.project_id,
                     annotation=rules.public(new), previous=previous), new
