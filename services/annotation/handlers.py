"""Use cases of the annotation service: commands in, events out. Idempotent on command id."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from services.annotation import rules
from services.annotation.repository import AnnotationRepository
from shared.contracts.commands import Classify, DeleteAnnotation, UpdateAnnotation
from shared.contracts.envelope import derived_id, utcnow
from shared.contracts.events import (
    ANNOTATION_EVENT,
    AnnotationDeleted,
    AnnotationUpdated,
    CommandRejected,
    ItemClassified,
)

Command = Classify | UpdateAnnotation | DeleteAnnotation
Event = ItemClassified | AnnotationUpdated | AnnotationDeleted | CommandRejected


def unique(commands: list[Command]) -> list[Command]:
    seen: dict[str, Command] = {}
    for cmd in commands:
        seen.setdefault(cmd.id, cmd)
    return list(seen.values())


def event_for(cmd: Command, kind: type[Event], **fields: Any) -> Event:
    return kind(
        id=derived_id(cmd.id, kind.__name__),
        correlation_id=cmd.id,
        actor=cmd.actor,
        **fields,
    )


def not_found(cmd: Command) -> CommandRejected:
    return event_for(
        cmd,
        CommandRejected,
        command_type=cmd.type,
        reason="not_found",
        message=f"annotation {cmd.annotation_id} does not exist on item {cmd.item_id}",
        details={"annotationId": cmd.annotation_id},
    )


def _change(cmd: UpdateAnnotation | DeleteAnnotation, doc: dict[str, Any] | None) -> tuple[Event, dict | None]:
    """The event for one change command and the document to store (None: store nothing)."""
    deleted = (doc or {}).get("_deleted")
    if (
        doc is None
        or doc["itemId"] != cmd.item_id
        or doc.get("_projectId") != cmd.project_id
        or (deleted and deleted.get("commandId") != cmd.id)
    ):
        return not_found(cmd), None
    if isinstance(cmd, DeleteAnnotation):
        tombstone = {"at": cmd.occurred_at.isoformat(), "by": cmd.actor.email, "commandId": cmd.id}
        event = event_for(
            cmd, AnnotationDeleted, item_id=cmd.item_id, project_id=cmd.project_id,
            annotation_id=cmd.annotation_id,
        )
        return event, doc | {"_deleted": tombstone}
    new = rules.updated_annotation(doc, cmd)
    event = event_for(
        cmd, AnnotationUpdated, item_id=cmd.item_id, project_id=cmd.project_id,
        annotation=rules.public(new), previous=new["_lastCommand"]["previous"],
    )
    return event, new


async def handle_commands(
    commands: list[Command],
    *,
    repo: AnnotationRepository,
    base_url: str,
    publish: Callable[[list[Event]], Awaitable[None]],
) -> list[Event]:
    """Apply a batch of classify-stream commands and publish the events they produce.

    A command already done (its outcome is stored) is not applied again: its stored event
    is published again, with the same id. Outcomes are recorded while the events go out:
    if the process dies in between, the redelivered command re-publishes the same events.
    """
    commands = unique(commands)
    creates = [c for c in commands if isinstance(c, Classify)]
    changes = [c for c in commands if not isinstance(c, Classify)]
    # A create whose annotation id is new cannot have been done before, so only the
    # duplicates and the changes need their stored outcome looked up (one round trip less
    # on the hot path).
    new_docs = {c.id: rules.new_class_annotation(c, base_url) for c in creates}
    # Single-class replacement looks for the item's classes made before this one, so it can
    # run while the new one is inserted (one round trip less on a task's classify), unless
    # the batch classifies the item twice: then each must see the other stored.
    per_item = Counter(c.item_id for c in creates)
    early = [c for c in creates if c.replace_classes and per_item[c.item_id] == 1]
    existed, early_replaced = await asyncio.gather(
        repo.insert_new(list(new_docs.values())),
        asyncio.gather(*(_replace_classes(repo, c, new_docs[c.id]) for c in early)))
    replaced_by = dict(zip((c.id for c in early), early_replaced, strict=True))
    maybe_done = [c for c in creates if c.annotation_id in existed] + changes
    done = await repo.outcomes(c.id for c in maybe_done) if maybe_done else {}
    todo = [c for c in commands if c.id not in done]
    replayed = [ANNOTATION_EVENT.validate_python(done[c.id]["event"]) for c in commands if c.id in done]
    lookup = {c.annotation_id for c in todo if c.annotation_id in existed or not isinstance(c, Classify)}
    stored = await repo.get_many(lookup) if lookup else {}

    events: list[Event] = []
    changed: dict[str, dict[str, Any]] = {}
    for cmd in todo:
        if isinstance(cmd, Classify):
            doc = stored.get(cmd.annotation_id) or new_docs[cmd.id]
            replaced = replaced_by[cmd.id] if cmd.id in replaced_by else \
                await _replace_classes(repo, cmd, doc) if cmd.replace_classes else []
            events.append(event_for(
                cmd, ItemClassified, item_id=cmd.item_id, dataset_id=cmd.dataset_id,
                project_id=cmd.project_id, annotation=rules.public(doc), replaced=replaced,
            ))
            continue
        event, new = _change(cmd, changed.get(cmd.annotation_id) or stored.get(cmd.annotation_id))
        events.append(event)
        if new is not None:
            changed[cmd.annotation_id] = new
    await repo.replace_many(list(changed.values()))
    outcomes = [outcome_of(cmd, ev) for cmd, ev in zip(todo, events, strict=True)]
    await asyncio.gather(repo.save_outcomes(outcomes), publish(replayed + events))
    return replayed + events


async def _replace_classes(repo: AnnotationRepository, cmd: Classify, doc: dict[str, Any]) -> list[str]:
    """Single-class tasks: the new class replaces the item's earlier class annotations."""
    tombstone = {"at": cmd.occurred_at.isoformat(), "by": cmd.actor.email, "commandId": cmd.id,
                 "replacedBy": cmd.annotation_id}
    return await repo.replace_classes(cmd.item_id, cmd.annotation_id, doc["createdAt"], tombstone)


def outcome_of(cmd: Command, event: Event) -> dict[str, Any]:
    return {
        "_id": cmd.id,
        "commandType": cmd.type,
        "status": "rejected" if isinstance(event, CommandRejected) else "succeeded",
        "actorId": cmd.actor.user_id,
        "projectId": cmd.project_id,
        "event": event.wire(),
        "completedAt": utcnow(),
    }
