"""The annotation service's bulk use cases, run by the platform runner (shared.platform.runner):
add one class to many items and announce the bulk's end (`ClassifyItems`), answer a dry run
(`ClassifyItems` with `dry_run`), undo (`UnclassifyItems`). The task service checked the
bulk and wrote its statuses before passing it on; nothing goes back to it.

Handlers are `(command, *, repo, clock, ...) -> Answer`, registered in `table`. The outcome
is the bulk's (or the undo's), so it is recorded under the id the requester waits for, the
bulk id (the undo id), not the passed-on command's: the runner does not look these commands
up by their own id (`recorded`), and each handler reads its own progress back instead.

A bulk's per-item events (`ItemClassified`, `AnnotationDeleted`) and its `BulkProgressed`
reports are published by the handler itself (`publish`, bound into the table), chunk by
chunk, each after its chunk is durable: ten thousand of them belong in no outcome record,
and live feeds follow the progress. The outcome event (`BulkCompleted`, `BulkPreviewed`,
`BulkUndone`) goes out through the runner, after the record.

Crash safety: the plan (which items get the class, which earlier classes each replaces) is
stored in `bulk_classifications` before anything is written; a redelivery replays it.
Annotation ids derive from the bulk and item ids, so replays insert nothing twice, and the
events go out again with the same ids."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from services.annotation import rules
from services.annotation.bulk import plan
from services.annotation.repository import AnnotationRepository
from shared.contracts.bulk import (
    BulkCompleted,
    BulkPreviewed,
    BulkProgressed,
    BulkUndone,
    ClassifyItems,
    UnclassifyItems,
    annotation_id,
    items_correlation,
    offenders,
)
from shared.contracts.envelope import derived_id
from shared.contracts.events import AnnotationDeleted, ItemClassified
from shared.platform.runner import Answer, Clock, Handler, stored_events

CHUNK = 1_000
IN_FLIGHT = 2  # chunk writes sent ahead
COMPLETED = "completed"
Publish = Callable[[list[Any]], Awaitable[None]]


class StillWriting(RuntimeError):
    """An undo came before its bulk's classes were all written (that bulk's command failed
    and waits to be delivered again): left pending, it is delivered again after it."""


async def classify_items(cmd: ClassifyItems, *, repo: AnnotationRepository, clock: Clock, base_url: str,
                         publish: Publish) -> Answer:
    """Write the bulk's classes, chunk by chunk, and announce its end (`BulkCompleted`); a
    dry run's preview (`BulkPreviewed`)."""
    outcome = {"_id": cmd.bulk_id, "commandType": "BulkClassify"}
    if cmd.dry_run:
        return Answer([await _preview(cmd, repo)], record=outcome)
    record = await repo.bulk_record(cmd.bulk_id)
    if record is None:
        planned = plan.plan_classes(cmd, await repo.live_classes([i.item_id for i in cmd.items]))
        record = {"_id": cmd.bulk_id, "commandId": cmd.id, "taskId": cmd.task_id,
                  "projectId": cmd.project_id, "total": len(cmd.items), "createdAt": clock(), **planned}
        await repo.save_bulk_record(record)
    if record.get("state") not in (COMPLETED, "undone"):
        await _write(cmd, repo, record, base_url, publish)
        await repo.mark_bulk(cmd.bulk_id, {"state": COMPLETED, "done": record["total"]})
    return Answer([BulkCompleted(
        id=derived_id(cmd.bulk_id, "BulkCompleted"), correlation_id=cmd.bulk_id, actor=cmd.actor,
        bulk_id=cmd.bulk_id, task_id=cmd.task_id, project_id=cmd.project_id, total=record["total"],
        classified=len(record["classified"]), unchanged=len(record["unchanged"]),
        replaced=sum(len(v) for v in record["replaced"].values()), statuses=cmd.statuses)], record=outcome)


async def _preview(cmd: ClassifyItems, repo: AnnotationRepository) -> BulkPreviewed:
    """The task service's counts, with the items that already carry the label."""
    items = [i.item_id for i in cmd.items]
    live = await repo.live_classes(items)
    carrying = {i for i in items if any(a["label"] == cmd.label for a in live.get(i, []))}
    counts = cmd.preview
    changing = set(counts.get("statusChanging", []))
    return BulkPreviewed(
        id=derived_id(cmd.bulk_id, "BulkPreviewed"), correlation_id=cmd.bulk_id, actor=cmd.actor,
        task_id=cmd.task_id, project_id=cmd.project_id, total=counts.get("total", len(items)),
        would_change=len([i for i in items if i not in carrying or i in changing]),
        already_classified=len(carrying), status_overwritten=counts.get("statusOverwritten", 0),
        held_by_others=counts.get("heldByOthers", {}), statuses_before=counts.get("statusesBefore", {}))


async def _write(cmd: ClassifyItems, repo: AnnotationRepository, record: dict[str, Any], base_url: str,
                 publish: Publish) -> None:
    """Write the planned classes chunk by chunk, publishing each chunk's events once it is
    durable. Two chunks are always on their way to the server: it takes the second as soon
    as the first is in (writes to one collection take their turn there), while this process
    builds the next chunk and publishes the events of those already durable."""
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
        events.append(BulkProgressed(
            id=derived_id(cmd.id, f"progress:{docs[0]['itemId']}"), correlation_id=correlation,
            actor=cmd.actor, bulk_id=cmd.bulk_id, task_id=cmd.task_id, project_id=cmd.project_id,
            done=done, total=total))
        await publish(events)
        await repo.bulk_progressed(cmd.bulk_id, done)

    async def write(part: list[list[str]], docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        await repo.insert_chunk(docs)
        await repo.tombstone([r for i, _ in part for r in record["replaced"].get(i, [])], tombstone)
        return docs

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


async def unclassify_items(cmd: UnclassifyItems, *, repo: AnnotationRepository, clock: Clock,
                           publish: Publish) -> Answer:
    """Remove the bulk's classes and bring back those they replaced, except on items whose
    bulk annotation changed since (those are reported as conflicts); `BulkUndone`, recorded
    under the undo's id."""
    outcome = {"_id": cmd.undo_id, "commandType": "UndoBulk"}
    if (stored := (await repo.outcomes([cmd.undo_id])).get(cmd.undo_id)) is not None:
        return Answer(stored_events(stored), record=outcome)
    record = await repo.bulk_record(cmd.bulk_id)
    if record is None or record.get("state") not in (COMPLETED, "undone"):
        # The task service passes an undo on only once it has passed its bulk on, earlier on
        # this stream: a bulk not written yet is one whose delivery failed and comes again.
        raise StillWriting(f"bulk {cmd.bulk_id}: its classes are still being written")
    undo = record.get("undo")
    if undo is None:
        mine = {annotation_id(cmd.bulk_id, i): i for i, _ in record["classified"]}
        current = await repo.get_many(list(mine))
        keep = [i for a, i in mine.items() if _untouched(current.get(a))]
        undo = {"items": keep, "conflicts": [i for i in mine.values() if i not in set(keep)]}
        await repo.mark_bulk(cmd.bulk_id, {"undo": undo})
    removed = [annotation_id(cmd.bulk_id, i) for i in undo["items"]]
    back = [r for i in undo["items"] for r in record.get("replaced", {}).get(i, [])]
    await repo.tombstone(removed, {"at": cmd.occurred_at.isoformat(), "by": cmd.actor.email,
                                   "commandId": cmd.undo_id, "bulkId": cmd.bulk_id})
    await repo.revive(back, record["commandId"])
    await publish(await _undo_events(cmd, repo, undo["items"], back))
    await repo.mark_bulk(cmd.bulk_id, {"state": "undone"})
    return Answer([BulkUndone(
        id=derived_id(cmd.id, "BulkUndone"), correlation_id=cmd.undo_id, actor=cmd.actor,
        bulk_id=cmd.bulk_id, task_id=cmd.task_id, project_id=cmd.project_id, removed=len(removed),
        restored=len(back), conflicts=offenders(undo["conflicts"]), statuses=cmd.statuses)], record=outcome)


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


def table(base_url: str, publish: Publish) -> dict[type, Handler]:
    """The bulk commands of the `classify` stream and their handlers; `publish`: the outlet
    of their per-item events (`events.annotation`)."""
    return {
        ClassifyItems: partial(classify_items, base_url=base_url, publish=publish),
        UnclassifyItems: partial(unclassify_items, publish=publish),
    }


def is_bulk(cmd: Any) -> bool:
    return isinstance(cmd, ClassifyItems | UnclassifyItems)


def recorded(cmd: Any) -> bool:
    """The runner looks up a bulk command's record by its own id: never, it is kept under
    the bulk's (the undo's) id."""
    return not is_bulk(cmd)


def scope(others: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The runner's key with bulk commands: each runs alone (None), after the batch's earlier
    commands and before its later ones, since it touches thousands of items; `others` keys
    the rest."""
    return lambda cmd: None if is_bulk(cmd) else others(cmd)
