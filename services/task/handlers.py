"""Use cases of the task service: task commands in, events out. Idempotent on command id:
a command whose outcome is stored is not applied again, its events are re-published."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from services.task import rules
from services.task.holders import HolderCache
from services.task.repository import UNREAD, MongoTaskRepository
from shared.contracts.commands import Classify
from shared.contracts.envelope import Envelope, derived_id, utcnow
from shared.contracts.events import CommandRejected, parse_event
from shared.contracts.scene_commands import SceneCommand
from shared.contracts.tasks import (
    ChangeTaskItems,
    CheckInTask,
    CreateTask,
    EditTask,
    ItemFilter,
    ItemsPulled,
    ItemStatusChanged,
    PullItems,
    Reassign,
    Redistribute,
    ReturnItems,
    SetStatus,
    TaskChanged,
)
from shared.rules.progress import status_deltas, task_view

Publish = Callable[[list[Any]], Awaitable[None]]
log = logging.getLogger("classifier.task")
Forward = Callable[[Envelope], Awaitable[None]]


def _now() -> str:
    t = utcnow()
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def event(cmd: Envelope, kind: type, correlation: str | None = None, **fields: Any) -> Any:
    return kind(id=derived_id(cmd.id, kind.__name__), correlation_id=correlation or cmd.id,
                actor=cmd.actor, **fields)


def refused(cmd: Envelope, refusal: rules.Refusal, correlation: str | None = None) -> CommandRejected:
    return event(cmd, CommandRejected, correlation, command_type=cmd.type, reason=refusal.reason,
                 message=refusal.message, details=refusal.details)


def assignment_doc(task_id: str, n: int | str, annotator: str | None, item_ids: list[str],
                   queue: bool = False) -> dict[str, Any]:
    suffix = "queue" if queue else f"a{n}"
    doc = {"_id": derived_id(task_id, suffix)[:24], "taskId": task_id, "annotator": annotator,
           "itemIds": item_ids, "active": True, "removed": False, "locked": False,
           "queue": queue, "createdAt": _now()}
    return doc | ({"next": 0} if queue else {})


def item_query(f: ItemFilter | None) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if f is None:
        return query
    if f.dir:
        query["dir"] = f.dir
    if f.mimetype_prefix:
        query["metadata.system.mimetype"] = {"$regex": "^" + re.escape(f.mimetype_prefix)}
    if f.name_prefix:
        query["name"] = {"$regex": "^" + re.escape(f.name_prefix)}
    return query


async def _select(repo: MongoTaskRepository, dataset_id: str, ids: list[str] | None,
                  f: ItemFilter | None) -> tuple[list[str], list[str]]:
    """The dataset's items a command names, and the ids it names that are not in the dataset."""
    in_dataset = await repo.dataset_item_ids(dataset_id, item_query(f))
    if ids is None:
        return in_dataset, []
    known = set(in_dataset)
    ordered = list(dict.fromkeys(ids))
    return [i for i in ordered if i in known], [i for i in ordered if i not in known]


def _item_of(cmd: Envelope) -> str | None:
    """The single item a command acts on, if it is an item-level command."""
    if isinstance(cmd, SetStatus):
        return cmd.item_id
    if isinstance(cmd, CheckInTask):
        return cmd.command.item_id
    return None


class TaskHandlers:
    """One object per service: the repository and the two outlets (events, forwarded
    commands) are given by the bootstrap."""

    def __init__(self, repo: MongoTaskRepository, publish: Publish, forward: Forward) -> None:
        self.repo, self.publish, self.forward = repo, publish, forward
        self.holders = HolderCache(repo)
        self._background: set[asyncio.Future[None]] = set()
        self._before: dict[str, dict[str, Any] | None] = {}  # SetStatus id -> status read ahead
        self._positions: dict[str, str] = {}  # SetStatus id -> its place in the status stream

    async def handle(self, commands: list[Envelope], positions: dict[str, str] | None = None) -> None:
        """Apply a batch in order; consecutive commands on different single items (statuses,
        task-context checks) run concurrently, since they cannot affect each other.
        `positions` (command id -> sortable place in the status stream) keeps one item's
        statuses in stream order across replicas: a command older than the item's last
        written one is superseded, not applied."""
        commands = list(dict((c.id, c) for c in commands).values())
        self._positions.update(positions or {})
        # A task-context check changes nothing and forwards a command the annotation service
        # dedupes, so it needs no stored outcome; a status command's current status is read
        # at the same time as the outcomes (one round trip less on the path of a status).
        stateful = [c.id for c in commands if not isinstance(c, CheckInTask)]
        statuses = Counter((c.task_id, c.item_id) for c in commands if isinstance(c, SetStatus))
        ahead = {c.id: f"{c.task_id}:{c.item_id}" for c in commands
                 if isinstance(c, SetStatus) and statuses[(c.task_id, c.item_id)] == 1}
        done, before = await asyncio.gather(self.repo.outcomes(stateful), self.repo.status_befores(ahead.values()))
        self._before.update({cid: before.get(doc_id) for cid, doc_id in ahead.items()})
        try:
            await self._handle(commands, done)
        finally:
            for cid in ahead:
                self._before.pop(cid, None)
            for cid in positions or {}:
                self._positions.pop(cid, None)

    async def _handle(self, commands: list[Envelope], done: dict[str, Any]) -> None:
        group: list[Envelope] = []
        for cmd in commands:
            item = _item_of(cmd)
            if item is None or any(_item_of(c) == item for c in group):
                await self._run_together(group, done)
                group = []
            if item is None:
                await self._run(cmd, done)
            else:
                group.append(cmd)
        await self._run_together(group, done)

    async def _run_together(self, group: list[Envelope], done: dict[str, Any]) -> None:
        await asyncio.gather(*(self._run(c, done) for c in group))

    async def _run(self, cmd: Envelope, done: dict[str, Any]) -> None:
        if cmd.id in done:
            await self.publish([parse_event(e) for e in done[cmd.id]["events"]])
            return
        await getattr(self, "on_" + cmd.type)(cmd)

    def _warm(self, task_id: str) -> None:
        """Rebuild who holds what in the background: the next item commands find it ready."""
        warming = asyncio.ensure_future(self.holders.warm(task_id))
        self._background.add(warming)
        warming.add_done_callback(self._warmed)

    def _warmed(self, done: asyncio.Future[None]) -> None:
        self._background.discard(done)
        if not done.cancelled() and done.exception() is not None:
            log.warning("holder map not built ahead: %r (built on first use instead)", done.exception())

    async def _finish(self, cmd: Envelope, events: list[Any], before_outcome: Awaitable[None] | None = None,
                      **extra: Any) -> None:
        """Record the outcome while the events go out (a redelivery re-publishes the same).
        `before_outcome` is a last write that must be durable before the outcome is stored
        (a stored outcome ends redeliveries), but need not hold the events back."""
        status = "rejected" if any(isinstance(e, CommandRejected) for e in events) else "succeeded"
        unpublished = events
        if before_outcome is not None:
            await asyncio.gather(before_outcome, self.publish(events))
            unpublished = []
        await asyncio.gather(self.repo.save_outcome({
            "_id": extra.pop("outcome_id", cmd.id), "commandType": extra.pop("command_type", cmd.type),
            "status": extra.pop("status", status),
            "actorId": cmd.actor.user_id, "projectId": getattr(cmd, "project_id", None),
            "event": events[0].wire() if events else None, "events": [e.wire() for e in events],
            "completedAt": utcnow(), **extra,
        }), self.publish(unpublished))

    async def _changed(self, cmd: Envelope, task: dict[str, Any], change: str, **summary: Any) -> None:
        if change != "statuses":  # every other change may move items between assignments
            await self.repo.bump_allocation(task["_id"])
            self._warm(task["_id"])
        view = await self.task_view(task)
        await self._finish(cmd, [event(cmd, TaskChanged, task_id=task["_id"], project_id=task["projectId"],
                                       change=change, task=view, summary=summary)])

    async def task_view(self, task: dict[str, Any]) -> dict[str, Any]:
        assignments = await self.repo.assignments(task["_id"])
        counts = await self.repo.status_counts(task["_id"])
        view = task_view(task, [a["_id"] for a in assignments if not a.get("queue")], counts)
        if task["allocation"] == "pulling":
            queue = await self.repo.assignment(next(a["_id"] for a in assignments if a.get("queue")))
            view["queue"] = {"remaining": max(0, len(queue["itemIds"]) - queue["next"])}
        return view

    # task management -------------------------------------------------------------------------

    async def on_CreateTask(self, cmd: CreateTask) -> None:
        items, unknown = await _select(self.repo, cmd.dataset_id, cmd.item_ids, cmd.filter)
        if unknown:
            return await self._finish(cmd, [refused(cmd, rules.Refusal(
                "invalid", f"{len(unknown)} item(s) are not in the dataset",
                {"field": "itemIds", "items": unknown[:100], "count": len(unknown)}))])
        if cmd.allocation == "pulling":
            queue = assignment_doc(cmd.task_id, 0, None, items, queue=True)
            allowed = cmd.allowed_assignees or cmd.assignees
            docs = [queue] + [assignment_doc(cmd.task_id, n + 1, a, []) for n, a in enumerate(allowed)]
        else:
            loads = [(w.assignee_id, w.load) for w in cmd.workload] if cmd.workload \
                else rules.even_loads(cmd.assignees)
            shares = rules.split(items, loads)
            docs = [assignment_doc(cmd.task_id, n + 1, a, shares[a]) for n, (a, _) in enumerate(loads)]
        task = {
            "_id": cmd.task_id, "name": cmd.name, "projectId": cmd.project_id,
            "datasetId": cmd.dataset_id, "recipeId": cmd.recipe_id, "creator": cmd.actor.email,
            "createdAt": _now(), "updatedAt": _now(),
            "dueDate": cmd.due_date.isoformat() if cmd.due_date else None, "priority": cmd.priority,
            "availableActions": [a.wire() for a in cmd.available_actions],
            "singleClass": cmd.single_class, "allocation": cmd.allocation,
            "assignees": cmd.assignees, "batchSize": cmd.batch_size,
            "maxBatchWorkload": cmd.max_batch_workload,
            "allowedAssignees": cmd.allowed_assignees or cmd.assignees,
            "allowNextOnlyOnDone": cmd.allow_next_only_on_done, "totalItems": len(items),
        }
        await self.repo.insert_task(task, docs)
        await self._changed(cmd, task, "created")

    async def _task_or_refuse(self, cmd: Any, fresh: bool = True) -> dict[str, Any] | None:
        task = await (self.repo.task(cmd.task_id) if fresh else self.repo.cached_task(cmd.task_id))
        if task is None or task["projectId"] != cmd.project_id:
            await self._finish(cmd, [refused(cmd, rules.Refusal("not_found", f"no task {cmd.task_id}"))])
            return None
        return task

    async def on_EditTask(self, cmd: EditTask) -> None:
        if (task := await self._task_or_refuse(cmd)) is None:
            return
        actions = [a for a in task["availableActions"] if a["action"] not in cmd.remove_actions]
        have = {a["action"] for a in actions}
        actions += [a.wire() for a in cmd.add_actions if a.action not in have]
        changes: dict[str, Any] = {"availableActions": actions, "updatedAt": _now()}
        if cmd.name:
            changes["name"] = cmd.name
        task = await self.repo.update_task(task["_id"], {"$set": changes})
        await self._changed(cmd, task, "statuses")

    async def on_ChangeTaskItems(self, cmd: ChangeTaskItems) -> None:
        if (task := await self._task_or_refuse(cmd)) is None:
            return
        items, unknown = await _select(self.repo, task["datasetId"], cmd.item_ids, cmd.filter)
        if unknown:
            return await self._finish(cmd, [refused(cmd, rules.Refusal(
                "invalid", f"{len(unknown)} item(s) are not in the dataset",
                {"field": "itemIds", "items": unknown[:100], "count": len(unknown)}))])
        assignments = await self.repo.assignments(task["_id"], with_items=True)
        present = {i for a in assignments for i in a["itemIds"]}
        if cmd.operation == "add":
            await self._add_items(task, assignments, [i for i in items if i not in present])
            summary = {"added": len([i for i in items if i not in present])}
        else:
            summary = await self._remove_items(task, assignments, [i for i in items if i in present])
        task = await self.repo.update_task(
            task["_id"], {"$set": {"totalItems": await self._total(task), "updatedAt": _now()}})
        await self._changed(cmd, task, f"items-{cmd.operation}", **summary)

    async def _total(self, task: dict[str, Any]) -> int:
        docs = await self.repo.assignments(task["_id"], with_items=True)
        members = set()
        for a in docs:
            members.update(a["itemIds"][a.get("next", 0):] if a.get("queue") else a["itemIds"])
        return len(members)

    async def _add_items(self, task: dict[str, Any], assignments: list[dict], new: list[str]) -> None:
        if not new:
            return
        if task["allocation"] == "pulling":
            queue = next(a for a in assignments if a.get("queue"))
            await self.repo.set_assignment(queue["_id"], {"$push": {"itemIds": {"$each": new}}})
            return
        active = [a for a in assignments if a["active"] and not a.get("removed")]
        shares = rules.split(new, rules.even_loads([a["_id"] for a in active]))
        for a in active:
            if shares[a["_id"]]:
                await self.repo.set_assignment(a["_id"], {"$push": {"itemIds": {"$each": shares[a["_id"]]}}})

    async def _remove_items(self, task: dict[str, Any], assignments: list[dict], items: list[str]) -> dict:
        statuses = await self.repo.statuses(task["_id"], items)
        kept = [i for i in items if i in statuses]
        removable = set(items) - set(kept)
        for a in assignments:
            remaining = [i for i in a["itemIds"] if i not in removable]
            if len(remaining) != len(a["itemIds"]):
                changes: dict[str, Any] = {"itemIds": remaining}
                if a.get("queue"):
                    changes["next"] = len([i for i in a["itemIds"][:a["next"]] if i not in removable])
                await self.repo.set_assignment(a["_id"], {"$set": changes})
        return {"removed": len(removable), "notRemovedCount": len(kept), "notRemoved": kept[:100],
                "reason": "items that hold a status in the task are not removed" if kept else None}

    async def on_Redistribute(self, cmd: Redistribute) -> None:
        if (task := await self._task_or_refuse(cmd)) is None:
            return
        source = await self.repo.assignment(cmd.assignment_id)
        if source is None or source["taskId"] != task["_id"] or source.get("queue"):
            return await self._finish(cmd, [refused(cmd, rules.Refusal("not_found", f"no assignment {cmd.assignment_id}"))])
        statuses = await self.repo.statuses(task["_id"], source["itemIds"])
        remaining = [i for i in source["itemIds"] if i not in statuses]
        shares = rules.split(remaining, [(w.assignee_id, w.load) for w in cmd.workload])
        targets = await self._assignments_for(task, [w.assignee_id for w in cmd.workload])
        for annotator, share in shares.items():
            target = targets[annotator]
            if target["_id"] == source["_id"]:
                continue
            await self.repo.set_assignment(target["_id"], {"$push": {"itemIds": {"$each": share}}})
        keep = set(shares.get(source["annotator"], [])) | set(statuses)
        await self.repo.set_assignment(source["_id"], {"$set": {"itemIds": [i for i in source["itemIds"] if i in keep]}})
        await self._changed(cmd, task, "redistributed", moved=len(remaining) - len(shares.get(source["annotator"], [])))

    async def _assignments_for(self, task: dict[str, Any], annotators: list[str]) -> dict[str, dict]:
        """The annotators' working assignments, made (empty) for those who have none. A new
        one is named after its annotator and how many of theirs the task had, not after the
        task's count of assignments: two replicas making assignments for two annotators at
        once counted alike, made one id, and the second annotator's items went to the first
        (the same annotator twice at once still makes one)."""
        every = await self.repo.assignments(task["_id"])
        existing = {a["annotator"]: a for a in every if not a.get("queue") and not a.get("removed")}
        for annotator in annotators:
            if annotator not in existing:
                had = sum(1 for a in every if a.get("annotator") == annotator)
                doc = assignment_doc(task["_id"], f"{annotator}#{had}", annotator, [])
                await self.repo.insert_assignment(doc)
                existing[annotator] = doc
        return existing

    async def on_Reassign(self, cmd: Reassign) -> None:
        if (task := await self._task_or_refuse(cmd)) is None:
            return
        source = await self.repo.assignment(cmd.assignment_id)
        if source is None or source["taskId"] != task["_id"] or source.get("queue") or source.get("removed"):
            return await self._finish(cmd, [refused(cmd, rules.Refusal("not_found", f"no assignment {cmd.assignment_id}"))])
        target = (await self._assignments_for(task, [cmd.annotator]))[cmd.annotator]
        statuses = await self.repo.statuses(task["_id"], source["itemIds"])
        await self.repo.set_assignment(target["_id"], {"$push": {"itemIds": {"$each": source["itemIds"]}}})
        await self.repo.move_statuses(task["_id"], source["itemIds"], target["_id"])
        # counted before the source lets go of its items: a redelivery still finds them
        await self.repo.count(task["_id"], cmd.id, status_deltas(
            [c for d in statuses.values() for c in ((source["_id"], d["status"], None),
                                                    (target["_id"], None, d["status"]))]))
        await self.repo.set_assignment(source["_id"], {"$set": {"itemIds": [], "removed": True, "locked": True,
                                                                 "active": False, "reassignedTo": target["_id"]}})
        await self._changed(cmd, task, "reassigned", fromAssignment=source["_id"], toAssignment=target["_id"])
        self.repo.counted(task["_id"], cmd.id)

    async def on_PullItems(self, cmd: PullItems) -> None:
        if (task := await self._task_or_refuse(cmd)) is None:
            return
        email = cmd.actor.email
        if task["allocation"] != "pulling":
            return await self._finish(cmd, [refused(cmd, rules.Refusal("conflict", "only a pulling task hands out items on request"))])
        if email not in task["allowedAssignees"]:
            return await self._finish(cmd, [refused(cmd, rules.Refusal("forbidden", "you are not an assignee of this task"))])
        mine = (await self._assignments_for(task, [email]))[email]
        mine = await self.repo.assignment(mine["_id"])
        statuses = await self.repo.statuses(task["_id"], mine["itemIds"])
        open_items = len([i for i in mine["itemIds"] if i not in statuses])
        queue = next(a for a in await self.repo.assignments(task["_id"]) if a.get("queue"))
        taken = await self.repo.take_from_queue(
            queue["_id"], rules.pull_size(task["batchSize"], task["maxBatchWorkload"], open_items))
        if taken:
            await self.repo.set_assignment(mine["_id"], {"$push": {"itemIds": {"$each": taken}}})
            await self.repo.bump_allocation(task["_id"])
            self._warm(task["_id"])
        await self._finish(cmd, [event(cmd, ItemsPulled, task_id=task["_id"], project_id=task["projectId"],
                                       assignment_id=mine["_id"], item_ids=taken,
                                       open_items=open_items + len(taken))])

    async def on_ReturnItems(self, cmd: ReturnItems) -> None:
        """Items back from an annotator to the hidden queue, at its cursor so the next pull
        hands them out first; items holding a status stay where they are."""
        if (task := await self._task_or_refuse(cmd)) is None:
            return
        source = await self.repo.assignment(cmd.assignment_id)
        if task["allocation"] != "pulling" or source is None or source["taskId"] != task["_id"] \
                or source.get("queue"):
            return await self._finish(cmd, [refused(cmd, rules.Refusal(
                "not_found", f"no assignment {cmd.assignment_id} of a pulling task {task['_id']}"))])
        done = await self.repo.statuses(task["_id"], cmd.item_ids)
        queue = next(a for a in await self.repo.assignments(task["_id"]) if a.get("queue"))
        returned = await self.repo.return_to_queue(
            queue["_id"], source["_id"], [i for i in cmd.item_ids if i not in done], cmd.id)
        await self._changed(cmd, task, "items-returned", assignmentId=source["_id"], returned=returned,
                            kept=[i for i in cmd.item_ids if i not in set(returned)])

    # item context ------------------------------------------------------------------------

    async def _context(self, cmd: Any, task: dict, item_id: str, status: str | None = None) -> rules.Context:
        return rules.Context(task=task, item_id=item_id, assignment=await self.holders.holder(task, item_id),
                             actor_id=cmd.actor.user_id, actor_email=cmd.actor.email,
                             actor_role=cmd.actor.role, status=status)

    async def on_SetStatus(self, cmd: SetStatus) -> None:
        if (task := await self._task_or_refuse(cmd, fresh=False)) is None:
            return
        ctx = await self._context(cmd, task, cmd.item_id, cmd.status)
        if (refusal := rules.first_refusal(rules.STATUS_RULES, ctx)) is not None:
            return await self._finish(cmd, [refused(cmd, refusal)])
        assignment_id = ctx.assignment["_id"]
        before = self._before.get(cmd.id, UNREAD)
        if cmd.if_open:
            if before is UNREAD:
                doc_id = f"{task['_id']}:{cmd.item_id}"
                before = (await self.repo.status_befores([doc_id])).get(doc_id)
            if before and before.get("status") and before.get("lastCommandId") != cmd.id:
                return await self._finish(cmd, [], kept=before["status"])  # not open: left as it is
        at = _now()
        doc = {"_id": f"{task['_id']}:{cmd.item_id}", "taskId": task["_id"], "itemId": cmd.item_id,
               "assignmentId": assignment_id, "status": cmd.status, "creator": cmd.actor.email,
               "timestamp": at, "lastCommandId": cmd.id}
        if position := self._positions.get(cmd.id):
            doc["position"] = position
        log = {"action": "created" if cmd.status else "deleted",
               "status": {"taskId": task["_id"], "assignmentId": assignment_id,
                          "status": cmd.status, "creator": cmd.actor.email, "timestamp": at}}
        written = await self.repo.write_status(doc, log, before)
        if written is None:
            return await self._superseded(cmd, task, assignment_id)
        count = self.repo.count(task["_id"], cmd.id, status_deltas(
            [(written.counted_under, written.previous, None), (assignment_id, None, cmd.status)]))
        if not written.current:  # written, then the process died, then a later command won
            return await self._superseded(cmd, task, assignment_id, count)
        await self._finish(cmd, [event(cmd, ItemStatusChanged, task_id=task["_id"], project_id=task["projectId"],
                                       assignment_id=assignment_id, item_id=cmd.item_id,
                                       previous=written.previous, status=cmd.status)], before_outcome=count)
        self.repo.counted(task["_id"], cmd.id)

    async def _superseded(self, cmd: SetStatus, task: dict, assignment_id: str,
                          count: Awaitable[None] | None = None) -> None:
        """A later status command on the item is written already (another replica took it
        first, or this one was redelivered late): this one succeeded and was overwritten at
        once. Its answer says what it set; no fact is published, so readers of the events
        see the item's statuses in stream order. `count`: it was written before it was
        overwritten, and its change to the counts is made now (once: see `repo.count`)."""
        said = event(cmd, ItemStatusChanged, task_id=task["_id"], project_id=task["projectId"],
                     assignment_id=assignment_id, item_id=cmd.item_id, previous=None, status=cmd.status)
        await self._finish(cmd, [], before_outcome=count, event=said.wire(), superseded=True)
        if count is not None:
            self.repo.counted(task["_id"], cmd.id)

    async def on_CheckInTask(self, cmd: CheckInTask) -> None:
        inner = cmd.command
        task = await self.repo.cached_task(cmd.task_id)
        if task is None or task["projectId"] != cmd.project_id:
            return await self._refuse_check(cmd, rules.Refusal("not_found", f"no task {cmd.task_id}"))
        ctx = await self._context(cmd, task, inner.item_id)
        if (refusal := rules.first_refusal(rules.ITEM_RULES, ctx)) is not None:
            if inner.id in await self.repo.outcomes([inner.id]):
                return  # a redelivered check of a command already stored or refused: it stands
            return await self._refuse_check(cmd, refusal)
        await self.forward(self._forwardable(cmd, ctx.assignment["_id"], task["singleClass"]))

    async def _refuse_check(self, cmd: CheckInTask, refusal: rules.Refusal) -> None:
        """The refusal is the outcome of the command checked: the client follows that one."""
        inner = cmd.command
        await self._finish(cmd, [refused(cmd, refusal, inner.id)], outcome_id=inner.id, command_type=inner.type)

    @staticmethod
    def _forwardable(cmd: CheckInTask, assignment_id: str, single_class: bool) -> Envelope:
        if isinstance(cmd.command, SceneCommand):
            # A video holds many scenes; in a single-class task they never share a frame
            # (shared.rules.scene_overlaps, applied by the annotation service, which holds them).
            return cmd.command.model_copy(update={"assignment_id": assignment_id, "task_id": cmd.task_id,
                                                  "single_class": single_class})
        if not isinstance(cmd.command, Classify):  # a change or removal: forwarded as it is
            return cmd.command
        return cmd.command.model_copy(update={"assignment_id": assignment_id, "task_id": cmd.task_id,
                                              "replace_classes": single_class})

