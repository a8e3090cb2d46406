"""The task service's bulk use cases: check a bulk classification against the task's
rules, preview it, write its statuses in bulk and forward one `ClassifyItems`; undo it.

Crash safety: the accepted bulk's plan (items, assignments, replaced statuses) is stored in
`bulk_operations` before anything changes; a redelivered command replays the plan, and
every write in it is idempotent on the bulk id."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from services.task.bulk import rules
from services.task.handlers import event, refused, stamp
from services.task.repository import TaskRepository
from shared.contracts.bulk import (
    BulkClassify,
    BulkCompleted,
    BulkItem,
    BulkPreviewed,
    ClassesStored,
    ClassifyItems,
    UnclassifyItems,
    UndoBulk,
    items_correlation,
    offenders,
)
from shared.contracts.envelope import Actor, Envelope, derived_id, utcnow
from shared.contracts.tasks import ItemStatusChanged
from shared.platform.messaging import Prepared
from shared.platform.runner import outcome_record, stored_events
from shared.rules.progress import status_deltas

CHUNK = 1_000
IN_FLIGHT = 2  # status chunk writes sent ahead
FORWARDED_KEPT = 20
STATUSES_DONE = "statuses-done"
Publish = Callable[[list[Any]], Awaitable[None]]
Forward = Callable[[Envelope], Awaitable[None]]
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


def _pick(chunks: list[Any], indexes: list[int]) -> Any:
    """The entries at `indexes` of prepared chunks taken as one list, as one batch of the
    same kind (`Prepared` or a list of events)."""
    every = Prepared.joined(chunks)
    picked = [(every.entries if isinstance(every, Prepared) else every)[i] for i in indexes]
    return Prepared(picked) if isinstance(every, Prepared) else picked


class BulkHandlers:
    """The bulk stream's commands, one after the other. Not run by the platform runner: a
    bulk's outcome is recorded when it completes, after the annotation service's
    ClassesStored, not when its command has run."""

    def __init__(self, repo: TaskRepository, publish: Publish, forward: Forward,
                 prepare: Prepare | None = None) -> None:
        self.repo, self.publish, self.forward = repo, publish, forward
        self.prepare: Prepare = prepare or _as_they_are
        # Status documents and encoded events of forwarded bulks, made while their classes
        # are written.
        self._preparing: dict[str, asyncio.Future[StatusWrites]] = {}
        # Plans forwarded by this process, until their ClassesStored comes back: a 10,000-item
        # plan is a megabyte to read again (another replica, or after a restart, reads it).
        self._forwarded: dict[str, dict[str, Any]] = {}

    async def handle(self, commands: list[Envelope]) -> None:
        for cmd in dict((c.id, c) for c in commands).values():
            if isinstance(cmd, BulkClassify):
                await self.on_bulk_classify(cmd)
            elif isinstance(cmd, ClassesStored):
                await self.on_classes_stored(cmd)
            else:
                await self.on_undo_bulk(cmd)

    async def _refuse(self, cmd: Envelope, refusal: rules.Refusal) -> None:
        await self._finish(cmd, refused(cmd, refusal))

    async def _finish(self, cmd: Envelope, outcome: Any) -> None:
        await self.repo.save_outcomes([outcome_record(cmd, [outcome], utcnow())])
        await self.publish([outcome])

    # classify -------------------------------------------------------------------------------

    async def on_bulk_classify(self, cmd: BulkClassify) -> None:
        record = await self.repo.bulk_record(cmd.id)
        if record is None:
            done = await self.repo.outcomes([cmd.id])
            if cmd.id in done:  # refused or previewed before: say it again
                return await self.publish(stored_events(done[cmd.id]))
            record = await self._plan(cmd)
            if record is None:
                return
        await self._apply(cmd, record)

    async def _plan(self, cmd: BulkClassify) -> dict[str, Any] | None:
        """Check the bulk; store its plan (or, for a dry run, answer the preview)."""
        task = await self.repo.task(cmd.task_id)
        if task is None or task["projectId"] != cmd.project_id:
            return await self._refuse(cmd, rules.Refusal("not_found", f"no task {cmd.task_id}"))
        if (refusal := rules.BulkNeedsAllocation().check(task, [])) is not None:
            return await self._refuse(cmd, refusal)
        holders = await self._holders(task["_id"])
        items = await self._selection(cmd, task, holders)
        unallocated = [i for i in items if i not in holders]
        new_status = rules.status_for(cmd.mode, cmd.status)
        refusal = (rules.BulkNeedsAllocation().check(task, unallocated)
                   or rules.StatusIsOfferedForBulk().check(task, new_status)
                   or rules.ActorMayActOnEveryItem().check(cmd.actor.role, cmd.actor.email, items, holders))
        if refusal is None and not items:
            refusal = rules.Refusal("invalid", "the selection holds no items of the task", {"field": "itemIds"})
        if refusal is not None:
            return await self._refuse(cmd, refusal)
        if cmd.dry_run:
            docs = await self.repo.status_docs(task["_id"], items)
            return await self._preview(cmd, items, holders, rules.status_changes(items, holders, new_status, docs))
        # Which statuses the bulk replaces is found when they are written (`_write_statuses`):
        # reading 10,000 status documents first cost the MongoDB-wire server ~0.1 s on the
        # bulk's path, most often to find none. A bulk that sets no status changes none.
        unplanned = {} if new_status is not None else {"statusChanges": [], "statusesChanged": 0}
        record = {
            "_id": cmd.id, "taskId": task["_id"], "projectId": task["projectId"],
            "datasetId": task["datasetId"], "recipeId": task["recipeId"],
            "singleClass": task["singleClass"], "actor": cmd.actor.wire(), "label": cmd.label,
            "attributes": cmd.attributes, "mode": cmd.mode, "status": new_status,
            "items": [[i, holders[i]["_id"]] for i in items],
            "state": "accepted", "createdAt": utcnow(), "at": stamp(utcnow()), "total": len(items), **unplanned,
        }
        await self.repo.save_bulk_record(record)
        return record

    async def _holders(self, task_id: str) -> dict[str, dict[str, Any]]:
        holders: dict[str, dict[str, Any]] = {}
        for a in await self.repo.assignments(task_id, with_items=True):
            if a.get("queue") or not a.get("active", True):
                continue
            view = {k: v for k, v in a.items() if k != "itemIds"}
            for i in a["itemIds"]:
                holders.setdefault(i, view)
        return holders

    async def _selection(self, cmd: BulkClassify, task: dict[str, Any],
                         holders: dict[str, dict[str, Any]]) -> list[str]:
        if cmd.item_ids is not None:
            return list(dict.fromkeys(cmd.item_ids))
        f = cmd.filter
        items = [i for i, a in holders.items() if f is None or f.assignment_id in (None, a["_id"])]
        if f is not None and f.status is not None:
            docs = await self.repo.status_docs(task["_id"], items)
            wanted = None if f.status == "none" else f.status
            items = [i for i in items if docs.get(i, {}).get("status") == wanted]
        return items

    async def _preview(self, cmd: BulkClassify, items: list[str], holders: dict[str, dict[str, Any]],
                       changes: list[rules.StatusChange]) -> None:
        carrying = await self.repo.items_with_label(items, cmd.label)
        changing = {c.item_id for c in changes}
        await self._finish(cmd, event(
            cmd, BulkPreviewed, task_id=cmd.task_id, project_id=cmd.project_id, total=len(items),
            would_change=len([i for i in items if i not in carrying or i in changing]),
            already_classified=len(carrying),
            status_overwritten=len([c for c in changes if c.previous is not None]),
            held_by_others=rules.held_by_others(items, holders, cmd.actor.email),
            statuses_before=dict(Counter(c.previous or "none" for c in changes))))

    async def _apply(self, cmd: BulkClassify, record: dict[str, Any]) -> None:
        """Hand the classes to the annotation service; the statuses are written once the
        classes are stored (`on_classes_stored`), and the bulk completes with both.

        One after the other, not at once: the MongoDB-wire server wrote the two collections
        together slower than in turn (bench/bulk.py, 10,000 items: statuses 1.2 s and classes
        2.2 s side by side; 0.4 s and 1.0 s alone). A user sees an item's class before its
        status. Every step is idempotent, so a redelivery after a crash finishes the rest
        exactly once per item."""
        await self.forward(ClassifyItems(
            id=derived_id(cmd.id, "ClassifyItems"), correlation_id=cmd.id, actor=cmd.actor,
            bulk_id=cmd.id, task_id=record["taskId"], project_id=record["projectId"],
            dataset_id=record["datasetId"], recipe_id=record["recipeId"], label=record["label"],
            attributes=record["attributes"], replace_classes=record["singleClass"],
            items=[BulkItem(item_id=i, assignment_id=a) for i, a in record["items"]],
            statuses={"status": record["status"]}))
        if record["state"] == "accepted":
            self._forwarded[cmd.id] = record
            while len(self._forwarded) > FORWARDED_KEPT:
                self._forwarded.pop(next(iter(self._forwarded)))
            self._prepare(record)
        await self._complete_when_both(cmd.id)

    async def on_classes_stored(self, cmd: ClassesStored) -> None:
        await self.repo.mark_bulk(cmd.bulk_id, {"classes": {
            "classified": cmd.classified, "unchanged": cmd.unchanged, "replaced": cmd.replaced}})
        state = await self.repo.bulk_record(cmd.bulk_id, summary=True)
        if state is not None and state["state"] == "accepted":
            kept = self._forwarded.pop(cmd.bulk_id, None)
            preparing = self._preparing.pop(cmd.bulk_id, None)
            fresh = kept is not None and "statusesChanged" not in state  # no earlier delivery got far
            record = kept | state if fresh else await self.repo.bulk_record(cmd.bulk_id)
            if preparing is not None and not fresh:
                preparing.cancel()  # made from a plan an earlier delivery has gone past
            writes = await preparing if fresh and preparing is not None else await self._status_writes(record)
            changes = await self._write_statuses(record, writes)
            await self.repo.count(record["taskId"], cmd.bulk_id, status_deltas(
                [c for _, a, previous, _ in changes for c in ((a, previous, None), (a, None, record["status"]))]))
            await self.repo.mark_bulk(cmd.bulk_id, {"state": STATUSES_DONE})
        await self._complete_when_both(cmd.bulk_id)

    async def _complete_when_both(self, bulk_id: str) -> None:
        """Announce `BulkCompleted` once statuses and classes are both stored. Each half
        writes its mark, then reads both: whichever comes second sees both (if both do, the
        event goes out twice with one id, which consumers and the outcome store dedupe)."""
        record = await self.repo.bulk_record(bulk_id, summary=True)
        if record is None or record["state"] == "accepted" or "classes" not in record:
            return
        if "total" not in record:  # recorded by an earlier version
            full = await self.repo.bulk_record(bulk_id) or {}
            record |= {"total": len(full["items"]), "statusesChanged": len(full["statusChanges"])}
        classes = record["classes"]
        completed = BulkCompleted(
            id=derived_id(bulk_id, "BulkCompleted"), correlation_id=bulk_id,
            actor=record["actor"], bulk_id=bulk_id, task_id=record["taskId"],
            project_id=record["projectId"], total=record["total"], **classes,
            statuses={"status": record["status"], "changed": record["statusesChanged"]})
        if record["state"] != "completed":  # before the outcome: once an operation says done,
            await self.repo.mark_bulk(bulk_id, {"state": "completed"})  # the progress URL says so too
        await self.repo.save_outcomes([{
            "_id": bulk_id, "commandType": "BulkClassify", "status": "succeeded",
            "actorId": completed.actor.user_id, "projectId": record["projectId"],
            "event": completed.wire(), "events": [completed.wire()], "completedAt": utcnow()}])
        self.repo.counted(record["taskId"], bulk_id)
        await self.publish([completed])

    def _prepare(self, record: dict[str, Any]) -> None:
        """Build the statuses' documents and encode their events in the background while the
        annotation service writes the classes: done then, it would hold up the bulk's end
        (encoding 10,000 events took ~0.25 s)."""
        preparing = asyncio.ensure_future(self._status_writes(record))
        preparing.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: not logged
        self._preparing[record["_id"]] = preparing
        while len(self._preparing) > FORWARDED_KEPT:
            self._preparing.pop(next(iter(self._preparing))).cancel()

    async def _status_writes(self, record: dict[str, Any]) -> StatusWrites:
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
        events = changes if changes is not None else [[i, a, None, False] for i, a in record["items"]]
        for n in range(0, len(events), CHUNK):
            writes.events.append(await self.prepare(self._status_events(record, events[n:n + CHUNK])))
            await asyncio.sleep(0)  # let the service's other work through between chunks
        return writes

    async def _write_statuses(self, record: dict[str, Any], writes: StatusWrites) -> list[list[Any]]:
        """Write the statuses, chunk after chunk, then publish their events; the changes made
        (`statusChanges`: item, assignment, previous status, whether its document existed).

        Not yet known which statuses the bulk replaces, every item's document is inserted;
        the items whose document exists (found by the duplicate keys) are read, their
        changes stored with the plan before any of them is updated (a redelivery finds them:
        until then, the only documents naming the bulk are ones it inserted). Publishing
        while writing woke the workflow service and the gateway, whose reading took the CPU
        the MongoDB-wire server needed (bench/bulk.py); each item's event still follows its
        durable status."""
        bulk_id, task_id, status = record["_id"], record["taskId"], record["status"]
        gate = asyncio.Semaphore(IN_FLIGHT)  # the next chunk waits at the server, not here

        async def insert(docs: list[dict[str, Any]]) -> set[str]:
            async with gate:
                return await self.repo.insert_statuses(docs)

        existed = set().union(*await asyncio.gather(
            *(insert(writes.fresh[n:n + CHUNK]) for n in range(0, len(writes.fresh), CHUNK))))
        if writes.planned:
            changes, events = record["statusChanges"], writes.events
        else:
            changes, events = await self._found_changes(record, writes, existed)
        for assignment, items in writes.existing.items():
            await self.repo.update_statuses(
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
        bulk_id, task_id = record["_id"], record["taskId"]
        found = await self.repo.status_docs(task_id, [d["itemId"] for d in writes.fresh if d["_id"] in existed])
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
        await self.repo.save_bulk_status_changes(bulk_id, changes)
        await self.repo.mark_bulk(bulk_id, {"statusesChanged": len(changes)})
        if len(inserted) == len(record["items"]):
            return changes, writes.events
        updated = [c for c in changes if c[3]]
        events = [_pick(writes.events, inserted)] + [
            await self.prepare(self._status_events(record, updated[n:n + CHUNK])) for n in range(0, len(updated), CHUNK)]
        return changes, events

    @staticmethod
    def _status_events(record: dict[str, Any], changes: list[list[Any]]) -> list[ItemStatusChanged]:
        bulk_id, actor = record["_id"], Actor.model_validate(record["actor"])
        correlation = items_correlation(bulk_id)
        return [ItemStatusChanged(
            id=derived_id(bulk_id, f"status:{item}"), correlation_id=correlation, actor=actor,
            task_id=record["taskId"], project_id=record["projectId"], assignment_id=assignment,
            item_id=item, previous=previous, status=record["status"])
            for item, assignment, previous, _ in changes]

    # undo -----------------------------------------------------------------------------------

    async def on_undo_bulk(self, cmd: UndoBulk) -> None:
        done = await self.repo.outcomes([cmd.id])
        if cmd.id in done:
            return await self.publish(stored_events(done[cmd.id]))
        record = await self.repo.bulk_record(cmd.bulk_id)
        if record is None or record["taskId"] != cmd.task_id or record["projectId"] != cmd.project_id:
            return await self._refuse(cmd, rules.Refusal("not_found", f"no bulk operation {cmd.bulk_id}"))
        if cmd.actor.role not in rules.MANAGERS and record["actor"]["userId"] != cmd.actor.user_id:
            return await self._refuse(cmd, rules.Refusal("forbidden", "only its author or a manager undoes a bulk"))
        if record.get("undoneBy") not in (None, cmd.id):
            return await self._refuse(cmd, rules.Refusal("conflict", "this bulk operation was already undone"))
        if record["state"] != "completed":
            return await self._refuse(cmd, rules.Refusal("conflict", "this bulk operation is still running"))
        plan = record.get("undo") or await self._undo_plan(cmd, record)
        await self._restore_statuses(cmd, record, plan)
        await self.repo.count(record["taskId"], cmd.id, status_deltas(
            [c for _, a, previous, _ in plan["restore"]
             for c in ((a, record["status"], None), (a, None, previous))]))
        await self.publish(self._restored_events(cmd, record, plan))
        await self.forward(UnclassifyItems(
            id=derived_id(cmd.id, "UnclassifyItems"), correlation_id=cmd.id, actor=cmd.actor,
            bulk_id=cmd.bulk_id, undo_id=cmd.id, task_id=cmd.task_id, project_id=cmd.project_id,
            statuses={"restored": len(plan["restore"]), "conflicts": offenders(plan["conflicts"])}))

    async def _undo_plan(self, cmd: UndoBulk, record: dict[str, Any]) -> dict[str, Any]:
        """Which statuses go back: those still as the bulk left them; the rest are conflicts."""
        changes = record["statusChanges"]
        docs = await self.repo.status_docs(record["taskId"], [c[0] for c in changes])
        restore = [c for c in changes if docs.get(c[0], {}).get("lastCommandId") == record["_id"]]
        kept = {c[0] for c in restore}
        plan = {"restore": restore, "conflicts": [c[0] for c in changes if c[0] not in kept], "at": stamp(utcnow())}
        await self.repo.mark_bulk(record["_id"], {"undoneBy": cmd.id, "undo": plan})
        return plan

    async def _restore_statuses(self, cmd: UndoBulk, record: dict[str, Any], plan: dict[str, Any]) -> None:
        task_id, email, at = record["taskId"], cmd.actor.email, plan["at"]
        groups: dict[tuple[str, str | None], list[str]] = defaultdict(list)
        for item, assignment, previous, _ in plan["restore"]:
            groups[(assignment, previous)].append(f"{task_id}:{item}")
        for (assignment, previous), ids in groups.items():
            action = "created" if previous else "deleted"
            shown = previous if previous else record["status"]
            await self.repo.update_statuses(
                ids, cmd.id, {"status": previous, "creator": email, "timestamp": at,
                              "lastCommandId": cmd.id, "assignmentId": assignment},
                _log(action, task_id, assignment, shown, email, at))

    @staticmethod
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

