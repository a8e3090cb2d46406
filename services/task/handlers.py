"""The task service's use cases: one function per command, `(command, *, repo, clock) ->
list[Event]`, registered in `table`. Each makes its effect durable before it returns; the
platform runner (shared.platform.runner) dedups on the command id, records the outcome and
publishes what the handler returned after. Every one is idempotent on its command id as well
(ids derive from it, what is already stored is read back), since the process may die
between the effect and its outcome record.

A command made in a task's context (InTaskCommand, its `task_id` set; or wrapped in a
`CheckInTask`, as entries published before may be) is checked: accepted, it is returned,
completed with the assignment, and leaves no record: the bootstrap's outlet passes it on to
its own stream (`classify` or `scene`) with the requester's reply address, where its own
outcome is made and replied."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from services.task import rules
from services.task.repository import UNREAD, TaskRepository
from shared.contracts.commands import Classify
from shared.contracts.envelope import Envelope, derived_id, utcnow
from shared.contracts.events import CommandRejected
from shared.contracts.scene_commands import SceneCommand
from shared.contracts.tasks import (
    IN_TASK_COMMANDS,
    AssignmentFact,
    ChangeTaskItems,
    CheckInTask,
    CreateTask,
    EditTask,
    ItemsPulled,
    ItemStatusChanged,
    PullItems,
    Reassign,
    Redistribute,
    ReturnItems,
    SetStatus,
    TaskChanged,
)
from shared.platform.runner import Answer, Clock, Handler
from shared.rules.progress import status_deltas, task_view

Event = Any


def stamp(at: datetime) -> str:
    """Dataloop's timestamp: milliseconds, `Z`."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def event(cmd: Envelope, kind: type, correlation: str | None = None, **fields: Any) -> Any:
    return kind(id=derived_id(cmd.id, kind.__name__), correlation_id=correlation or cmd.id,
                actor=cmd.actor, **fields)


def refused(cmd: Envelope, refusal: rules.Refusal, correlation: str | None = None) -> CommandRejected:
    return event(cmd, CommandRejected, correlation, command_type=cmd.type, reason=refusal.reason,
                 message=refusal.message, details=refusal.details)


def assignment_doc(task_id: str, n: int | str, annotator: str | None, item_ids: list[str], at: str,
                   queue: bool = False) -> dict[str, Any]:
    suffix = "queue" if queue else f"a{n}"
    doc = {"_id": derived_id(task_id, suffix)[:24], "taskId": task_id, "annotator": annotator,
           "itemIds": item_ids, "active": True, "removed": False, "locked": False,
           "queue": queue, "createdAt": at}
    return doc | ({"next": 0} if queue else {})


def _unresolved(cmd: Envelope) -> list[Event]:
    """A task command takes the items the gateway resolved against its catalog (the task
    service reads none): one published before it resolved them is refused, to be sent again."""
    return [refused(cmd, rules.Refusal(
        "invalid", "the items were not resolved against the dataset: send the request again",
        {"field": "itemIds"}))]


def _no_task(cmd: Any) -> list[Event]:
    return [refused(cmd, rules.Refusal("not_found", f"no task {cmd.task_id}"))]


async def _task(cmd: Any, repo: TaskRepository, fresh: bool = True) -> dict[str, Any] | None:
    """The command's task, if it is in the command's project."""
    task = await (repo.task(cmd.task_id) if fresh else repo.cached_task(cmd.task_id))
    return task if task is not None and task["projectId"] == cmd.project_id else None


async def view_of(task: dict[str, Any], repo: TaskRepository,
                  assignments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The task as TaskChanged carries it: the document, its assignments and progress.
    `assignments`: the task's, with their items, when the caller has read them already."""
    listed = assignments if assignments is not None else await repo.assignments(task["_id"])
    counts = await repo.status_counts(task["_id"])
    view = task_view(task, [a["_id"] for a in listed if not a.get("queue")], counts)
    if task["allocation"] == "pulling":
        queue = next(a for a in listed if a.get("queue"))
        if assignments is None:  # listed without items
            queue = await repo.assignment(queue["_id"])
        view["queue"] = {"remaining": max(0, len(queue["itemIds"]) - queue["next"])}
    return view


async def _changed(cmd: Any, task: dict[str, Any], change: str, repo: TaskRepository,
                   **summary: Any) -> list[Event]:
    facts: dict[str, Any] = {}
    held = None
    if change != "statuses":  # every other change may move items between assignments
        facts["allocation_version"] = await repo.bump_allocation(task["_id"])
        held = await repo.assignments(task["_id"], with_items=True)
        facts["assignments"] = [assignment_fact(a) for a in held]
    return [event(cmd, TaskChanged, task_id=task["_id"], project_id=task["projectId"], change=change,
                  task=await view_of(task, repo, held), summary=summary, **facts)]


def assignment_fact(doc: dict[str, Any]) -> AssignmentFact:
    return AssignmentFact(id=doc["_id"], annotator=doc.get("annotator"), item_ids=doc.get("itemIds", []),
                          active=doc.get("active", True), queue=bool(doc.get("queue")), next=doc.get("next", 0))


# task management ------------------------------------------------------------------------------


async def create_task(cmd: CreateTask, *, repo: TaskRepository, clock: Clock) -> list[Event]:
    if (items := cmd.resolved_item_ids) is None:
        return _unresolved(cmd)
    at = stamp(clock())
    if cmd.allocation == "pulling":
        allowed = cmd.allowed_assignees or cmd.assignees
        docs = [assignment_doc(cmd.task_id, 0, None, items, at, queue=True)] + [
            assignment_doc(cmd.task_id, n + 1, a, [], at) for n, a in enumerate(allowed)]
    else:
        loads = [(w.assignee_id, w.load) for w in cmd.workload] if cmd.workload \
            else rules.even_loads(cmd.assignees)
        shares = rules.split(items, loads)
        docs = [assignment_doc(cmd.task_id, n + 1, a, shares[a], at) for n, (a, _) in enumerate(loads)]
    task = {
        "_id": cmd.task_id, "name": cmd.name, "projectId": cmd.project_id,
        "datasetId": cmd.dataset_id, "recipeId": cmd.recipe_id, "creator": cmd.actor.email,
        "createdAt": at, "updatedAt": at,
        "dueDate": cmd.due_date.isoformat() if cmd.due_date else None, "priority": cmd.priority,
        "availableActions": [a.wire() for a in cmd.available_actions],
        "singleClass": cmd.single_class, "allocation": cmd.allocation,
        "assignees": cmd.assignees, "batchSize": cmd.batch_size,
        "maxBatchWorkload": cmd.max_batch_workload,
        "allowedAssignees": cmd.allowed_assignees or cmd.assignees,
        "allowNextOnlyOnDone": cmd.allow_next_only_on_done, "totalItems": len(items),
    }
    await repo.insert_task(task, docs)
    return await _changed(cmd, task, "created", repo)


async def edit_task(cmd: EditTask, *, repo: TaskRepository, clock: Clock) -> list[Event]:
    if (task := await _task(cmd, repo)) is None:
        return _no_task(cmd)
    actions = [a for a in task["availableActions"] if a["action"] not in cmd.remove_actions]
    have = {a["action"] for a in actions}
    actions += [a.wire() for a in cmd.add_actions if a.action not in have]
    changes: dict[str, Any] = {"availableActions": actions, "updatedAt": stamp(clock())}
    if cmd.name:
        changes["name"] = cmd.name
    task = await repo.update_task(task["_id"], {"$set": changes})
    return await _changed(cmd, task, "statuses", repo)


async def change_task_items(cmd: ChangeTaskItems, *, repo: TaskRepository, clock: Clock) -> list[Event]:
    if (task := await _task(cmd, repo)) is None:
        return _no_task(cmd)
    if (items := cmd.resolved_item_ids) is None:
        return _unresolved(cmd)
    assignments = await repo.assignments(task["_id"], with_items=True)
    present = {i for a in assignments for i in a["itemIds"]}
    if cmd.operation == "add":
        new = [i for i in items if i not in present]
        await _add_items(task, assignments, new, repo)
        summary: dict[str, Any] = {"added": len(new)}
    else:
        summary = await _remove_items(task, assignments, [i for i in items if i in present], repo)
    task = await repo.update_task(
        task["_id"], {"$set": {"totalItems": await _total(task, repo), "updatedAt": stamp(clock())}})
    return await _changed(cmd, task, f"items-{cmd.operation}", repo, **summary)


async def _total(task: dict[str, Any], repo: TaskRepository) -> int:
    members = set()
    for a in await repo.assignments(task["_id"], with_items=True):
        members.update(a["itemIds"][a.get("next", 0):] if a.get("queue") else a["itemIds"])
    return len(members)


async def _add_items(task: dict[str, Any], assignments: list[dict], new: list[str], repo: TaskRepository) -> None:
    if not new:
        return
    if task["allocation"] == "pulling":
        queue = next(a for a in assignments if a.get("queue"))
        await repo.allocate(task["_id"], new, queue, new=True)
        await repo.set_assignment(queue["_id"], {"$push": {"itemIds": {"$each": new}}})
        return
    active = [a for a in assignments if a["active"] and not a.get("removed")]
    shares = rules.split(new, rules.even_loads([a["_id"] for a in active]))
    for a in active:
        if shares[a["_id"]]:
            await repo.allocate(task["_id"], shares[a["_id"]], a, new=True)
            await repo.set_assignment(a["_id"], {"$push": {"itemIds": {"$each": shares[a["_id"]]}}})


async def _remove_items(task: dict[str, Any], assignments: list[dict], items: list[str],
                        repo: TaskRepository) -> dict[str, Any]:
    statuses = await repo.statuses(task["_id"], items)
    kept = [i for i in items if i in statuses]
    removable = set(items) - set(kept)
    await repo.allocate(task["_id"], [i for i in items if i in removable], None)
    for a in assignments:
        remaining = [i for i in a["itemIds"] if i not in removable]
        if len(remaining) != len(a["itemIds"]):
            changes: dict[str, Any] = {"itemIds": remaining}
            if a.get("queue"):
                changes["next"] = len([i for i in a["itemIds"][:a["next"]] if i not in removable])
            await repo.set_assignment(a["_id"], {"$set": changes})
    return {"removed": len(removable), "notRemovedCount": len(kept), "notRemoved": kept[:100],
            "reason": "items that hold a status in the task are not removed" if kept else None}


def _no_assignment(cmd: Any, message: str | None = None) -> list[Event]:
    return [refused(cmd, rules.Refusal("not_found", message or f"no assignment {cmd.assignment_id}"))]


async def redistribute(cmd: Redistribute, *, repo: TaskRepository, clock: Clock) -> list[Event]:
    if (task := await _task(cmd, repo)) is None:
        return _no_task(cmd)
    source = await repo.assignment(cmd.assignment_id)
    if source is None or source["taskId"] != task["_id"] or source.get("queue"):
        return _no_assignment(cmd)
    statuses = await repo.statuses(task["_id"], source["itemIds"])
    remaining = [i for i in source["itemIds"] if i not in statuses]
    shares = rules.split(remaining, [(w.assignee_id, w.load) for w in cmd.workload])
    targets = await assignments_for(repo, task, [w.assignee_id for w in cmd.workload], stamp(clock()))
    for annotator, share in shares.items():
        target = targets[annotator]
        if target["_id"] != source["_id"]:
            await repo.allocate(task["_id"], share, target)
            await repo.set_assignment(target["_id"], {"$push": {"itemIds": {"$each": share}}})
    keep = set(shares.get(source["annotator"], [])) | set(statuses)
    await repo.set_assignment(source["_id"], {"$set": {"itemIds": [i for i in source["itemIds"] if i in keep]}})
    return await _changed(cmd, task, "redistributed", repo,
                          moved=len(remaining) - len(shares.get(source["annotator"], [])))


async def assignments_for(repo: TaskRepository, task: dict[str, Any], annotators: list[str],
                          at: str | None = None) -> dict[str, dict]:
    """The annotators' working assignments, made (empty) for those who have none. A new
    one is named after its annotator and how many of theirs the task had, not after the
    task's count of assignments: two replicas making assignments for two annotators at
    once counted alike, made one id, and the second annotator's items went to the first
    (the same annotator twice at once still makes one)."""
    every = await repo.assignments(task["_id"])
    existing = {a["annotator"]: a for a in every if not a.get("queue") and not a.get("removed")}
    for annotator in annotators:
        if annotator not in existing:
            had = sum(1 for a in every if a.get("annotator") == annotator)
            doc = assignment_doc(task["_id"], f"{annotator}#{had}", annotator, [], at or stamp(utcnow()))
            await repo.insert_assignment(doc)
            existing[annotator] = doc
    return existing


async def reassign(cmd: Reassign, *, repo: TaskRepository, clock: Clock) -> list[Event]:
    if (task := await _task(cmd, repo)) is None:
        return _no_task(cmd)
    source = await repo.assignment(cmd.assignment_id)
    if source is None or source["taskId"] != task["_id"] or source.get("queue") or source.get("removed"):
        return _no_assignment(cmd)
    target = (await assignments_for(repo, task, [cmd.annotator], stamp(clock())))[cmd.annotator]
    statuses = await repo.statuses(task["_id"], source["itemIds"])
    await repo.allocate(task["_id"], source["itemIds"], target)
    await repo.set_assignment(target["_id"], {"$push": {"itemIds": {"$each": source["itemIds"]}}})
    await repo.move_statuses(task["_id"], source["itemIds"], target["_id"])
    # counted before the source lets go of its items: a redelivery still finds them
    await repo.count(task["_id"], cmd.id, status_deltas(
        [c for d in statuses.values() for c in ((source["_id"], d["status"], None),
                                                (target["_id"], None, d["status"]))]))
    await repo.set_assignment(source["_id"], {"$set": {"itemIds": [], "removed": True, "locked": True,
                                                       "active": False, "reassignedTo": target["_id"]}})
    return await _changed(cmd, task, "reassigned", repo, fromAssignment=source["_id"], toAssignment=target["_id"])


async def pull_items(cmd: PullItems, *, repo: TaskRepository, clock: Clock) -> list[Event]:
    if (task := await _task(cmd, repo)) is None:
        return _no_task(cmd)
    email = cmd.actor.email
    if task["allocation"] != "pulling":
        return [refused(cmd, rules.Refusal("conflict", "only a pulling task hands out items on request"))]
    if email not in task["allowedAssignees"]:
        return [refused(cmd, rules.Refusal("forbidden", "you are not an assignee of this task"))]
    mine = (await assignments_for(repo, task, [email], stamp(clock())))[email]
    mine = await repo.assignment(mine["_id"])
    statuses = await repo.statuses(task["_id"], mine["itemIds"])
    open_items = len([i for i in mine["itemIds"] if i not in statuses])
    queue = next(a for a in await repo.assignments(task["_id"]) if a.get("queue"))
    taken = await repo.take_from_queue(
        queue["_id"], rules.pull_size(task["batchSize"], task["maxBatchWorkload"], open_items))
    version = None
    if taken:
        await repo.allocate(task["_id"], taken, mine)
        await repo.set_assignment(mine["_id"], {"$push": {"itemIds": {"$each": taken}}})
        version = await repo.bump_allocation(task["_id"])
    return [event(cmd, ItemsPulled, task_id=task["_id"], project_id=task["projectId"],
                  assignment_id=mine["_id"], item_ids=taken, open_items=open_items + len(taken),
                  allocation_version=version)]


async def return_items(cmd: ReturnItems, *, repo: TaskRepository, clock: Clock) -> list[Event]:
    """Items back from an annotator to the hidden queue, at its cursor so the next pull
    hands them out first; items holding a status stay where they are."""
    if (task := await _task(cmd, repo)) is None:
        return _no_task(cmd)
    source = await repo.assignment(cmd.assignment_id)
    if task["allocation"] != "pulling" or source is None or source["taskId"] != task["_id"] \
            or source.get("queue"):
        return _no_assignment(cmd, f"no assignment {cmd.assignment_id} of a pulling task {task['_id']}")
    done = await repo.statuses(task["_id"], cmd.item_ids)
    queue = next(a for a in await repo.assignments(task["_id"]) if a.get("queue"))
    held = set(source["itemIds"])
    going = [i for i in dict.fromkeys(cmd.item_ids) if i not in done and i in held]
    await repo.allocate(task["_id"], going, queue)  # before the move: a redelivery finds them gone
    returned = await repo.return_to_queue(queue["_id"], source["_id"], going, cmd.id)
    return await _changed(cmd, task, "items-returned", repo, assignmentId=source["_id"], returned=returned,
                          kept=[i for i in cmd.item_ids if i not in set(returned)])


# item context ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusBatch:
    """What the status stream's reader knows of a batch: each command's place in the stream
    (`positions`, command id -> sortable entry id), which orders one item's statuses
    whichever replica reads them, and the status and allocation documents of the batch read
    ahead (`ahead`), while the runner loads the stored outcomes."""

    positions: Mapping[str, str] = field(default_factory=dict)
    ahead: Mapping[str, str] = field(default_factory=dict)  # command id -> status document id
    befores: asyncio.Future[dict[str, dict[str, Any]]] | None = None
    holders: asyncio.Future[dict[str, dict[str, Any]]] | None = None

    async def before(self, cmd: SetStatus) -> Any:
        """The status document as read ahead (None: there is none), or UNREAD."""
        if self.befores is None or cmd.id not in self.ahead:
            return UNREAD
        return (await self.befores).get(self.ahead[cmd.id])

    async def holder(self, cmd: SetStatus) -> dict[str, Any] | None:
        """The assignment holding the command's item as read ahead, or None (not read, or no
        document: the repository is asked)."""
        if self.holders is None or cmd.id not in self.ahead:
            return None
        return (await self.holders).get(self.ahead[cmd.id])


def status_batch(commands: Iterable[Any], positions: Mapping[str, str], repo: TaskRepository) -> StatusBatch:
    """Start reading the batch's status and allocation documents (one read of each for the
    batch; an item with two commands in it reads its own, the first one's write in
    between)."""
    statuses = [c for c in commands if isinstance(c, SetStatus)]
    once = Counter((c.task_id, c.item_id) for c in statuses)
    ahead = {c.id: f"{c.task_id}:{c.item_id}" for c in statuses if once[(c.task_id, c.item_id)] == 1}
    if not ahead:
        return StatusBatch(positions)
    reads = [asyncio.ensure_future(repo.status_befores(ahead.values())),
             asyncio.ensure_future(repo.allocations(ahead.values()))]
    for read in reads:
        read.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: not logged
    return StatusBatch(positions, ahead, *reads)


async def _context(cmd: Any, task: dict, item_id: str, repo: TaskRepository,
                   status: str | None = None, holder: dict[str, Any] | None = None) -> rules.Context:
    return rules.Context(task=task, item_id=item_id, assignment=holder or await repo.holding(task, item_id),
                         actor_id=cmd.actor.user_id, actor_email=cmd.actor.email,
                         actor_role=cmd.actor.role, status=status)


async def set_status(cmd: SetStatus, *, repo: TaskRepository, clock: Clock,
                     batch: StatusBatch = StatusBatch()) -> list[Event]:
    """Set or clear an item's status; an if-open one on an item holding a status keeps it (the
    record says which), and one older than the item's last written one is superseded."""
    if (task := await _task(cmd, repo, fresh=False)) is None:
        return _no_task(cmd)
    ctx = await _context(cmd, task, cmd.item_id, repo, cmd.status, await batch.holder(cmd))
    if (refusal := rules.first_refusal(rules.STATUS_RULES, ctx)) is not None:
        return [refused(cmd, refusal)]
    assignment_id, doc_id = ctx.assignment["_id"], f"{task['_id']}:{cmd.item_id}"
    before = await batch.before(cmd)
    if cmd.if_open:
        if before is UNREAD:
            before = (await repo.status_befores([doc_id])).get(doc_id)
        if before and before.get("status") and before.get("lastCommandId") != cmd.id:
            return Answer([], record={"kept": before["status"]})  # not open: left as it is
    at = stamp(clock())
    doc = {"_id": doc_id, "taskId": task["_id"], "itemId": cmd.item_id,
           "assignmentId": assignment_id, "status": cmd.status, "creator": cmd.actor.email,
           "timestamp": at, "lastCommandId": cmd.id}
    if position := batch.positions.get(cmd.id):
        doc["position"] = position
    log = {"action": "created" if cmd.status else "deleted",
           "status": {"taskId": task["_id"], "assignmentId": assignment_id,
                      "status": cmd.status, "creator": cmd.actor.email, "timestamp": at}}
    written = await repo.write_status(doc, log, before)
    if written is None:
        return _superseded(cmd, task, assignment_id)
    await repo.count(task["_id"], cmd.id, status_deltas(
        [(written.counted_under, written.previous, None), (assignment_id, None, cmd.status)]))
    if not written.current:  # written, then the process died, then a later command won
        return _superseded(cmd, task, assignment_id)
    return [event(cmd, ItemStatusChanged, task_id=task["_id"], project_id=task["projectId"],
                  assignment_id=assignment_id, item_id=cmd.item_id, previous=written.previous,
                  status=cmd.status)]


def _superseded(cmd: SetStatus, task: dict, assignment_id: str) -> Answer:
    """A later status command on the item is written already (another replica took it
    first, or this one was redelivered late): this one succeeded and was overwritten at
    once. Its answer says what it set; no fact is published, so readers of the events
    see the item's statuses in stream order."""
    said = event(cmd, ItemStatusChanged, task_id=task["_id"], project_id=task["projectId"],
                 assignment_id=assignment_id, item_id=cmd.item_id, previous=None, status=cmd.status)
    return Answer([], record={"event": said.wire(), "superseded": True})


async def check_in_task(cmd: Any, *, repo: TaskRepository, clock: Clock) -> list[Event]:
    """A command made in a task (or a CheckInTask wrapping one), checked against the task's
    item rules: accepted, it is passed on (returned, to be published on its stream; no
    record of the check kept); refused, the refusal is the outcome of the command checked,
    recorded under its id, which the client follows."""
    inner = checked(cmd)
    task = await repo.cached_task(cmd.task_id)
    if task is None or task["projectId"] != cmd.project_id:
        return _refused_check(cmd, rules.Refusal("not_found", f"no task {cmd.task_id}"))
    ctx = await _context(cmd, task, inner.item_id, repo)
    if (refusal := rules.first_refusal(rules.ITEM_RULES, ctx)) is not None:
        if inner.id in await repo.outcomes([inner.id]):
            return Answer([], stored=False)  # a redelivered check of a command already stored or refused: it stands
        return _refused_check(cmd, refusal)
    return Answer([forwardable(cmd, ctx.assignment["_id"], task["singleClass"])], stored=False)


def checked(cmd: Any) -> Any:
    """The command a check is about: the command itself, or the one a CheckInTask wraps."""
    return cmd.command if isinstance(cmd, CheckInTask) else cmd


def _refused_check(cmd: Any, refusal: rules.Refusal) -> Answer:
    inner = checked(cmd)
    if inner is cmd:
        return Answer([refused(cmd, refusal)])
    return Answer([refused(cmd, refusal, inner.id)], record={"_id": inner.id, "commandType": inner.type})


def forwardable(cmd: Any, assignment_id: str, single_class: bool) -> Envelope:
    """The checked command as it goes on to its stream (the same id), with the task and
    assignment."""
    inner = checked(cmd)
    if isinstance(inner, SceneCommand):
        # A video holds many scenes; in a single-class task they never share a frame
        # (shared.rules.scene_overlaps, applied by the annotation service, which holds them).
        return inner.model_copy(update={"assignment_id": assignment_id, "task_id": cmd.task_id,
                                        "single_class": single_class})
    if not isinstance(inner, Classify):  # a change or removal: passed on as it is
        return inner.model_copy(update={"task_id": cmd.task_id})
    return inner.model_copy(update={"assignment_id": assignment_id, "task_id": cmd.task_id,
                                    "replace_classes": single_class})


# the table ------------------------------------------------------------------------------------


def table(batch: StatusBatch | None = None) -> dict[type, Handler]:
    """Every task command and its handler; `batch`: the status stream's batch being run."""
    return {
        CreateTask: create_task,
        EditTask: edit_task,
        ChangeTaskItems: change_task_items,
        Redistribute: redistribute,
        Reassign: reassign,
        PullItems: pull_items,
        ReturnItems: return_items,
        SetStatus: partial(set_status, batch=batch) if batch is not None else set_status,
        CheckInTask: check_in_task,
    } | dict.fromkeys(IN_TASK_COMMANDS, check_in_task)


def recorded(cmd: Any) -> bool:
    """Whether the runner looks up the command's record: not for a command checked in a
    task, whose record is made on its own stream when it is accepted (the annotation
    service's); checked again when redelivered, a refusal of a command already answered
    leaves that answer as it stood."""
    return not isinstance(cmd, (CheckInTask, *IN_TASK_COMMANDS))


def item_of(cmd: Any) -> str | None:
    """The runner's lane: the single item an item-level command acts on (one item's commands
    run in order, different items' at once); None for task-level commands, which run alone."""
    if isinstance(cmd, SetStatus):
        return cmd.item_id
    if isinstance(cmd, (CheckInTask, *IN_TASK_COMMANDS)):
        return checked(cmd).item_id
    return None
