"""The task service's bulk use cases, run by the platform runner (shared.platform.runner):
check a bulk classification against the task's rules, plan it, write its statuses and pass
it on to the annotation service as one `ClassifyItems` (which writes the classes and
announces the end); undo it. The bulk is linear: nothing comes back here.

Handlers are `(command, *, repo, clock, statuses) -> list[Event] | Answer`, registered in
`table`. A refusal is an ordinary outcome, recorded by the runner under the command id. An
accepted bulk, or a dry run, leaves no record here (`Answer(..., stored=False)`): the
runner passes the command on with the requester's reply address, and the annotation
service records the outcome under the bulk id and replies.

A bulk's per-item status events are published by the handler itself (`Statuses.publish`,
bound into the table), each after its status is durable: ten thousand of them belong in
no outcome record. The forwarded command goes out after them, through the runner.

Crash safety: the accepted bulk's plan (items, assignments) is stored in `bulk_operations`
before anything changes; the statuses it replaces are stored as they are found, before any
is changed; its state says how far it got (`accepted`, then `statuses-done`). A
redelivered command replays the plan: every write is idempotent on the bulk id, the counts
are guarded by it, and the events go out again with the same ids."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from services.task.bulk import rules
from services.task.handlers import refused, stamp
from services.task.repository import TaskRepository
from shared.contracts.bulk import (
    BulkClassify,
    BulkItem,
    ClassesStored,
    ClassifyItems,
    UnclassifyItems,
    UndoBulk,
    items_correlation,
    offenders,
)
from shared.contracts.envelope import Actor, derived_id
from shared.contracts.tasks import ItemStatusChanged
from shared.platform.messaging import Prepared
from shared.platform.runner import Answer, Clock, Handler, stored_events
from shared.rules.progress import status_deltas

CHUNK = 1_000
IN_FLIGHT = 2  # status chunk writes sent ahead
ACCEPTED = "accepted"
STATUSES_DONE = "statuses-done"
Publish = Callable[[Any], Awaitable[None]]  # events (or `Prepared` ones) onto events.task
Prepare = Callable[[list[Any]], Awaitable[Any]]  # events -> what `publish` takes, encoded ahead


async def _as_they_are(events: list[Any]) -> Any:
    return events


@dataclass
class StatusWrites:
    """A bulk's status documents to insert, items whose status document exists (per
    assignment), and their events, chunk by chunk, as `prepare` made them; `planned` when
    they come from the stored `statusChanges`."""

    planned: bool
    fresh: list[dict[str, Any]] = field(default_factory=list)
    existing: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    events: list[Any] = field(default_factory=list)
    encoding: asyncio.Future[list[Any]] | None = None  # the events, while they are encoded


def _pick(chunks: list[Any], indexes: list[int]) -> Any:
    """The entries at `indexes` of prepared chunks taken as one list, as one batch of the
    same kind (`Prepared` or a list of events)."""
    every = Prepared.joined(chunks)
    picked = [(every.entries if isinstance(every, Prepared) else every)[i] for i in indexes]
    return Prepared(picked) if isinstance(every, Prepared) else picked


# classify ---------------------------------------------------------------------------------


async def bulk_classify(cmd: BulkClassify, *, repo: TaskRepository, clock: Clock,
                        statuses: Statuses) -> list[Any] | Answer:
    """Check and plan the bulk (or, for a dry run, count what it would change to the
    statuses), write its statuses, and pass it on to the annotation service."""
    record = await repo.bulk_record(cmd.id)
    if record is None:
        planned = await _plan(cmd, repo, clock)
        if not isinstance(planned, dict):
            return planned  # refused, or a dry run passed on
        record = planned
    if record["state"] == ACCEPTED:
        changes = await statuses.write(record)
        await repo.count(record["taskId"], cmd.id, status_deltas(
            [c for _, a, previous, _ in changes for c in ((a, previous, None), (a, None, record["status"]))]))
        await repo.mark_bulk(cmd.id, {"state": STATUSES_DONE, "statusesChanged": len(changes)})
        repo.counted(record["taskId"], cmd.id)  # the state guards a redelivery from now on
    else:  # written by an earlier delivery: their events again (same ids), then the classes
        changes = record["statusChanges"]
        await statuses.publish_events(record, changes)
    return Answer([_classify_items(cmd, record, len(changes))], stored=False)


async def _plan(cmd: BulkClassify, repo: TaskRepository, clock: Clock) -> dict[str, Any] | list[Any] | Answer:
    """Check the bulk; store its plan, or answer: a refusal, or a dry run's preview passed on."""
    task = await repo.task(cmd.task_id)
    if task is None or task["projectId"] != cmd.project_id:
        return [refused(cmd, rules.Refusal("not_found", f"no task {cmd.task_id}"))]
    if (refusal := rules.BulkNeedsAllocation().check(task, [])) is not None:
        return [refused(cmd, refusal)]
    holders = await _holders(repo, task["_id"])
    items = await _selection(cmd, repo, task, holders)
    unallocated = [i for i in items if i not in holders]
    new_status = rules.status_for(cmd.mode, cmd.status)
    refusal = (rules.BulkNeedsAllocation().check(task, unallocated)
               or rules.StatusIsOfferedForBulk().check(task, new_status)
               or rules.ActorMayActOnEveryItem().check(cmd.actor.role, cmd.actor.email, items, holders))
    if refusal is None and not items:
        refusal = rules.Refusal("invalid", "the selection holds no items of the task", {"field": "itemIds"})
    if refusal is not None:
        return [refused(cmd, refusal)]
    if cmd.dry_run:
        docs = await repo.status_docs(task["_id"], items)
        return Answer([_preview(cmd, task, items, holders, rules.status_changes(items, holders, new_status, docs))],
                      stored=False)
    # Which statuses the bulk replaces is found when they are written (`Statuses.write`):
    # most often none, and reading every status document first would cost the bulk's path.
    # A bulk that sets no status changes none.
    unplanned = {} if new_status is not None else {"statusChanges": [], "statusesChanged": 0}
    now = clock()
    record = {
        "_id": cmd.id, "taskId": task["_id"], "projectId": task["projectId"],
        "datasetId": task["datasetId"], "recipeId": task["recipeId"],
        "singleClass": task["singleClass"], "actor": cmd.actor.wire(), "label": cmd.label,
        "attributes": cmd.attributes, "mode": cmd.mode, "status": new_status,
        "items": [[i, holders[i]["_id"]] for i in items],
        "state": ACCEPTED, "createdAt": now, "at": stamp(now), "total": len(items), **unplanned,
    }
    await repo.save_bulk_record(record)
    return record


async def _holders(repo: TaskRepository, task_id: str) -> dict[str, dict[str, Any]]:
    holders: dict[str, dict[str, Any]] = {}
    for a in await repo.assignments(task_id, with_items=True):
        if a.get("queue") or not a.get("active", True):
            continue
        view = {k: v for k, v in a.items() if k != "itemIds"}
        for i in a["itemIds"]:
            holders.setdefault(i, view)
    return holders


async def _selection(cmd: BulkClassify, repo: TaskRepository, task: dict[str, Any],
                     holders: dict[str, dict[str, Any]]) -> list[str]:
    """The bulk's items: those the gateway named (it owns the items and resolves a browse
    filter), or those of the task's allocation its filter (assignment, status) selects."""
    if cmd.item_ids is not None:
        return list(dict.fromkeys(cmd.item_ids))
    f = cmd.filter
    items = [i for i, a in holders.items() if f is None or f.assignment_id in (None, a["_id"])]
    if f is not None and f.status is not None:
        docs = await repo.status_docs(task["_id"], items)
        wanted = None if f.status == "none" else f.status
        items = [i for i in items if docs.get(i, {}).get("status") == wanted]
    return items


def _preview(cmd: BulkClassify, task: dict[str, Any], items: list[str], holders: dict[str, dict[str, Any]],
             changes: list[rules.StatusChange]) -> ClassifyItems:
    """A dry run passed on: the task's counts; the annotation service adds which items
    already carry the label and answers."""
    return ClassifyItems(
        id=derived_id(cmd.id, "ClassifyItems"), correlation_id=cmd.id, actor=cmd.actor, bulk_id=cmd.id,
        task_id=task["_id"], project_id=task["projectId"], dataset_id=task["datasetId"],
        recipe_id=task["recipeId"], label=cmd.label, attributes=cmd.attributes,
        replace_classes=task["singleClass"], items=[BulkItem(item_id=i, assignment_id=holders[i]["_id"]) for i in items],
        dry_run=True, preview={
            "total": len(items), "statusOverwritten": len([c for c in changes if c.previous is not None]),
            "heldByOthers": rules.held_by_others(items, holders, cmd.actor.email),
            "statusesBefore": dict(Counter(c.previous or "none" for c in changes)),
            "statusChanging": [c.item_id for c in changes]})


def _classify_items(cmd: BulkClassify, record: dict[str, Any], changed: int) -> ClassifyItems:
    return ClassifyItems(
        id=derived_id(cmd.id, "ClassifyItems"), correlation_id=cmd.id, actor=cmd.actor,
        bulk_id=cmd.id, task_id=record["taskId"], project_id=record["projectId"],
        dataset_id=record["datasetId"], recipe_id=record["recipeId"], label=record["label"],
        attributes=record["attributes"], replace_classes=record["singleClass"],
        items=[BulkItem(item_id=i, assignment_id=a) for i, a in record["items"]],
        statuses={"status": record["status"], "changed": changed})


class Statuses:
    """Writes a bulk's statuses through `repo` (the service's repository) and publishes their
    events (onto `events.task`, each after its status is durable); `prepare` encodes events
    ahead (shared.platform.messaging)."""

    def __init__(self, repo: TaskRepository, publish: Publish, prepare: Prepare | None = None) -> None:
        self.repo = repo
        self.publish = publish
        self.prepare: Prepare = prepare or _as_they_are

    async def write(self, record: dict[str, Any]) -> list[list[Any]]:
        """Write the statuses of an accepted bulk, then publish their events; the changes
        made (`statusChanges`: item, assignment, previous status, whether its document
        existed)."""
        writes = await self._status_writes(record, encode=False)
        writes.encoding = asyncio.ensure_future(self._encoded(record, _known(record)))  # while writing
        try:
            return await self._write_statuses(record, writes)
        finally:
            writes.encoding.cancel()  # done by then, unless a write failed

    async def publish_events(self, record: dict[str, Any], changes: list[list[Any]]) -> None:
        await self.publish(Prepared.joined(await self._encoded(record, changes)))

    async def _status_writes(self, record: dict[str, Any], encode: bool = True) -> StatusWrites:
        """The documents and encoded events of the bulk's statuses: of those it is known to
        change (`statusChanges`, stored) or, not known yet, of every item as if it had no
        status document (the most common case; `_write_statuses` finds the others)."""
        bulk_id, task_id, status = record["_id"], record["taskId"], record["status"]
        email, at = record["actor"]["email"], record["at"]
        changes = record.get("statusChanges")
        writes = StatusWrites(planned=changes is not None)
        for item, assignment, *known in changes if changes is not None else record["items"]:
            if known and known[1]:  # the document exists: updated, not inserted
                writes.existing[assignment].append(item)
                continue
            log = _log("created", task_id, assignment, status, email, at)
            writes.fresh.append({"_id": f"{task_id}:{item}", "taskId": task_id, "itemId": item,
                                 "assignmentId": assignment, "status": status, "creator": email,
                                 "timestamp": at, "lastCommandId": bulk_id, "log": [log]})
        if encode:
            writes.events = await self._encoded(record, _known(record))
        return writes

    async def _encoded(self, record: dict[str, Any], changes: list[list[Any]]) -> list[Any]:
        """The events of `changes`, chunk by chunk, as `prepare` makes them."""
        encoded = []
        for n in range(0, len(changes), CHUNK):
            encoded.append(await self.prepare(_status_events(record, changes[n:n + CHUNK])))
            await asyncio.sleep(0)  # let the writes and the service's other work through
        return encoded

    async def _write_statuses(self, record: dict[str, Any], writes: StatusWrites) -> list[list[Any]]:
        """Write the statuses, chunk after chunk, then publish their events.

        Not yet known which statuses the bulk replaces, every item's document is inserted;
        the items whose document exists (found by the duplicate keys) are read, their
        changes stored with the plan before any of them is updated (a redelivery finds them:
        until then, the only documents naming the bulk are ones it inserted). The events go
        out once every status is written: publishing while writing woke the readers, whose
        work took the CPU the MongoDB-wire server needed (bench/bulk.py)."""
        repo, bulk_id, task_id, status = self.repo, record["_id"], record["taskId"], record["status"]
        gate = asyncio.Semaphore(IN_FLIGHT)  # the next chunk waits at the server, not here

        async def insert(docs: list[dict[str, Any]]) -> set[str]:
            async with gate:
                return await repo.insert_statuses(docs)

        existed = set().union(*await asyncio.gather(
            *(insert(writes.fresh[n:n + CHUNK]) for n in range(0, len(writes.fresh), CHUNK))))
        if writes.encoding is not None:
            writes.events = await writes.encoding
        if writes.planned:
            changes, events = record["statusChanges"], writes.events
        else:
            changes, events = await self._found_changes(record, writes, existed)
        for assignment, items in writes.existing.items():
            await repo.update_statuses(
                [f"{task_id}:{i}" for i in items], bulk_id,
                {"assignmentId": assignment, "status": status, "creator": record["actor"]["email"],
                 "timestamp": record["at"], "lastCommandId": bulk_id},
                _log("created", task_id, assignment, status, record["actor"]["email"], record["at"]))
        await self.publish(Prepared.joined(events))
        return changes

    async def _found_changes(self, record: dict[str, Any], writes: StatusWrites,
                             existed: set[str]) -> tuple[list[list[Any]], list[Any]]:
        """After inserting every item's status document: the changes, stored, and the events
        to publish. Items whose document was there are read: one this bulk inserted (an
        earlier delivery) is new, one already holding the status is left, the others are
        updated (`writes.existing`)."""
        repo, bulk_id, task_id = self.repo, record["_id"], record["taskId"]
        found = await repo.status_docs(task_id, [d["itemId"] for d in writes.fresh if d["_id"] in existed])
        changes: list[list[Any]] = []
        inserted: list[int] = []
        for n, (item, assignment) in enumerate(record["items"]):
            doc = found.get(item) if f"{task_id}:{item}" in existed else None
            if doc is None or doc.get("lastCommandId") == bulk_id:
                changes.append([item, assignment, None, False])
                inserted.append(n)
            elif doc.get("status") != record["status"]:
                changes.append([item, assignment, doc.get("status"), True])
                writes.existing[assignment].append(item)
        await repo.save_bulk_status_changes(bulk_id, changes)
        if len(inserted) == len(record["items"]):
            return changes, writes.events
        updated = [c for c in changes if c[3]]
        events = [_pick(writes.events, inserted)] + [
            await self.prepare(_status_events(record, updated[n:n + CHUNK])) for n in range(0, len(updated), CHUNK)]
        return changes, events


def _known(record: dict[str, Any]) -> list[list[Any]]:
    """The status changes of a bulk as far as they are known: stored, or (not found yet)
    every item as if it had no status document."""
    changes = record.get("statusChanges")
    return changes if changes is not None else [[i, a, None, False] for i, a in record["items"]]


def _status_events(record: dict[str, Any], changes: list[list[Any]]) -> list[ItemStatusChanged]:
    bulk_id, actor = record["_id"], Actor.model_validate(record["actor"])
    correlation = items_correlation(bulk_id)
    return [ItemStatusChanged(
        id=derived_id(bulk_id, f"status:{item}"), correlation_id=correlation, actor=actor,
        task_id=record["taskId"], project_id=record["projectId"], assignment_id=assignment,
        item_id=item, previous=previous, status=record["status"])
        for item, assignment, previous, _ in changes]


# undo -------------------------------------------------------------------------------------


async def undo_bulk(cmd: UndoBulk, *, repo: TaskRepository, clock: Clock, statuses: Statuses) -> list[Any] | Answer:
    """Restore the statuses the bulk set and still hold, then pass the undo on to the
    annotation service (`UnclassifyItems`), which removes the classes and answers.

    Its refusals are recorded under its id by the runner; its accepted outcome is the
    annotation service's (under the same id), so the runner does not look it up here
    (`recorded`): a refusal already stored is answered again as it stood, anything else
    is redone, idempotently, and passed on again."""
    done = (await repo.outcomes([cmd.id])).get(cmd.id)
    if done is not None and done.get("status") == "rejected":
        return stored_events(done)
    record = await repo.bulk_record(cmd.bulk_id)
    if record is None or record["taskId"] != cmd.task_id or record["projectId"] != cmd.project_id:
        return [refused(cmd, rules.Refusal("not_found", f"no bulk operation {cmd.bulk_id}"))]
    if cmd.actor.role not in rules.MANAGERS and record["actor"]["userId"] != cmd.actor.user_id:
        return [refused(cmd, rules.Refusal("forbidden", "only its author or a manager undoes a bulk"))]
    if record.get("undoneBy") not in (None, cmd.id):
        return [refused(cmd, rules.Refusal("conflict", "this bulk operation was already undone"))]
    if record["state"] == ACCEPTED:
        return [refused(cmd, rules.Refusal("conflict", "this bulk operation is still running"))]
    plan = record.get("undo") or await _undo_plan(cmd, repo, record, clock)
    await _restore_statuses(cmd, repo, record, plan)
    if not record.get("undoCounted"):
        await repo.count(record["taskId"], cmd.id, status_deltas(
            [c for _, a, previous, _ in plan["restore"]
             for c in ((a, record["status"], None), (a, None, previous))]))
        await repo.mark_bulk(record["_id"], {"undoCounted": True})
        repo.counted(record["taskId"], cmd.id)  # the mark guards a redelivery from now on
    await statuses.publish(_restored_events(cmd, record, plan))
    return Answer([UnclassifyItems(
        id=derived_id(cmd.id, "UnclassifyItems"), correlation_id=cmd.id, actor=cmd.actor,
        bulk_id=cmd.bulk_id, undo_id=cmd.id, task_id=cmd.task_id, project_id=cmd.project_id,
        statuses={"restored": len(plan["restore"]), "conflicts": offenders(plan["conflicts"])})], stored=False)


async def _undo_plan(cmd: UndoBulk, repo: TaskRepository, record: dict[str, Any], clock: Clock) -> dict[str, Any]:
    """Which statuses go back: those still as the bulk left them; the rest are conflicts."""
    changes = record["statusChanges"]
    docs = await repo.status_docs(record["taskId"], [c[0] for c in changes])
    restore = [c for c in changes if docs.get(c[0], {}).get("lastCommandId") == record["_id"]]
    kept = {c[0] for c in restore}
    plan = {"restore": restore, "conflicts": [c[0] for c in changes if c[0] not in kept], "at": stamp(clock())}
    await repo.mark_bulk(record["_id"], {"undoneBy": cmd.id, "undo": plan})
    return plan


async def _restore_statuses(cmd: UndoBulk, repo: TaskRepository, record: dict[str, Any],
                            plan: dict[str, Any]) -> None:
    task_id, email, at = record["taskId"], cmd.actor.email, plan["at"]
    groups: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for item, assignment, previous, _ in plan["restore"]:
        groups[(assignment, previous)].append(f"{task_id}:{item}")
    for (assignment, previous), ids in groups.items():
        action = "created" if previous else "deleted"
        shown = previous if previous else record["status"]
        await repo.update_statuses(
            ids, cmd.id, {"status": previous, "creator": email, "timestamp": at,
                          "lastCommandId": cmd.id, "assignmentId": assignment},
            _log(action, task_id, assignment, shown, email, at))


def _restored_events(cmd: UndoBulk, record: dict[str, Any], plan: dict[str, Any]) -> list[Any]:
    correlation = items_correlation(cmd.id)
    return [ItemStatusChanged(
        id=derived_id(cmd.id, f"status:{item}"), correlation_id=correlation, actor=cmd.actor,
        task_id=record["taskId"], project_id=record["projectId"], assignment_id=assignment,
        item_id=item, previous=record["status"], status=previous)
        for item, assignment, previous, _ in plan["restore"]]


def _log(action: str, task_id: str, assignment: str, status: str | None, email: str, at: str) -> dict:
    return {"action": action, "status": {"taskId": task_id, "assignmentId": assignment,
                                         "status": status, "creator": email, "timestamp": at}}


# an earlier version's return hop ------------------------------------------------------------


def classes_stored(cmd: ClassesStored, *, repo: TaskRepository, clock: Clock) -> Answer:
    """Sent back by earlier versions, which completed a bulk here; the annotation service
    completes it now. Acknowledged, nothing to do."""
    return Answer(stored=False)


def table(statuses: Statuses) -> dict[type, Handler]:
    """The bulk stream's commands and their handlers."""
    return {
        BulkClassify: partial(bulk_classify, statuses=statuses),
        UndoBulk: partial(undo_bulk, statuses=statuses),
        ClassesStored: classes_stored,
    }


def recorded(cmd: Any) -> bool:
    """Whether the runner looks up the command's record: a bulk's is a refusal made here
    or the annotation service's preview or completion (both on `events.task`, replayed as
    they are); an undo's accepted outcome is on `events.annotation`, so the undo looks up
    only its refusals itself; the old return hop has none."""
    return isinstance(cmd, BulkClassify)

