"""Use cases of the workflow service: one plain function per workflow command,
`(command, *, repo, clock) -> list[message]`, registered in `table()` and run by the platform
runner (shared.platform.runner: dedup on the command id, replay, outcome records,
publish-after-durable). What a handler returns is published in order by the service's outlet
(services.workflow.bootstrap): workflow facts on `events.workflow`, auto complete's SetStatus
on `status`, PullItems and ReturnItems on `tasks`; its first message is the command's
outcome. The seeding helpers (`sync_task`, `sync_annotator`) serve the reactions to task
facts too (services.workflow.reactions).

The queues are built from the workflow's own copy of the task facts (kept from the task
service's events by services.workflow.reactions; a task never seen is asked of the task service
once, `task_copy`). The task service's data is never written here: everything that changes it
goes out as a command. Every message a handler makes has an id derived from its cause (`made`), so a
command handled again after a crash makes the same messages, and the task service sees a
redelivery as the same command.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from typing import Any

from services.workflow import rules
from services.workflow.repository import WorkflowRepository
from services.workflow.rules import Refusal, TaskFacts, TaskMeta, WorkflowSettings
from shared.contracts.envelope import Actor, Envelope, derived_id
from shared.contracts.events import CommandRejected
from shared.contracts.tasks import ItemsPulled, PullItems, ReturnItems, SetStatus
from shared.contracts.workflow import (
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
    pull_id,
)
from shared.platform.runner import Answer, Handler, Runner

Clock = Callable[[], datetime]
SYSTEM = Actor(user_id="workflow-svc", email="workflow-svc@system", role="manager")
RETURN_RETRY_MS = 5_000
VERIFY_AHEAD = 3  # open items checked against the task service's statuses before moving on
# A move waiting for a classification whose outcome never comes (dead-lettered) is refused
# after this long.
WAITING_MOVE_MAX_S = 3600.0


def made(cause: Envelope, kind: type, key: str = "", actor: Actor | None = None, **fields: Any) -> Any:
    """A message caused by `cause` (a command, or a fact the service reacts to), with an id
    derived from it, so a redelivered cause makes the same message."""
    return kind(id=derived_id(cause.id, f"{kind.__name__}:{key}"), correlation_id=cause.id,
                actor=actor or cause.actor, **fields)


def fact(cause: Envelope, kind: type, meta: TaskMeta, task_id: str, email: str, assignment_id: str,
         key: str = "", **fields: Any) -> Any:
    """A workflow fact about one annotator's queue in a task."""
    return made(cause, kind, f"{email}:{key}", task_id=task_id, project_id=meta.project_id,
                assignment_id=assignment_id, annotator=email, **fields)


def at(ms: int) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


def ms(clock: Clock) -> int:
    return int(clock().timestamp() * 1000)


def refused(cmd: Envelope, refusal: Refusal) -> list[Any]:
    return [made(cmd, CommandRejected, command_type=cmd.type, reason=refusal.reason,
                 message=refusal.message, details=refusal.details)]


# the commands ----------------------------------------------------------------------------------


async def move_on(cmd: MoveOn, *, repo: WorkflowRepository, clock: Clock) -> list[Any]:
    """The annotator's next open item. A move that follows a classification
    (`after_command_id`) waits until that command's outcome is stored (`run_waiting_moves`):
    on if it succeeded, refused if it was refused or never finished.

    In a pulling task the move decides the pulls (the task service enforces the allocation
    rules): an annotator holding nothing gets a batch first (`_pull`), and a refused pull
    refuses the move with its reason; one the task service has not answered yet makes the
    move wait for its outcome like a classification's. One who runs out moves into a batch
    pulled then (nothing is next when it is refused, late or empty)."""
    if cmd.after_command_id:
        status = (await repo.outcome_statuses([cmd.after_command_id])).get(cmd.after_command_id)
        if status is None and clock().timestamp() - cmd.occurred_at.timestamp() < WAITING_MOVE_MAX_S:
            await repo.wait_for_outcome(cmd.after_command_id, cmd.model_dump_json(by_alias=True))
            return Answer(stored=False)  # no outcome yet: the move runs when it is taken off the list
        if status != "succeeded":
            why = "was refused" if status else "did not finish"
            return refused(cmd, Refusal("conflict", f"the command {cmd.after_command_id} this move follows "
                                        f"{why}: not moving on", {"commandId": cmd.after_command_id}))
    extra: list[Any] = []
    task_id, email, now = cmd.task_id, cmd.actor.email, ms(clock)
    look = await repo.look(task_id, email, cmd.from_item_id, VERIFY_AHEAD, now)
    if not look.meta and await sync_task(repo, cmd, task_id, extra, clock) is not None:
        look = await repo.look(task_id, email, cmd.from_item_id, VERIFY_AHEAD, now)
    if not look.meta or look.meta["projectId"] != cmd.project_id:
        return refused(cmd, Refusal("not_found", f"no task {task_id}"))
    meta = TaskMeta.of_hash(look.meta)
    held_nothing = meta.pulling and not look.open_items
    if held_nothing and await repo.facts_behind():  # a pull whose fact has not come yet?
        facts = await task_copy(repo, task_id, clock, fresh=True)
        mine = next((a for a in facts.assignments if a["annotator"] == email), None) if facts else None
        if mine is not None:
            await sync_annotator(repo, cmd, meta, task_id, email, mine["_id"], extra, clock)
            look = await repo.look(task_id, email, cmd.from_item_id, VERIFY_AHEAD, now)
            held_nothing = not look.open_items
    if held_nothing:  # a batch before moving on; the task service enforces the allocation rules
        pulled = await _pull(repo, cmd, meta, "empty", extra, clock)
        if pulled is None:  # on its way: the move waits for its outcome, off the lane
            await repo.wait_for_outcome(pull_id(cmd.id), cmd.model_dump_json(by_alias=True))
            return Answer(extra, stored=False)
        if isinstance(pulled, CommandRejected):  # answered as the pull's refusal (MoveOn)
            return [made(cmd, CommandRejected, "pull", command_type="PullItems", reason=pulled.reason,
                         message=pulled.message, details=pulled.details), *extra]
        look = await repo.look(task_id, email, cmd.from_item_id, VERIFY_AHEAD, now)
    assignment_id = look.state.get("assignment")
    if not assignment_id and await _resynced(repo, cmd, meta, extra, clock) is not None:
        look = await repo.look(task_id, email, cmd.from_item_id, VERIFY_AHEAD, now)
        assignment_id = look.state.get("assignment")
    if not assignment_id:
        return refused(cmd, Refusal("not_found", f"you have no assignment in task {task_id}", {"taskId": task_id}))
    if meta.pulling and not look.ahead:  # nothing else open: a pull whose fact has not come yet?
        await sync_annotator(repo, cmd, meta, task_id, email, assignment_id, extra, clock, ask=True)
        look = await repo.look(task_id, email, cmd.from_item_id, VERIFY_AHEAD, now)
    settings = WorkflowSettings.of_hash(look.settings)
    if rules.NextOnlyOnDone().check(meta, settings, look.item, look.item_is_open) is not None:
        # The status may have been given a moment ago and its fact not have arrived yet:
        # the task service says, before refusing.
        await _catch_up(repo, task_id, email, [look.item], meta, now, ask=True)
        look = await repo.look(task_id, email, cmd.from_item_id, VERIFY_AHEAD, now)
        if (refusal := rules.NextOnlyOnDone().check(meta, settings, look.item, look.item_is_open)) is not None:
            return refused(cmd, refusal)
    await _catch_up(repo, task_id, email, look.ahead, meta, now)
    move = await repo.move(task_id, email, look.item, rules.completes_on_move(settings, look.item_is_open),
                           meta.pulling, now, to_item=cmd.to_item_id,
                           asked_ms=int(cmd.occurred_at.timestamp() * 1000))
    arrived = move
    if meta.pulling and not move.arrived and not held_nothing:  # ran out: into the next batch
        pulled = await _pull(repo, cmd, meta, "refill", extra, clock)
        if isinstance(pulled, ItemsPulled) and pulled.item_ids:  # else (refused, late) nothing is next
            arrived = await repo.move(task_id, email, None, False, meta.pulling, now,
                                      asked_ms=int(cmd.occurred_at.timestamp() * 1000))
    mine = lambda kind, key="", **f: fact(cmd, kind, meta, task_id, email, assignment_id, key, **f)
    events = [mine(MovedOn, from_item_id=move.from_item, item_id=arrived.arrived, next_item_id=arrived.next_item,
                   completed_item_id=move.completed, open_items=arrived.open_items)]
    commands: list[Any] = []
    if move.completed:
        status = made(cmd, SetStatus, task_id=task_id, project_id=meta.project_id,
                      item_id=move.completed, status=rules.COMPLETED, if_open=True)
        await repo.note_auto_completion(status.id, task_id, email, move.completed)
        commands.append(status)
        if meta.pulling:
            events.append(mine(LeasesReleased, item_ids=[move.completed], reason="done"))
    if renewed := list(dict.fromkeys([*move.renewed, *(arrived.renewed if arrived is not move else [])])):
        events.append(mine(LeasesRenewed, item_ids=renewed, expires_at=at(arrived.expires_ms or move.expires_ms)))
    if rules.needs_refill(meta, arrived.open_items) and await repo.start_pull(task_id, email):
        commands.append(made(cmd, PullItems, task_id=task_id, project_id=meta.project_id))
    return events + extra + commands


async def _pull(repo: WorkflowRepository, cmd: MoveOn, meta: TaskMeta, why: str, produced: list[Any],
                clock: Clock) -> Any:
    """Ask the task service for the annotator's next batch and wait for its answer: ItemsPulled
    (its items applied to the queue at once, not when its fact comes), CommandRejected, or None
    while it is on its way. The pull's id is derived from the move's (`pull_id`): a move handled
    again (redelivered after a crash, or run once its pull is done) gets the same batch, which
    the task service answers once."""
    task_id, email = cmd.task_id, cmd.actor.email
    pulled = await repo.pull(PullItems(id=pull_id(cmd.id, why), correlation_id=cmd.id, actor=cmd.actor,
                                       task_id=task_id, project_id=meta.project_id))
    if isinstance(pulled, ItemsPulled) and pulled.item_ids:
        kept = pulled.allocation_version is not None and await repo.keep_pulled(
            task_id, pulled.assignment_id, pulled.item_ids, pulled.allocation_version)
        if not kept:  # facts in between not seen yet: the task service says
            await task_copy(repo, task_id, clock, fresh=True)
        await sync_annotator(repo, cmd, meta, task_id, email, pulled.assignment_id, produced, clock)
    return pulled


AnnotatorHandler = Callable[..., Awaitable[list[Any]]]


def annotator_command(body: AnnotatorHandler) -> Handler:
    """A command of one annotator in a task: `body(cmd, meta, assignment_id, *, repo, clock)`
    runs once the task and the caller's queue are found (the task's read model seeded if
    missing); a task not there or a caller without an assignment is refused. The seeding's
    facts follow the body's answer (not a refusal of it)."""

    @functools.wraps(body)
    async def handler(cmd: Any, *, repo: WorkflowRepository, clock: Clock) -> list[Any]:
        extra: list[Any] = []
        found = await _annotator(repo, cmd, extra, clock)
        if isinstance(found, Refusal):
            return refused(cmd, found)
        meta, state = found
        out = await body(cmd, meta, state["assignment"], repo=repo, clock=clock)
        return out if isinstance(out[0], CommandRejected) else out[:1] + extra + out[1:]
    return handler


@annotator_command
async def step_back(cmd: StepBack, meta: TaskMeta, assignment_id: str, *, repo: WorkflowRepository,
                    clock: Clock) -> list[Any]:
    back = await repo.step_back(cmd.task_id, cmd.actor.email, meta.pulling, ms(clock))
    if back.item is None:
        return refused(cmd, Refusal("conflict", "there is no earlier item to go back to"))
    return [fact(cmd, SteppedBack, meta, cmd.task_id, cmd.actor.email, assignment_id, item_id=back.item,
                 next_item_id=back.next_item, open_items=back.open_items)]


@annotator_command
async def change_settings(cmd: ChangeWorkflowSettings, meta: TaskMeta, assignment_id: str, *,
                          repo: WorkflowRepository, clock: Clock) -> list[Any]:
    wanted = WorkflowSettings(auto_next=cmd.auto_next, auto_complete=cmd.auto_complete)
    if (refusal := rules.settings_refusal(meta, wanted)) is not None:
        return refused(cmd, refusal)
    await repo.save_settings(cmd.task_id, cmd.actor.email, wanted, rules.moves_on_freely(meta, wanted))
    return [fact(cmd, WorkflowSettingsChanged, meta, cmd.task_id, cmd.actor.email, assignment_id,
                 auto_next=wanted.auto_next, auto_complete=wanted.auto_complete)]


@annotator_command
async def heartbeat(cmd: Heartbeat, meta: TaskMeta, assignment_id: str, *, repo: WorkflowRepository,
                    clock: Clock) -> list[Any]:
    renewal = await repo.renew(cmd.task_id, cmd.actor.email, meta.pulling, ms(clock), force=True,
                               item_id=cmd.item_id, back=True)
    return [fact(cmd, LeasesRenewed, meta, cmd.task_id, cmd.actor.email, assignment_id,
                 item_ids=renewal.items, expires_at=at(renewal.expires_ms))]


@annotator_command
async def leave_task(cmd: LeaveTask, meta: TaskMeta, assignment_id: str, *, repo: WorkflowRepository,
                     clock: Clock) -> list[Any]:
    now = ms(clock)
    left = await repo.leave(cmd.task_id, cmd.actor.email, meta.pulling, now)
    out = [fact(cmd, LeftTask, meta, cmd.task_id, cmd.actor.email, assignment_id,
                returning_item_ids=left.returning, held_item_ids=left.held, held_until=at(left.held_until_ms))]
    if left.returning:
        out.append(made(cmd, ReturnItems, task_id=cmd.task_id, project_id=meta.project_id,
                        assignment_id=assignment_id, item_ids=left.returning))
        await repo.retry_return_at(cmd.task_id, cmd.actor.email, now + RETURN_RETRY_MS)
    return out


async def sync_queue(cmd: SyncQueue, *, repo: WorkflowRepository, clock: Clock) -> list[Any]:
    produced: list[Any] = []
    meta = await sync_task(repo, cmd, cmd.task_id, produced, clock)
    if meta is None or meta.project_id != cmd.project_id:
        return refused(cmd, Refusal("not_found", f"no task {cmd.task_id}"))
    annotators = len({e.annotator for e in produced if hasattr(e, "annotator")})
    return [made(cmd, QueueSynced, task_id=cmd.task_id, project_id=meta.project_id,
                 annotators=annotators)] + produced


def table() -> dict[type, Handler]:
    """The workflow commands and their handlers."""
    return {MoveOn: move_on, StepBack: step_back, ChangeWorkflowSettings: change_settings,
            Heartbeat: heartbeat, LeaveTask: leave_task, SyncQueue: sync_queue}


def lane(cmd: Any) -> Hashable:
    """What a command reads and writes (the runner's key): one annotator's queue in a task;
    a SyncQueue, every queue of its task."""
    return (cmd.task_id,) if isinstance(cmd, SyncQueue) else (cmd.task_id, cmd.actor.email)


async def run_waiting_moves(repo: WorkflowRepository, runner: Runner) -> None:
    """Moves that follow a classification (MoveOn.after_command_id), each run through the
    runner once its classification's outcome is stored or it waited too long. Taken off the
    list first, so one replica runs it; not run at all when the same move came as a plain
    command and is done (its facts are not published twice)."""
    waiting = await repo.waiting_moves()
    if not waiting:
        return
    outcomes = await repo.outcome_statuses(list(waiting))
    now = runner.clock().timestamp()
    for after_id, raw in waiting.items():
        cmd = MoveOn.model_validate_json(raw)
        if outcomes.get(after_id) is None and now - cmd.occurred_at.timestamp() < WAITING_MOVE_MAX_S:
            continue
        if await repo.take_waiting_move(after_id) and not await repo.outcomes([cmd.id]):
            await runner.run([cmd])


# who is asking -------------------------------------------------------------------------------------


async def _annotator(repo: WorkflowRepository, cmd: Any, produced: list[Any],
                     clock: Clock) -> tuple[TaskMeta, dict[str, str]] | Refusal:
    """The task and the caller's queue state; seeds the task's read model if missing."""
    meta = await repo.meta(cmd.task_id)
    if meta is None:
        meta = await sync_task(repo, cmd, cmd.task_id, produced, clock)
    if meta is None or meta.project_id != cmd.project_id:
        return Refusal("not_found", f"no task {cmd.task_id}")
    state = await repo.state(cmd.task_id, cmd.actor.email)
    if not state.get("assignment"):
        state = await _resynced(repo, cmd, meta, produced, clock) or state
    if not state.get("assignment"):
        return Refusal("not_found", f"you have no assignment in task {cmd.task_id}", {"taskId": cmd.task_id})
    return meta, state


async def _resynced(repo: WorkflowRepository, cmd: Any, meta: TaskMeta, produced: list[Any],
                    clock: Clock) -> dict[str, str] | None:
    """The caller's queue, seeded now, when the task's facts are being applied at this
    moment: the task names them as an annotator but their queue is not written yet (as
    when settings change right after the task was made). None for anyone else."""
    who = await repo.annotators(cmd.task_id)
    assignment_id = next((a for a, email in who.items() if email == cmd.actor.email), None)
    if assignment_id is None:
        return None
    await sync_annotator(repo, cmd, meta, cmd.task_id, cmd.actor.email, assignment_id, produced, clock)
    return await repo.state(cmd.task_id, cmd.actor.email)


async def _catch_up(repo: WorkflowRepository, task_id: str, email: str, ahead: list[str], meta: TaskMeta,
                    now: int, *, ask: bool = False) -> None:
    """A status set a moment ago may not have reached the queue yet: the few items moving on
    would reach are checked, so none is handed out done. The copy says, when it holds every
    fact published; else (or with `ask`: before a refusal) the task service is asked (when it
    does not answer at once, the copy's word stands)."""
    items = [i for i in ahead if i]
    held = await repo.ask_statuses(task_id, items) if ask or await repo.facts_behind() else None
    done = [i for i, has in held.items() if has] if held is not None else await repo.done_items(task_id, items)
    await repo.apply_statuses(task_id, email, [(item_id, "1", None) for item_id in done], meta.pulling, now)


# seeding from the copy of the task's facts ----------------------------------------------------------


async def task_copy(repo: WorkflowRepository, task_id: str, clock: Clock, *, fresh: bool = False) -> TaskFacts | None:
    """The workflow's copy of the task's facts. A task never seen (created before this service
    kept copies, or its facts trimmed from the stream) is asked of the task service and kept,
    as is any task when `fresh` (facts missed: a gap in allocation versions). None when the
    task service has no such task."""
    if not fresh and (facts := await repo.task_facts(task_id)) is not None:
        return facts
    asked = await repo.ask_task(task_id, ms(clock))
    if asked is None:
        return await repo.task_facts(task_id)
    facts, statuses = asked
    await repo.keep_statuses(task_id, statuses)  # before the facts: a copy held has its statuses
    await repo.keep_task_facts(task_id, facts)
    return await repo.task_facts(task_id) or facts  # a newer copy kept meanwhile wins


async def sync_task(repo: WorkflowRepository, cause: Envelope, task_id: str, produced: list[Any],
                    clock: Clock) -> TaskMeta | None:
    """Rebuild a task's read model from the copy of its facts."""
    read_ms = ms(clock)
    facts = await task_copy(repo, task_id, clock)
    if facts is None:
        return None
    meta, version, assignments = facts.meta, facts.version, facts.assignments
    done = await repo.done_items(task_id, (i for a in assignments for i in a["itemIds"]))
    before = await repo.write_task(task_id, meta, {a["_id"]: a["annotator"] for a in assignments})
    current = {a["annotator"] for a in assignments}
    for a in assignments:
        await _sync(repo, cause, meta, task_id, a["annotator"], a["_id"], a["itemIds"], done, produced,
                    clock, read_ms, version)
    for assignment_id, email in before.items():  # annotators who lost their assignment
        if email not in current:
            await _sync(repo, cause, meta, task_id, email, assignment_id, [], set(), produced, clock, read_ms, version)
    return meta


async def sync_annotator(repo: WorkflowRepository, cause: Envelope, meta: TaskMeta, task_id: str, email: str,
                         assignment_id: str, produced: list[Any], clock: Clock, *, ask: bool = False) -> None:
    """Re-seed one annotator's queue from the copy; with `ask`, from the assignment as the task
    service holds it now (a pull whose fact has not arrived yet). The allocation version the
    items date from lets a reading made by another replica meanwhile be told older or newer
    (lua/sync.lua)."""
    read_ms = ms(clock)
    asked = await repo.ask_assignment(task_id, assignment_id) if ask else None
    if asked is not None:
        items, version = asked
    else:
        facts = await task_copy(repo, task_id, clock)
        assignment = facts.assignment(assignment_id) if facts else None
        items, version = (assignment["itemIds"] if assignment else []), (facts.version if facts else 0)
    done = await repo.done_items(task_id, items)
    await _sync(repo, cause, meta, task_id, email, assignment_id, items, done, produced, clock, read_ms, version)


async def _sync(repo: WorkflowRepository, cause: Envelope, meta: TaskMeta, task_id: str, email: str,
                assignment_id: str, items: list[str], done: set[str], produced: list[Any], clock: Clock,
                read_ms: int, version: int) -> None:
    """`read_ms`: when the reading of `items` began (a status fact applied since is kept)."""
    synced = await repo.sync(task_id, email, assignment_id, items, done, meta.pulling, ms(clock),
                             version=version, read_ms=read_ms)
    mine = lambda kind, **f: fact(cause, kind, meta, task_id, email, assignment_id, **f)
    if synced.granted:
        produced.append(mine(LeasesGranted, item_ids=synced.granted, expires_at=at(synced.expires_ms)))
    if synced.released:
        produced.append(mine(LeasesReleased, item_ids=synced.released, reason="moved"))
    produced.append(mine(QueueChanged, reason="synced", current_item_id=synced.current,
                         next_item_id=synced.next_item, open_items=synced.open_items))
