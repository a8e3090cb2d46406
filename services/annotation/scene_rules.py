"""Pure rules of scene commands: a scene command and the stored document in, the new document
(Dataloop JSON plus internal fields) or the problems out. No I/O.

A stored scene is one class annotation whose `metadata.system` holds `frame`, `endFrame`,
`startTime`, `endTime`, `objectId` and key-frame `snapshots_` (shared.rules.scenes.to_system).
The internal `_scene` field keeps whether it is open (lasts to the end of the video; never
written as `endFrame: null`), the ids of the last change commands applied to it, and what
the last one replaced."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from services.annotation import rules
from shared.contracts.commands import Classify
from shared.contracts.scene_commands import OnScene, PaintScenes, SceneCommand, StartScene
from shared.rules import scenes
from shared.rules.labels import Problem
from shared.rules.scenes import SCENE_FIELD, Outcome, Scene

VIDEO_KEYS = ("frame", "endFrame", "startTime", "endTime", "snapshots_")
APPLIED_KEPT = 32  # change commands remembered per scene, for redeliveries


def scene_hash(doc: dict[str, Any]) -> str:
    """40-hex content hash over label, attributes and the frames the scene covers."""
    system = doc["metadata"]["system"]
    body = {"base": rules.content_hash(doc), "video": {k: system.get(k) for k in VIDEO_KEYS}}
    return hashlib.sha1(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def revision(doc: dict[str, Any]) -> str | None:
    """The id of the command that last wrote the scene: writes are conditional on it, so
    two consumers changing one scene at once never lose either change."""
    return (doc.get(SCENE_FIELD) or {}).get("rev")


def _apply(doc: dict[str, Any], scene: Scene, rev: str) -> dict[str, Any]:
    system = doc["metadata"]["system"]
    system |= scenes.to_system(scene, system.get("attributes") or {})
    doc["label"] = scene.label
    doc[SCENE_FIELD] = {"open": scene.open, "rev": rev}
    doc["hash"] = scene_hash(doc)
    return doc


def new_scene_annotation(cmd: StartScene | PaintScenes, scene: Scene, annotation_id: str,
                         object_id: int, base_url: str) -> dict[str, Any]:
    """The stored document of a new scene: a class annotation with the video keys."""
    as_classify = Classify(
        id=cmd.id, actor=cmd.actor, occurred_at=cmd.occurred_at, annotation_id=annotation_id,
        item_id=cmd.item_id, dataset_id=cmd.dataset_id, project_id=cmd.project_id,
        recipe_id=cmd.recipe_id, label=scene.label, attributes=cmd.attributes, source=cmd.source,
        description=getattr(cmd, "description", None), task_id=cmd.task_id,
        assignment_id=cmd.assignment_id,
    )
    doc = rules.new_class_annotation(as_classify, base_url)
    doc["metadata"]["system"]["objectId"] = str(object_id)
    return _apply(doc, scene, cmd.id)


def started(cmd: StartScene) -> Outcome:
    return scenes.start_scene(cmd.video, cmd.frame, cmd.label, cmd.end_frame)


def previous_of(doc: dict[str, Any]) -> dict[str, Any]:
    """What an AnnotationUpdated reports as replaced: the label and the video keys."""
    system = doc["metadata"]["system"]
    return {"label": doc["label"]} | {k: system.get(k) for k in VIDEO_KEYS}


def updated_scene(
    doc: dict[str, Any], cmd: OnScene, adjust: Callable[[Scene], Scene] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]] | list[Problem]:
    """The document after `cmd` and what it replaced; or the problems that refuse it.

    The scene keeps the ids of the last APPLIED_KEPT change commands applied to it, and
    what the last one replaced: a redelivered command is never applied again, even after
    later ones (it then reports `previous` only if it was the last)."""
    state = doc.get(SCENE_FIELD) or {}
    if cmd.id in state.get("applied", ()):
        last = state.get("last") or {}
        return doc, last.get("previous", {}) if last.get("id") == cmd.id else {}
    scene = scenes.from_annotation(doc, cmd.video)
    if isinstance(scene, list):
        return scene
    after = scenes.apply(cmd, scene)
    if isinstance(after, list):
        return after
    if adjust is not None:
        after = adjust(after)
    previous = previous_of(doc)
    new = json.loads(json.dumps(doc, default=str))
    new["updatedBy"] = cmd.actor.email
    new["updatedAt"] = rules.dataloop_time(cmd.occurred_at)
    new = _apply(new, after, cmd.id)
    new[SCENE_FIELD] |= {"applied": [*state.get("applied", ()), cmd.id][-APPLIED_KEPT:],
                         "last": {"id": cmd.id, "previous": previous}}
    return new, previous


def reshaped_scene(doc: dict[str, Any], scene: Scene, cmd: SceneCommand) -> dict[str, Any]:
    """Another scene `cmd` cut to make room in a single-class task, as it is now."""
    new = json.loads(json.dumps(doc, default=str))
    new["updatedBy"] = cmd.actor.email
    new["updatedAt"] = rules.dataloop_time(cmd.occurred_at)
    state = {k: v for k, v in (doc.get(SCENE_FIELD) or {}).items() if k in ("applied", "last")}
    new = _apply(new, scene, cmd.id)
    new[SCENE_FIELD] |= state
    return new


def split_scene(doc: dict[str, Any], scene: Scene, cmd: SceneCommand, annotation_id: str,
                object_id: int, base_url: str) -> dict[str, Any]:
    """A piece split off another scene by `cmd`: a new scene with the same label, attributes
    and description (its own annotation id and video object id)."""
    system = doc["metadata"]["system"]
    as_start = StartScene(
        id=cmd.id, actor=cmd.actor, occurred_at=cmd.occurred_at, annotation_id=annotation_id,
        item_id=cmd.item_id, dataset_id=cmd.dataset_id, project_id=cmd.project_id,
        recipe_id=system.get("recipeId"), video=cmd.video, frame=scene.start, label=scene.label,
        attributes=system.get("attributes") or {}, source=doc.get("source") or "ui",
        description=doc.get("description"), task_id=system.get("taskId"),
        assignment_id=system.get("assignmentId"))
    return new_scene_annotation(as_start, scene, annotation_id, object_id, base_url)


def deleted_scene(doc: dict[str, Any], cmd: OnScene) -> dict[str, Any]:
    """The document tombstoned by `cmd` (a new revision, so a concurrent change cannot
    bring it back)."""
    tombstone = {"at": cmd.occurred_at.isoformat(), "by": cmd.actor.email, "commandId": cmd.id}
    return doc | {"_deleted": tombstone, SCENE_FIELD: (doc.get(SCENE_FIELD) or {}) | {"rev": cmd.id}}
