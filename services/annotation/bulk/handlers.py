"""The annotation service's bulk use cases: add one class to many items (`ClassifyItems`)
and undo it (`UnclassifyItems`).

The plan (which items get the class, which earlier classes each replaces) is stored in
`bulk_classifications` before anything is written; a redelivery replays it. Annotation ids
derive from the bulk and item ids, so replays insert nothing twice. Each item's change is
an ordinary per-item event; `BulkProgressed` reports done/total per chunk; `ClassesStored`
goes back to the task service last, after everything is durable (the task service then
completes the bulk).

These two do not go through the platform runner: a bulk publishes its events chunk by chunk
while it runs, answers on the bulk stream, and records the undo's outcome under the undo's
id; until the bulk becomes linear (issue 19), they keep their own replay."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from services.annotation import rules
from services.annotation.bulk import plan
from services.annotation.repository import AnnotationRepository
from shared.contracts.bulk import (
    BulkProgressed,
    BulkUndone,
    ClassesStored,
    ClassifyItems,
    UnclassifyItems,
    annotation_id,
    items_correlation,
    offenders,
)
from shared.contracts.envelope import Envelope, derived_id, utcnow
from shared.contracts.events import AnnotationDeleted, ItemClassified, parse_event

CHUNK = 1_000
IN_FLIGHT = 2  # chunk writes sent ahead
Publish = Callable[[list[Any]], Awaitable[None]]


async def classify_items(cmd: ClassifyItems, *, repo: AnnotationRepository, base_url: str,
                         publish: Publish, reply: Callable[[ClassesStored], Awaitable[None]]) -> None:
    if (stored := await _outcome(repo, cmd.id)) is not None:
        return await reply(ClassesStored.model_validate(stored["event"]))
    record = await repo.bulk_record(cmd.bulk_id)
    if record is None:
        planned = plan.plan_classes(cmd, await repo.live_classes([i.item_id for i in cmd.items]))
        record = {"_id": cmd.bulk_id, "commandId": cmd.id, "taskId": cmd.task_id,
                  "projectId": cmd.project_id, "total": len(cmd.items), "createdAt": utcnow(), **planned}
        await repo.save_bulk_record(record)
    api = f"{base_url.rstrip('/')}/api/v1"
    template = plan.template(cmd, base_url)
    tombstone = {"at": cmd.occurred_at.isoformat(), "by": cmd.actor.email, "commandId": cmd.id,
                 "bulkId": cmd.bulk_id}
    total, todo = record["total"], record["classified"]
    correlation = items_correlation(cmd.bulk_id)

    async def report(docs: list[dict[str, Any]], done: int) -> None:
        events: list[Any] = [ItemClassified(
            id=derived_id(cmd.id, f"classified:{d['itemId']}"), correlation_id=correlation,
            actor=cmd.actor, item_id=d["itemId"], dataset_id=cmd.dataset_id, project_id=cmd.project_id,
            annotation=rules.public(d), replaced=record["replaced"].get(d["itemId"], [])) for d in docs]
        events.append(_progress(cmd, done, total, f"progress:{docs[0]['itemId']}"))
        await publish(events)
        await repo.bulk_progressed(cmd.bulk_id, done)

    async def write(part: list[list[str]], docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        await repo.insert_chunk(docs)
        await repo.tombstone([r for i, _ in part for r in record["replaced"].get(i, [])], tombstone)
        return docs

    # Two chunks always on their way to the server: it takes the second as soon as the first
    # is in (writes to one collection take their turn there), while this process builds the
    # next chunk and publishes the events of those already durable. Building between writes
    # had left the server idle a fifth of the time (bench/bulk.py).
    done, writing, reporting = len(record["unchanged"]), deque(), None
    for n in range(0, len(todo) + IN_FLIGHT * CHUNK, CHUNK):
        part = todo[n:n + CHUNK]
        if part:
            writing.append(asyncio.ensure_future(
                write(part, [plan.document(template, api, cmd.bulk_id, i, a) for i, a in part])))
        if len(writing) > (IN_FLIGHT - 1 if part else 0):
            written = await writing.popleft()
            if reporting is not None:
                await reporting
            done += len(written)
            reporting = asyncio.ensure_future(report(written, done))
    if reporting is not None:
        await reporting
    stored = ClassesStored(
        id=derived_id(cmd.id, "ClassesStored"), correlation_id=cmd.bulk_id, actor=cmd.actor,
        bulk_id=cmd.bulk_id, task_id=cmd.task_id, project_id=cmd.project_id,
        classified=len(todo), unchanged=len(record["unchanged"]),
        replaced=sum(len(v) for v in record["replaced"].values()))
    await repo.mark_bulk(cmd.bulk_id, {"state": "completed", "done": total})
    await _finish(repo, cmd, cmd.id, "ClassifyItems", stored)
    await reply(stored)


def _progress(cmd: ClassifyItems, done: int, total: int, what: str) -> BulkProgressed:
    return BulkProgressed(id=derived_id(cmd.id, what), correlation_id=items_correlation(cmd.bulk_id),
                          actor=cmd.actor, bulk_id=cmd.bulk_id, task_id=cmd.task_id,
                          project_id=cmd.project_id, done=done, total=total)


async def _finish(repo: AnnotationRepository, cmd: Envelope, outcome_id: str, kind: str, event: Any) -> None:
    await repo.save_outcomes([{"_id": outcome_id, "commandType": kind, "status": "succeeded",
                               "actorId": cmd.actor.user_id, "projectId": getattr(cmd, "project_id", None),
                               "event": event.wire(), "completedAt": utcnow()}])


async def _outcome(repo: AnnotationRepository, outcome_id: str) -> dict[str, Any] | None:
    return (await repo.outcomes([outcome_id])).get(outcome_id)


async def unclassify_items(cmd: UnclassifyItems, *, repo: AnnotationRepository, publish: Publish) -> None:
    """Remove the bulk's classes and bring back those they replaced, except on items whose
    bulk annotation changed since (those are reported as conflicts)."""
    if (stored := await _outcome(repo, cmd.undo_id)) is not None:
        return await publish([parse_event(stored["event"])])
    record = await repo.bulk_record(cmd.bulk_id)
    undo = (record or {}).get("undo")
    if undo is None:
        mine = {annotation_id(cmd.bulk_id, i): i for i, _ in record["classified"]} if record else {}
        current = await repo.get_many(list(mine))
        keep = [i for a, i in mine.items() if _untouched(current.get(a))]
        undo = {"items": keep, "conflicts": [i for i in mine.values() if i not in set(keep)]}
        if record:
            await repo.mark_bulk(cmd.bulk_id, {"undo": undo})
    removed = [annotation_id(cmd.bulk_id, i) for i in undo["items"]]
    back = [r for i in undo["items"] for r in (record or {}).get("replaced", {}).get(i, [])]
    await repo.tombstone(removed, {"at": cmd.occurred_at.isoformat(), "by": cmd.actor.email,
                                    "commandId": cmd.undo_id, "bulkId": cmd.bulk_id})
    if record:
        await repo.revive(back, record["commandId"])
    await publish(await _undo_events(cmd, repo, undo["items"], back))
    undone = BulkUndone(
        id=derived_id(cmd.id, "BulkUndone"), correlation_id=cmd.undo_id, actor=cmd.actor,
        bulk_id=cmd.bulk_id, task_id=cmd.task_id, project_id=cmd.project_id, removed=len(removed),
        restored=len(back), conflicts=offenders(undo["conflicts"]), statuses=cmd.statuses)
    if record:
        await repo.mark_bulk(cmd.bulk_id, {"state": "undone"})
    await _finish(repo, cmd, cmd.undo_id, "UndoBulk", undone)
    await publish([undone])


def _untouched(doc: dict[str, Any] | None) -> bool:
    return doc is not None and "_deleted" not in doc and "_lastCommand" not in doc


async def _undo_events(cmd: UnclassifyItems, repo: AnnotationRepository, items: list[str],
                       back: list[str]) -> list[Any]:
    correlation = items_correlation(cmd.undo_id)
    events: list[Any] = [AnnotationDeleted(
        id=derived_id(cmd.id, f"deleted:{i}"), correlation_id=correlation, actor=cmd.actor,
        item_id=i, project_id=cmd.project_id, annotation_id=annotation_id(cmd.bulk_id, i)) for i in items]
    for doc in (await repo.get_many(back)).values() if back else []:
        events.append(ItemClassified(
            id=derived_id(cmd.id, f"restored:{doc['_id']}"), correlation_id=correlation, actor=cmd.actor,
            item_id=doc["itemId"], dataset_id=doc["datasetId"], project_id=cmd.project_id,
            annotation=rules.public(doc)))
    return events
