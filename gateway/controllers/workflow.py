"""Working through a task without choosing items: next and previous item, Auto next item and
Auto complete settings, queue state, heartbeats, leaving a pulling task, and a live feed
(Server-Sent Events). Reads answer from the workflow read model (gateway.workflow_reads);
changes travel as commands to the workflow service, which owns the rules."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import State
from litestar.exceptions import (
    NotFoundException,
    PermissionDeniedException,
    ServiceUnavailableException,
)
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from gateway.auth import Principal
from gateway.dispatch import OPERATION, REPLAYED, answer, dispatch
from gateway.exports import item_json
from gateway.guards import role_here
from gateway.workflow_reads import Snapshot, read_ahead_size
from gateway.workflow_schemas import HeartbeatIn, MoveOnIn, WorkflowSettingsIn
from shared.contracts import streams
from shared.contracts.envelope import Actor, derived_id, new_id
from shared.contracts.events import CommandRejected
from shared.contracts.tasks import PullItems
from shared.contracts.workflow import (
    ChangeWorkflowSettings,
    Heartbeat,
    LeaveTask,
    MovedOn,
    MoveOn,
    StepBack,
    SyncQueue,
)

KEEP_ALIVE_S = 15.0
SEED_WAIT_S = 5.0  # seeding the caller's queue before answering from it
READ_AHEAD = 16  # at most, items of an annotator's queue read in one query (read_ahead_size)
MANAGERS = ("manager", "owner")


async def snapshot_of(state: State, user: Principal, task_id: str, role: str | None) -> Snapshot:
    """The caller's queue; a task the workflow has not seen yet is seeded first."""
    snap = await state.gw.workflow.snapshot(task_id, user.email)
    if snap.seeded:
        return snap
    task = await state.gw.tasks.task(task_id)
    if task is None:
        raise NotFoundException(f"no task {task_id}")
    command = SyncQueue(actor=user.actor(role), task_id=task_id, project_id=task["projectId"])
    # a step before the answer, not the answer: it waits its own bound, whatever the client's
    await state.gw.bus.send(streams.WORKFLOW, command, task["projectId"], wait_s=SEED_WAIT_S)
    snap = await state.gw.workflow.snapshot(task_id, user.email)
    if not snap.seeded:
        raise ServiceUnavailableException("the workflow service has not answered yet; try again")
    return snap


async def item_view(state: State, user: Principal, item_id: str | None) -> dict[str, Any] | None:
    if not item_id:
        return None
    try:
        item, _ = await state.gw.access.item(user, item_id)
    except NotFoundException:
        return {"id": item_id}
    return item_json(item, state.gw.api)


async def pull_if_empty(state: State, actor: Actor, task_id: str, snap: Snapshot
                        ) -> tuple[CommandRejected | None, str | None]:
    """A pulling annotator holding nothing gets a batch before moving on (later batches the
    workflow service asks for as they run low): the pull's refusal, if any, or the id of a
    pull still on its way past the wait, which the move then waits for (MoveOn.after_command_id)."""
    if snap.meta.get("allocation") != "pulling" or snap.open_items:
        return None, None
    project_id = snap.meta["projectId"]
    command = PullItems(actor=actor, task_id=task_id, project_id=project_id)
    outcome = await state.gw.bus.send(streams.TASKS, command, project_id)
    if outcome is None:
        return None, command.id
    return (outcome if isinstance(outcome, CommandRejected) else None), None


async def pull(state: State, actor: Actor, task_id: str, project_id: str) -> Any:
    return await state.gw.bus.send(streams.TASKS, PullItems(actor=actor, task_id=task_id,
                                                            project_id=project_id), project_id)


class Pending:
    """A command still on its way past the wait: its operation answers later."""

    def __init__(self, operation_id: str) -> None:
        self.operation_id = operation_id


async def refill_if_run_out(state: State, actor: Actor, task_id: str, snap: Snapshot, moved: Any) -> Any:
    """A pulling annotator who ran out before the refill the workflow service asked for landed:
    pull now and move on into the new batch (Pending when that move is still on its way)."""
    if not isinstance(moved, MovedOn) or moved.item_id or snap.meta.get("allocation") != "pulling":
        return moved
    project_id = snap.meta["projectId"]
    pulled = await pull(state, actor, task_id, project_id)
    if not getattr(pulled, "item_ids", None):
        return moved
    command = MoveOn(actor=actor, task_id=task_id, project_id=project_id)
    again = await state.gw.bus.send(streams.WORKFLOW, command, project_id)
    if again is None:
        return Pending(command.id)
    return again if isinstance(again, MovedOn) else moved


async def moved_view(state: State, user: Principal, moved: MovedOn) -> dict[str, Any]:
    return {"taskId": moved.task_id, "assignmentId": moved.assignment_id,
            "fromItemId": moved.from_item_id, "completedItemId": moved.completed_item_id,
            "nextItem": await item_view(state, user, moved.item_id),
            "nextItemId": moved.item_id, "thenItemId": moved.next_item_id, "openItems": moved.open_items}


async def look_ahead(state: State, user: Principal, task_id: str, item_id: str
                     ) -> tuple[Snapshot, dict[str, Any] | None]:
    """The annotator's read model and the item Auto next would show after `item_id`: read
    while the classification is on its way (a classification does not move the queue)."""
    snap = await state.gw.workflow.snapshot(task_id, user.email)
    shown = snap.shown_next(item_id) if snap.seeded and snap.settings.get("autoNext") == "1" else None
    if shown:
        wf, access = state.gw.workflow, state.gw.access
        n = read_ahead_size(wf.pace(task_id, user.email), access.cache.ttl / 2, READ_AHEAD)
        if n > 1 and ("items", shown) not in access.cache:
            await access.read_ahead("items", await wf.upcoming(task_id, user.email, shown, n))
    return snap, await item_view(state, user, shown) if shown else None


async def with_next_item(state: State, user: Principal, task_id: str, item_id: str,
                         response: Response[Any], role: str | None = None,
                         ahead: Awaitable[tuple[Snapshot, dict[str, Any] | None]] | None = None
                         ) -> Response[Any]:
    """The classify answer of a task with Auto next item on: the created annotation and the
    next item in one response (`nextItem`, None when nothing open is left), moving on from
    `item_id` (with Auto complete on, the item left gets `completed` through the status
    stream). Anything else comes back as it was.

    The move's id is derived from the classification's, so a repeated request (the same
    Idempotency-Key) answers the first move instead of moving again. When the read model
    already shows what comes next (Snapshot.shown_next), the answer comes from it and the
    move goes to the workflow service without waiting (`to_item_id` keeps both on the same
    item); otherwise the answer waits for the move. A classification answered 202 sends a
    move that waits for its outcome (MoveOn.after_command_id), and its operation answers
    with the next item once both are done. `ahead` is `look_ahead`, started with the
    classification."""
    ahead = ahead or look_ahead(state, user, task_id, item_id)
    if response.status_code not in (201, 202) or not isinstance(response.content, dict):
        if isinstance(ahead, asyncio.Future):
            ahead.cancel()
        return response
    snap, shown_view = await ahead
    if not snap.seeded or snap.settings.get("autoNext") != "1":
        return response
    actor, project_id = user.actor(role), snap.meta["projectId"]
    classify_id = response.headers.get(OPERATION)
    move_id = derived_id(classify_id, "MoveOn") if classify_id else new_id()
    body, headers = dict(response.content), dict(response.headers)
    if response.status_code == 202:
        if classify_id:
            command = MoveOn(id=move_id, actor=actor, task_id=task_id, project_id=project_id,
                             from_item_id=item_id, after_command_id=classify_id)
            await state.gw.bus.follow(streams.WORKFLOW, command, classify_id)
            body |= {"nextItem": None, "workflow": {"operationId": move_id, "status": "pending"}}
        return Response(body, status_code=202, headers=headers)
    replayed = headers.get(REPLAYED) == "true"  # the first answer's move, not a second one
    if not replayed and (shown := snap.shown_next(item_id)) is not None:
        command = MoveOn(id=move_id, actor=actor, task_id=task_id, project_id=project_id,
                         from_item_id=item_id, to_item_id=shown)
        await state.gw.publishers[streams.WORKFLOW].publish(command.wire(), correlation_id=command.id)
        body |= {"nextItem": shown_view or await item_view(state, user, shown), "workflow": {
            "taskId": task_id, "assignmentId": snap.assignment_id, "fromItemId": item_id,
            "nextItemId": shown, "autoComplete": snap.settings.get("autoComplete") == "1",
            "operationId": command.id}}
        return Response(body, status_code=201, headers=headers)
    if replayed and (made := await state.gw.bus.stored_outcome(move_id)) is not None:
        return Response(body | await workflow_part(state, user, made, move_id), status_code=201, headers=headers)
    refused, pulling = (None, None) if replayed else await pull_if_empty(state, actor, task_id, snap)
    command = MoveOn(id=move_id, actor=actor, task_id=task_id, project_id=project_id, from_item_id=item_id,
                     after_command_id=pulling)
    outcome = refused or await state.gw.bus.send(streams.WORKFLOW, command, project_id)
    outcome = await refill_if_run_out(state, actor, task_id, snap, outcome)
    body |= await workflow_part(state, user, outcome, command.id)
    return Response(body, status_code=201, headers=headers)


async def workflow_part(state: State, user: Principal, outcome: Any, operation_id: str) -> dict[str, Any]:
    """What a classify's answer (or its operation) says of the move Auto next made."""
    if isinstance(outcome, MovedOn):
        moved = await moved_view(state, user, outcome)
        return {"nextItem": moved.pop("nextItem"), "workflow": moved | {"operationId": operation_id}}
    if isinstance(outcome, CommandRejected):
        return {"nextItem": None, "workflow": {"refused": {"reason": outcome.reason,
                                                           "message": outcome.message}}}
    if isinstance(outcome, Pending):
        operation_id = outcome.operation_id
    # still on its way: the operation answers later
    return {"nextItem": None, "workflow": {"operationId": operation_id, "status": "pending"}}


def _outcome(outcome: Any) -> Any:
    return outcome


class WorkflowController(Controller):
    path = "/api/v1/tasks/{task_id:str}"
    tags = ["workflow"]

    @get("/next-item")
    async def next_item(self, task_id: FromPath[str], request: Request, state: State) -> dict[str, Any]:
        """The item moving on would reach (a look, nothing changes), with the caller's queue."""
        snap = await snapshot_of(state, request.user, task_id, role_here(request))
        return {"taskId": task_id, **snap.view(),
                "nextItem": await item_view(state, request.user, snap.state.get("next"))}

    @post("/next-item", status_code=200)
    async def move_on(self, task_id: FromPath[str], request: Request, state: State,
                      data: JSONBody[MoveOnIn | None] = None) -> Response[Any]:
        """Move on from the item in hand to the next open item; with Auto complete on, the item
        left gets `completed`. A pulling task's next batch is pulled as it runs low."""
        user, role = request.user, role_here(request)
        snap = await snapshot_of(state, user, task_id, role)
        refused, pulling = await pull_if_empty(state, user.actor(role), task_id, snap)
        if refused is not None:
            return answer(refused, refused.correlation_id, state.gw.api, 200)
        command = MoveOn(actor=user.actor(role), task_id=task_id, project_id=snap.meta["projectId"],
                         from_item_id=data.item_id if data else None, after_command_id=pulling)
        response = await dispatch(request, streams.WORKFLOW, command, snap.meta["projectId"],
                                  data.model_dump() if data else None, 200, _outcome)
        moved = await refill_if_run_out(state, user.actor(role), task_id, snap, response.content)
        if isinstance(moved, MovedOn):
            return Response(await moved_view(state, user, moved), status_code=200)
        if isinstance(moved, Pending):
            return answer(None, moved.operation_id, state.gw.api, 200)
        return response

    @post("/previous-item", status_code=200)
    async def previous_item(self, task_id: FromPath[str], request: Request, state: State) -> Response[Any]:
        """Step back to the item worked on before the one in hand (again to go further back)."""
        user, role = request.user, role_here(request)
        snap = await snapshot_of(state, user, task_id, role)
        command = StepBack(actor=user.actor(role), task_id=task_id, project_id=snap.meta["projectId"])
        response = await dispatch(request, streams.WORKFLOW, command, snap.meta["projectId"], None, 200, _outcome)
        back = response.content
        if response.status_code == 200 and getattr(back, "type", "") == "SteppedBack":
            return Response({"taskId": task_id, "assignmentId": back.assignment_id,
                             "item": await item_view(state, user, back.item_id), "itemId": back.item_id,
                             "nextItemId": back.next_item_id, "openItems": back.open_items})
        return response

    @get("/workflow-settings")
    async def workflow_settings(self, task_id: FromPath[str], request: Request, state: State) -> dict[str, Any]:
        """The caller's Auto next item and Auto complete settings in this task, and whether
        the task allows them."""
        snap = await snapshot_of(state, request.user, task_id, role_here(request))
        view = snap.view()
        return {"taskId": task_id, "autoNext": view["autoNext"], "autoComplete": view["autoComplete"],
                "autoNextAvailable": snap.meta.get("singleClass") == "1",
                # Auto complete comes only with Auto next, which only single-class tasks allow
                "autoCompleteAvailable": snap.meta.get("offersCompleted") == "1"
                and snap.meta.get("singleClass") == "1"}

    @put("/workflow-settings")
    async def change_workflow_settings(self, task_id: FromPath[str], data: JSONBody[WorkflowSettingsIn],
                                       request: Request, state: State) -> Response[Any]:
        """Turn Auto next item (single-class tasks only) and Auto complete (only with Auto next)
        on or off."""
        user, role = request.user, role_here(request)
        snap = await snapshot_of(state, user, task_id, role)
        command = ChangeWorkflowSettings(actor=user.actor(role), task_id=task_id,
                                         project_id=snap.meta["projectId"], auto_next=data.auto_next,
                                         auto_complete=data.auto_complete)
        return await dispatch(request, streams.WORKFLOW, command, snap.meta["projectId"], data.model_dump(),
                              200, lambda o: {"taskId": o.task_id, "autoNext": o.auto_next,
                                              "autoComplete": o.auto_complete})

    @get("/queue-state")
    async def queue_state(self, task_id: FromPath[str], request: Request, state: State,
                          annotator: Annotated[str | None, QueryParameter(
                              description="another annotator's queue (managers)")] = None) -> dict[str, Any]:
        """The caller's queue: item in hand, next item, open items in work order, history,
        leases with their expiry."""
        role = role_here(request)
        if annotator and annotator != request.user.email and role not in MANAGERS:
            raise PermissionDeniedException("only managers see another annotator's queue")
        await snapshot_of(state, request.user, task_id, role)
        return await state.gw.workflow.queue_state(task_id, annotator or request.user.email)

    @post("/heartbeat", status_code=200)
    async def heartbeat(self, task_id: FromPath[str], request: Request, state: State,
                        data: JSONBody[HeartbeatIn | None] = None) -> Response[Any]:
        """Still at work: renews the caller's leases in a pulling task (send it every
        `heartbeatEverySeconds` of the queue state while an item is open)."""
        user, role = request.user, role_here(request)
        snap = await snapshot_of(state, user, task_id, role)
        command = Heartbeat(actor=user.actor(role), task_id=task_id, project_id=snap.meta["projectId"],
                            item_id=data.item_id if data else None)
        return await dispatch(request, streams.WORKFLOW, command, snap.meta["projectId"],
                              data.model_dump() if data else None, 200,
                              lambda o: {"taskId": o.task_id, "itemIds": o.item_ids,
                                         "expiresAt": o.expires_at.isoformat() if o.expires_at else None})

    @post("/leave", status_code=200)
    async def leave_task(self, task_id: FromPath[str], request: Request, state: State) -> Response[Any]:
        """Leave a pulling task: unopened items go back to the queue now, opened ones when
        their lease ends."""
        user, role = request.user, role_here(request)
        snap = await snapshot_of(state, user, task_id, role)
        command = LeaveTask(actor=user.actor(role), task_id=task_id, project_id=snap.meta["projectId"])
        return await dispatch(request, streams.WORKFLOW, command, snap.meta["projectId"], None, 200,
                              lambda o: {"taskId": o.task_id, "returningItemIds": o.returning_item_ids,
                                         "heldItemIds": o.held_item_ids,
                                         "heldUntil": o.held_until.isoformat() if o.held_until else None})

    @get("/feed")
    async def workflow_feed(
        self, task_id: FromPath[str], request: Request, state: State,
        max_events: Annotated[int | None, QueryParameter(name="maxEvents", ge=1, le=100_000,
                                                         description="close after this many facts")] = None,
        seconds: Annotated[float | None, QueryParameter(gt=0, le=86_400,
                                                        description="close after this long")] = None,
    ) -> ServerSentEvent:
        """Server-Sent Events: first `snapshot` (the caller's queue), then each workflow fact
        about the caller's queue (`MovedOn`, `QueueChanged`, `LeasesGranted`, ...) and each
        bulk classification's progress in the task (`BulkProgressed` with done/total,
        `BulkCompleted`, `BulkUndone`), by type. At-most-once: on reconnect, the new snapshot
        re-syncs the page (and a bulk's operation URL tells its progress)."""
        user = request.user
        await snapshot_of(state, user, task_id, role_here(request))
        return ServerSentEvent(self._facts(state, user, task_id, max_events, seconds))

    @staticmethod
    async def _facts(state: State, user: Principal, task_id: str, max_events: int | None,
                     seconds: float | None) -> AsyncIterator[ServerSentEventMessage]:
        reads = state.gw.workflow
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds if seconds else None
        with reads.feed.subscribe(task_id, user.email) as queue:  # before the snapshot: no gap
            snap = await reads.snapshot(task_id, user.email)
            yield ServerSentEventMessage(event="snapshot", data=json.dumps({"taskId": task_id, **snap.view()}))
            sent = 0
            while (max_events is None or sent < max_events) and (deadline is None or loop.time() < deadline):
                wait = KEEP_ALIVE_S if deadline is None else min(KEEP_ALIVE_S, deadline - loop.time())
                try:
                    body = await asyncio.wait_for(queue.get(), max(wait, 0.001))
                except TimeoutError:
                    yield ServerSentEventMessage(comment="keep-alive")
                    continue
                sent += 1
                yield ServerSentEventMessage(event=body.get("type"), id=body.get("id"), data=json.dumps(body))
