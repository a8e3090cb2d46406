"""What the annotation service's commands answer with: events built from a command and the
documents it touched. Pure; event ids derive from the command id, so a redelivery answers
with the same ids."""

from __future__ import annotations

from typing import Any

from services.annotation import rules
from shared.contracts.commands import Classify, DeleteAnnotation, UpdateAnnotation
from shared.contracts.envelope import Envelope, derived_id
from shared.contracts.events import (
    AnnotationDeleted,
    AnnotationUpdated,
    CommandRejected,
    ItemClassified,
)

Command = Classify | UpdateAnnotation | DeleteAnnotation
Event = ItemClassified | AnnotationUpdated | AnnotationDeleted | CommandRejected


def event_for(cmd: Envelope, kind: type[Event], **fields: Any) -> Event:
    return kind(id=derived_id(cmd.id, kind.__name__), correlation_id=cmd.id, actor=cmd.actor, **fields)


def not_found(cmd: Any) -> CommandRejected:
    return event_for(
        cmd, CommandRejected, command_type=cmd.type, reason="not_found",
        message=f"annotation {cmd.annotation_id} does not exist on item {cmd.item_id}",
        details={"annotationId": cmd.annotation_id},
    )


def classified(cmd: Classify, doc: dict[str, Any], replaced: list[str]) -> Event:
    return event_for(cmd, ItemClassified, item_id=cmd.item_id, dataset_id=cmd.dataset_id,
                     project_id=cmd.project_id, annotation=rules.public(doc), replaced=replaced)


def is_gone(cmd: Any, doc: dict[str, Any] | None) -> bool:
    """The annotation `cmd` names is not there for it: missing, on another item or project,
    or deleted by another command (deleted by `cmd` itself: a redelivery, so still there)."""
    deleted = (doc or {}).get("_deleted")
    return (doc is None or doc["itemId"] != cmd.item_id or doc.get("_projectId") != cmd.project_id
            or bool(deleted and deleted.get("commandId") != cmd.id))


def changed(cmd: UpdateAnnotation | DeleteAnnotation, doc: dict[str, Any] | None) -> tuple[Event, dict | None]:
    """The event for one change command and the document to store (None: store nothing)."""
    if is_gone(cmd, doc):
        return not_found(cmd), None
    assert doc is not None
    if isinstance(cmd, DeleteAnnotation):
        tombstone = {"at": cmd.occurred_at.isoformat(), "by": cmd.actor.email, "commandId": cmd.id}
        event = event_for(cmd, AnnotationDeleted, item_id=cmd.item_id, project_id=cmd.project_id,
                          annotation_id=cmd.annotation_id)
        return event, doc | {"_deleted": tombstone}
    new = rules.updated_annotation(doc, cmd)
    event = event_for(cmd, AnnotationUpdated, item_id=cmd.item_id, project_id=cmd.project_id,
                      annotation=rules.public(new), previous=new["_lastCommand"]["previous"])
    return event, new
