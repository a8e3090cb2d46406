"""Use cases of the workflow service: annotators' workflow commands in, events out (plus the
SetStatus, PullItems and ReturnItems commands they cause), and the reactions to task and
annotation facts that keep the read model current. The task service's data is read, never
written: everything that changes it goes out as a command.

Idempotent: a handled command's events are kept (RedisQueues.processed_note) and published
again on a redelivery; every command and event it causes has an id
derived from the cause, so the task service, too, sees a redelivery as the same command.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.workflow import rules
from services.workflow.repository import MongoTaskData, Note, RedisQueues
from services.workflow.rules import Refusal, TaskMeta, WorkflowSettings
from shared.contracts.envelope import Actor, Envelope, derived_id, utcnow
from shared.contracts.events import CommandRejected
from shared.contracts.tasks import PullItems, ReturnItems, SetStatus
from shared.contracts.workflow import (
    WORKFLOW_EVENT,
    ChangeWorkflowSettings,
    Heartbeat,
    LeasesGranted,
    LeasesReleased,
    LeasesRenewed,
    LeaveTask,
    LeftTask,
    MovedOn,
    MoveOn,
    QueueChanged,
    QueueSynced,
    StepBack,
    SteppedBack,
    SyncQueue,
    WorkflowSettingsChanged,
)

Send = Callable[[list[Any]], Awaitable[None]]
SYSTEM = Actor(user_id="workflow-svc", email="workflow-svc@system", role="manager")
RETURN_RETRY_MS = 5_000
VERIFY_AHEAD = 3  # open items checked against the task service's statuses before moving on
# A move waiting for a classification whose outcome never comes (dead-lettered) is refused
# after this long.
WAITING_MOVE_MAX_S = 3600.0


@dataclass
class Produced:
    """What handling one message produced: events (events.workflow), SetStatus commands
    (status), PullItems and ReturnItems (tasks), and notes to keep with them (Redis keys)."""

    events: list[Any] = field(default_factory=list)
    status: list[Any] = field(default_factory=list)
    tasks: list[Any] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def add(self, other: Produced) -> Produced:
        self.events += other.events
        self.status += other.status
        self.tasks += other.tasks
        self.notes += other.notes
        return self


@dataclass
class Outlets:
    """`send` publishes everything produced (and writes its notes) in one round trip;
    `outcomes` records commands' outcomes where the gateway's operations answer from."""

    send: Callable[[Produced], Awaitable[None]]
    outcomes: Send


def made(cause: Envelope, kind: type, key: str = "", actor: Actor | None = None, **fields: Any) -> Any:
    """A message caused by `cause` (a command, or a fact the service reacts to), with an id
    derived from it, so a redelivered cause makes the same message."""
    return kind(id=derived_id(cause.id, f"{kind.__name__}:{key}"), correlation_id=cause.id,
                actor=actor or cause.actor, **fields)


def at(ms: int) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


class WorkflowHandlers:
    def __init__(self, queues: RedisQueues, data: MongoTaskData, out: Outlets,
                 clock: Callable[[], float] = time.time) -> None:
        self.queues, self.data, self.out, self.clock = queues, data, out, clock

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def send(self, produced: Produced) -> None:
        if produced.events or produced.status or produced.tasks or produced.notes:
            await self.out.send(produced)

    # commands --------------------------------------------------------------------------------

    async def handle_commands(self, commands: list[Envelope]) -> None:
        unique = list({c.id: c for c in commands}.values())
        done = await self.queues.processed([c.id for c in unique])
        for cmd in unique:
            if cmd.id in done:
                await self.send(Produced([WORKFLOW_EVENT.validate_python(e) for e in done[cmd.id]]))
            elif isinstance(cmd, MoveOn) and cmd.after_command_id:
                await self.queues.wait_for_outcome(cmd.after_command_id, cmd.model_dump_json(by_alias=True))
                await self.run_waiting_moves()
            else:
                await self._apply(cmd, await getattr(self, "on_" + cmd.type)(cmd))

    async def _apply(self, cmd: Envelope, produced: Produced) -> None:
        produced.notes.append(self.queues.processed_note(cmd.id, [e.wire() for e in produced.events]))
        await asyncio.gather(self.send(produced), self.out.outcomes([self._outcome(cmd, produced.events)]))

    async def run_waiting_moves(self) -> None:
        """Moves that follow a classification (MoveOn.after_command_id) run once its outcome
        is stored: on, if it succeeded; refused, if it was refused or never finished."""
        waiting = await self.queues.waiting_moves()
        if not waiting:
            return
        outcomes = await self.data.outcome_statuses(list(waiting))
        now = self.clock()
        for after_id, raw in waiting.items():
            cmd = MoveOn.model_validate_json(raw)
            status = outcomes.get(after_id)
            if status is None and now - cmd.occurred_at.timestamp() < WAITING_MOVE_MAX_S:
                continue
            if not await self.queues.take_waiting_move(after_id) or await self.queues.processed([cmd.id]):
                continue  # another replica took it, or the same move came as a plain command
            if status == "succeeded":
                await self._apply(cmd, await self.on_MoveOn(cmd))
            else:
                why = "was refused" if status else "did not finish"
                await self._apply(cmd, self._refused(cmd, Refusal(
                    "conflict", f"the command {after_id} this move follows {why}: not moving on",
                    {"commandId": after_id})))

    @staticmethod
    def _outcome(cmd: Envelope, events: list[Any]) -> dict[str, Any]:
        rejected = isinstance(events[0], CommandRejected)
        return {"_id": cmd.id, "commandType": cmd.type, "status": "rejected" if rejected else "succeeded",
                "actorId": cmd.actor.user_id, "projectId": getattr(cmd, "project_id", None),
                "event": events[0].wire(), "events": [e.wire() for e in events], "completedAt": utcnow()}

    @staticmethod
    def _refused(cmd: Envelope, refusal: Refusal) -> Produced:
        return Produced([made(cmd, CommandRejected, command_type=cmd.type, reason=refusal.reason,
                              message=refusal.message, details=refusal.details)])

    async def _annotator(self, cmd: Any, produced: Produced) -> tuple[TaskMeta, dict[str, str]] | Refusal:
        """The task and the caller's queue state; seeds the task's read model if missing."""
        meta = await self.queues.meta(cmd.task_id)
        if meta is None:
            meta = await self.sync_task(cmd, cmd.task_id, produced)
        if meta is None or meta.project_id != cmd.project_id:
            return Refusal("not_found", f"no task {cmd.task_id}")
        state = await self.queues.state(cmd.task_id, cmd.actor.email)
        if not state.get("assignment"):
            state = await self._resynced(cmd, meta, produced) or state
        if not state.get("assignment"):
            return Refusal("not_found", f"you have no assignment in task {cmd.task_id}",
                           {"taskId": cmd.task_id})
        return meta, state

    async def _resynced(self, cmd: Any, meta: TaskMeta, produced: Produced) -> dict[str, str] | None:
        """The caller's queue, seeded now, when the task's facts are being applied at this
        moment: the task names them as an annotator but their queue is not written yet (as
        when settings change right after the task was made). None for anyone else."""
        who = await self.queues.annotators(cmd.task_id)
        assignment_id = next((a for a, email in who.items() if email == cmd.actor.email), None)
        if assignment_id is None:
            return None
        await self.sync_annotator(cmd, meta, cmd.task_id, cmd.actor.email, assignment_id, produced)
        return await self.queues.state(cmd.task_id, cmd.actor.email)

    def _fact(self, cause: Envelope, kind: type, meta: TaskMeta, task_id: str, email: str,
              assignment_id: str, key: str = "", **fields: Any) -> Any:
        return made(cause, kind, f"{email}:{key}", task_id=task_id, project_id=meta.project_id,
                    assignment_id=assignment_id, annotator=email, **fields)

    async def on_MoveOn(self, cmd: MoveOn) -> Produced:
        extra = Produced()
        task_id, email, now = cmd.task_id, cmd.actor.email, self.now_ms()
        look = await self.queues.look(task_id, email, cmd.from_item_id, VERIFY_AHEAD, now)
        if not look.meta and await self.sync_task(cmd, task_id, extra) is not None:
            look = await self.queues.look(task_id, email, cmd.from_item_id, VERIFY_AHEAD, now)
        if not look.meta or look.meta["projectId"] != cmd.project_id:
            return self._refused(cmd, Refusal("not_found", f"no task {task_id}"))
        meta, assignment_id = TaskMeta.of_hash(look.meta), look.state.get("assignment")
        if not assignment_id and await self._resynced(cmd, meta, extra) is not None:
            look = await self.queues.look(task_id, email, cmd.from_item_id, VERIFY_AHEAD, now)
            assignment_id = look.state.get("assignment")
        if not assignment_id:
            return self._refused(cmd, Refusal("not_found", f"you have no assignment in task {task_id}",
                                              {"taskId": task_id}))
        if meta.pulling and not look.ahead:  # nothing else open: a pull this service has not seen?
            await self.sync_annotator(cmd, meta, task_id, email, assignment_id, extra)
            look = await self.queues.look(task_id, email, cmd.from_item_id, VERIFY_AHEAD, now)
        settings = WorkflowSettings.of_hash(look.settings)
        if rules.NextOnlyOnDone().check(meta, settings, look.item, look.item_is_open) is not None:
            # The status may have been given a moment ago and not have reached the read
            # model yet: the task service's data says, before refusing.
            await self._catch_up(task_id, email, [look.item], meta, now)
            look = await self.queues.look(task_id, email, cmd.from_item_id, VERIFY_AHEAD, now)
            if (refusal := rules.NextOnlyOnDone().check(meta, settings, look.item, look.item_is_open)) is not None:
                return self._refused(cmd, refusal)
        await self._catch_up(task_id, email, look.ahead, meta, now)
        move = await self.queues.move(task_id, email, look.item, rules.completes_on_move(settings, look.item_is_open),
                                      meta.pulling, now, to_item=cmd.to_item_id,
                                      asked_ms=int(cmd.occurred_at.timestamp() * 1000))
        fact = lambda kind, key="", **f: self._fact(cmd, kind, meta, task_id, email,
                                                    assignment_id, key, **f)
        produced = Produced([fact(MovedOn, from_item_id=move.from_item, item_id=move.arrived,
                                  next_item_id=move.next_item, completed_item_id=move.completed,
                                  open_items=move.open_items)])
        if move.completed:
            status = made(cmd, SetStatus, task_id=task_id, project_id=meta.project_id,
                          item_id=move.completed, status=rules.COMPLETED, if_open=True)
            produced.notes.append(self.queues.auto_completion_note(status.id, task_id, email, move.completed))
            produced.status.append(status)
            if meta.pulling:
                produced.events.append(fact(LeasesReleased, item_ids=[move.completed], reason="done"))
        if move.renewed:
            produced.events.append(fact(LeasesRenewed, item_ids=move.renewed, expires_at=at(move.expires_ms)))
        if rules.needs_refill(meta, move.open_items) and await self.queues.start_pull(task_id, email):
            produced.tasks.append(made(cmd, PullItems, task_id=task_id, project_id=meta.project_id))
        return produced.add(extra)

    async def _catch_up(self, task_id: str, email: str, ahead: list[str], meta: TaskMeta, now: int) -> None:
        """A status set a moment ago may not have reached the read model yet: check the few
        items moving on would reach against the task service's data, so none is handed out
        done."""
        done = [(item_id, "1", None) for (_, item_id), doc in
                (await self.data.statuses((task_id, i) for i in ahead)).items() if doc.get("status")]
        await self.queues.apply_statuses(task_id, email, done, meta.pulling, now)

    async def on_StepBack(self, cmd: StepBack) -> Produced:
        extra = Produced()
        found = await self._annotator(cmd, extra)
        if isinstance(found, Refusal):
            return self._refused(cmd, found)
        meta, state = found
        back = await self.queues.step_back(cmd.task_id, cmd.actor.email, meta.pulling, self.now_ms())
        if back.item is None:
            return self._refused(cmd, Refusal("conflict", "there is no earlier item to go back to"))
        return Produced([self._fact(cmd, SteppedBack, meta, cmd.task_id, cmd.actor.email, state["assignment"],
                                    item_id=back.item, next_item_id=back.next_item,
                                    open_items=back.open_items)]).add(extra)

    async def on_ChangeWorkflowSettings(self, cmd: ChangeWorkflowSettings) -> Produced:
        extra = Produced()
        found = await self._annotator(cmd, extra)
        if isinstance(found, Refusal):
            return self._refused(cmd, found)
        meta, state = found
        wanted = WorkflowSettings(auto_next=cmd.auto_next, auto_complete=cmd.auto_complete)
        if (refusal := rules.settings_refusal(meta, wanted)) is not None:
            return self._refused(cmd, refusal)
        await self.queues.save_settings(cmd.task_id, cmd.actor.email, wanted,
                                        rules.moves_on_freely(meta, wanted))
        return Produced([self._fact(cmd, WorkflowSettingsChanged, meta, cmd.task_id, cmd.actor.email,
                                    state["assignment"], auto_next=wanted.auto_next,
                                    auto_complete=wanted.auto_complete)]).add(extra)

    async def on_Heartbeat(self, cmd: Heartbeat) -> Produced:
        extra = Produced()
        found = await self._annotator(cmd, extra)
        if isinstance(found, Refusal):
            return self._refused(cmd, found)
        meta, state = found
        renewal = await self.queues.renew(cmd.task_id, cmd.actor.email, meta.pulling, self.now_ms(),
                                          force=True, item_id=cmd.item_id, back=True)
        return Produced([self._fact(cmd, LeasesRenewed, meta, cmd.task_id, cmd.actor.email, state["assignment"],
                                    item_ids=renewal.items, expires_at=at(renewal.expires_ms))]).add(extra)

    async def on_LeaveTask(self, cmd: LeaveTask) -> Produced:
        extra = Produced()
        found = await self._annotator(cmd, extra)
        if isinstance(found, Refusal):
            return self._refused(cmd, found)
        meta, state = found
        now = self.now_ms()
        left = await self.queues.leave(cmd.task_id, cmd.actor.email, meta.pulling, now)
        produced = Produced([self._fact(cmd, LeftTask, meta, cmd.task_id, cmd.actor.email, state["assignment"],
                                        returning_item_ids=left.returning, held_item_ids=left.held,
                                        held_until=at(left.held_until_ms))])
        if left.returning:
            produced.tasks.append(made(cmd, ReturnItems, task_id=cmd.task_id, project_id=meta.project_id,
                                       assignment_id=state["assignment"], item_ids=left.returning))
            await self.queues.retry_return_at(cmd.task_id, cmd.actor.email, now + RETURN_RETRY_MS)
        return produced.add(extra)

    async def on_SyncQueue(self, cmd: SyncQueue) -> Produced:
        produced = Produced()
        meta = await self.sync_task(cmd, cmd.task_id, produced)
        if meta is None or meta.project_id != cmd.project_id:
            return self._refused(cmd, Refusal("not_found", f"no task {cmd.task_id}"))
        annotators = len({e.annotator for e in produced.events if hasattr(e, "annotator")})
        return Produced([made(cmd, QueueSynced, task_id=cmd.task_id, project_id=meta.project_id,
                              annotators=annotators)]).add(produced)

    # seeding from the task service's data ----------------------------------------------------

    async def sync_task(self, cause: Envelope, task_id: str, produced: Produced) -> TaskMeta | None:
        """Rebuild a task's read model from the task service's collections."""
        read_ms = self.now_ms()
        task = await self.data.task(task_id)
        if task is None:
            return None
        meta, version = TaskMeta.of_task(task), int(task.get("allocationVersion", 0))
        assignments = await self.data.assignments(task_id)
        done = await self.data.done_items(task_id, (i for a in assignments for i in a["itemIds"]))
        before = await self.queues.write_task(task_id, meta, {a["_id"]: a["annotator"] for a in assignments})
        current = {a["annotator"] for a in assignments}
        for a in assignments:
            await self._sync(cause, meta, task_id, a["annotator"], a["_id"], a["itemIds"], done, produced,
                             version=version, read_ms=read_ms)
        for assignment_id, email in before.items():  # annotators who lost their assignment
            if email not in current:
                await self._sync(cause, meta, task_id, email, assignment_id, [], set(), produced,
                                 version=version, read_ms=read_ms)
        return meta

    async def sync_annotator(self, cause: Envelope, meta: TaskMeta, task_id: str, email: str,
                             assignment_id: str, produced: Produced) -> None:
        """Re-seed one annotator's queue. The task's allocation version is read before the
        assignment: the task service bumps it after each change of an assignment, so a
        reading made by another replica meanwhile can be told older or newer (lua/sync.lua)."""
        read_ms = self.now_ms()
        version = await self.data.allocation_version(task_id)
        assignment = await self.data.assignment(assignment_id)
        items = assignment["itemIds"] if assignment and assignment.get("active") else []
        done = await self.data.done_items(task_id, items)
        await self._sync(cause, meta, task_id, email, assignment_id, items, done, produced,
                         version=version, read_ms=read_ms)

    async def _sync(self, cause: Envelope, meta: TaskMeta, task_id: str, email: str, assignment_id: str,
                    items: list[str], done: set[str], produced: Produced, reason: str = "synced",
                    version: int | None = None, read_ms: int | None = None) -> None:
        synced = await self.queues.sync(task_id, email, assignment_id, items, done, meta.pulling, self.now_ms(),
                                        version=version, read_ms=read_ms)
        fact = lambda kind, **f: self._fact(cause, kind, meta, task_id, email, assignment_id, **f)
        if synced.granted:
            produced.events.append(fact(LeasesGranted, item_ids=synced.granted, expires_at=at(synced.expires_ms)))
        if synced.released:
            produced.events.append(fact(LeasesReleased, item_ids=synced.released, reason="moved"))
        produced.events.append(fact(QueueChanged, reason=reason, current_item_id=synced.current,
                                    next_item_id=synced.next_item, open_items=synced.open_items))
