"""Working through a task without choosing items: next and previous item, Auto next item and
Auto complete settings, queue state, heartbeats, leaving a pulling task, and a live feed
(Server-Sent Events). Reads answer from the workflow read model (gateway.workflow_reads);
changes travel as commands to the workflow service, which owns the rules; the moves
themselves are gateway.moves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from gateway.answers import (
    LeasesRenewedAnswer,
    Moved,
    NextItemLook,
    QueueState,
    SteppedBackTo,
    TaskLeft,
    WorkflowSettings,
    WorkflowSettingsSet,
)
from gateway.auth import Principal
from gateway.controllers.common import accepted
from gateway.dispatch import Commands
from gateway.guards import Grant
from gateway.moves import Moves
from gateway.workflow_reads import WorkflowReads
from gateway.workflow_schemas import HeartbeatIn, MoveOnIn, WorkflowSettingsIn
from shared.contracts import streams
from shared.contracts.workflow import (
    ChangeWorkflowSettings,
    Heartbeat,
    LeasesRenewed,
    LeaveTask,
    LeftTask,
    MovedOn,
    MoveOn,
    StepBack,
    WorkflowSettingsChanged,
)

KEEP_ALIVE_S = 15.0
MANAGERS = ("manager", "owner")


def _outcome(outcome: Any) -> Any:
    return outcome


def render_settings(o: WorkflowSettingsChanged) -> WorkflowSettingsSet:
    return {"taskId": o.task_id, "autoNext": o.auto_next, "autoComplete": o.auto_complete}


def render_renewed(o: LeasesRenewed) -> LeasesRenewedAnswer:
    return {"taskId": o.task_id, "itemIds": o.item_ids,
            "expiresAt": o.expires_at.isoformat() if o.expires_at else None}


def render_left(o: LeftTask) -> TaskLeft:
    return {"taskId": o.task_id, "returningItemIds": o.returning_item_ids, "heldItemIds": o.held_item_ids,
            "heldUntil": o.held_until.isoformat() if o.held_until else None}


class WorkflowController(Controller):
    path = "/api/v1/tasks/{task_id:str}"
    tags = ["workflow"]

    @get("/next-item")
    async def next_item(
        self, task_id: FromPath[str], request: Request, grant: NamedDependency[Grant],
        moves: NamedDependency[Moves],
    ) -> NextItemLook:
        """The item moving on would reach (a look, nothing changes), with the caller's queue."""
        snap = await moves.snapshot_of(request.user, task_id, grant.project_id, grant.role)
        return {"taskId": task_id, **snap.view(),
                "nextItem": await moves.item_view(request.user, snap.state.get("next"))}

    @post("/next-item", status_code=200, responses=accepted())
    async def move_on(
        self, task_id: FromPath[str], request: Request, grant: NamedDependency[Grant],
        moves: NamedDependency[Moves], commands: NamedDependency[Commands],
        data: JSONBody[MoveOnIn | None] = None,
    ) -> Response[Moved]:
        """Move on from the item in hand to the next open item; with Auto complete on, the item
        left gets `completed`. In a pulling task the workflow service pulls the batches the move
        needs; a refused pull is answered as the pull's refusal."""
        user, role = request.user, grant.role
        snap = await moves.snapshot_of(user, task_id, grant.project_id, role)
        command = MoveOn(actor=user.actor(role), task_id=task_id, project_id=snap.meta["projectId"],
                         from_item_id=data.item_id if data else None)
        response = await commands.dispatch(request, streams.WORKFLOW, command, snap.meta["projectId"],
                                           data.model_dump() if data else None, 200, _outcome)
        if isinstance(response.content, MovedOn):
            return Response(await moves.moved_view(user, response.content), status_code=200)
        if (refused := await moves.pull_refused(response)) is not None:
            return commands.answer(refused, refused.correlation_id, 200)
        return response

    @post("/previous-item", status_code=200, responses=accepted())
    async def previous_item(
        self, task_id: FromPath[str], request: Request, grant: NamedDependency[Grant],
        moves: NamedDependency[Moves], commands: NamedDependency[Commands],
    ) -> Response[SteppedBackTo]:
        """Step back to the item worked on before the one in hand (again to go further back)."""
        user, role = request.user, grant.role
        snap = await moves.snapshot_of(user, task_id, grant.project_id, role)
        command = StepBack(actor=user.actor(role), task_id=task_id, project_id=snap.meta["projectId"])
        response = await commands.dispatch(request, streams.WORKFLOW, command, snap.meta["projectId"], None, 200, _outcome)
        back = response.content
        if response.status_code == 200 and getattr(back, "type", "") == "SteppedBack":
            return Response({"taskId": task_id, "assignmentId": back.assignment_id,
                             "item": await moves.item_view(user, back.item_id), "itemId": back.item_id,
                             "nextItemId": back.next_item_id, "openItems": back.open_items})
        return response

    @get("/workflow-settings")
    async def workflow_settings(
        self, task_id: FromPath[str], request: Request, grant: NamedDependency[Grant],
        moves: NamedDependency[Moves],
    ) -> WorkflowSettings:
        """The caller's Auto next item and Auto complete settings in this task, and whether
        the task allows them."""
        snap = await moves.snapshot_of(request.user, task_id, grant.project_id, grant.role)
        view, single_class = snap.view(), snap.meta.get("singleClass") == "1"
        return WorkflowSettings(
            task_id=task_id, auto_next=view["autoNext"], auto_complete=view["autoComplete"],
            auto_next_available=single_class,
            # Auto complete comes only with Auto next, which only single-class tasks allow
            auto_complete_available=snap.meta.get("offersCompleted") == "1" and single_class)

    @put("/workflow-settings", responses=accepted())
    async def change_workflow_settings(
        self, task_id: FromPath[str], data: JSONBody[WorkflowSettingsIn], request: Request,
        grant: NamedDependency[Grant], moves: NamedDependency[Moves],
        commands: NamedDependency[Commands],
    ) -> Response[WorkflowSettingsSet]:
        """Turn Auto next item (single-class tasks only) and Auto complete (only with Auto next)
        on or off."""
        user, role = request.user, grant.role
        snap = await moves.snapshot_of(user, task_id, grant.project_id, role)
        command = ChangeWorkflowSettings(actor=user.actor(role), task_id=task_id,
                                         project_id=snap.meta["projectId"], auto_next=data.auto_next,
                                         auto_complete=data.auto_complete)
        return await commands.dispatch(request, streams.WORKFLOW, command, snap.meta["projectId"], data.model_dump(),
                                       200, render_settings)

    @get("/queue-state")
    async def queue_state(self, task_id: FromPath[str], request: Request, grant: NamedDependency[Grant], moves: NamedDependency[Moves],
                          annotator: Annotated[str | None, QueryParameter(
                              description="another annotator's queue (managers)")] = None) -> QueueState:
        """The caller's queue: item in hand, next item, open items in work order, history,
        leases with their expiry."""
        role = grant.role
        if annotator and annotator != request.user.email and role not in MANAGERS:
            raise PermissionDeniedException("only managers see another annotator's queue")
        await moves.snapshot_of(request.user, task_id, grant.project_id, role)
        return await moves.workflow.queue_state(task_id, annotator or request.user.email)

    @post("/heartbeat", status_code=200, responses=accepted())
    async def heartbeat(
        self, task_id: FromPath[str], request: Request, grant: NamedDependency[Grant],
        moves: NamedDependency[Moves], commands: NamedDependency[Commands],
        data: JSONBody[HeartbeatIn | None] = None,
    ) -> Response[LeasesRenewedAnswer]:
        """Still at work: renews the caller's leases in a pulling task (send it every
        `heartbeatEverySeconds` of the queue state while an item is open)."""
        user, role = request.user, grant.role
        snap = await moves.snapshot_of(user, task_id, grant.project_id, role)
        command = Heartbeat(actor=user.actor(role), task_id=task_id, project_id=snap.meta["projectId"],
                            item_id=data.item_id if data else None)
        return await commands.dispatch(request, streams.WORKFLOW, command, snap.meta["projectId"],
                                       data.model_dump() if data else None, 200, render_renewed)

    @post("/leave", status_code=200, responses=accepted())
    async def leave_task(
        self, task_id: FromPath[str], request: Request, grant: NamedDependency[Grant],
        moves: NamedDependency[Moves], commands: NamedDependency[Commands],
    ) -> Response[TaskLeft]:
        """Leave a pulling task: unopened items go back to the queue now, opened ones when
        their lease ends."""
        user, role = request.user, grant.role
        snap = await moves.snapshot_of(user, task_id, grant.project_id, role)
        command = LeaveTask(actor=user.actor(role), task_id=task_id, project_id=snap.meta["projectId"])
        return await commands.dispatch(request, streams.WORKFLOW, command, snap.meta["projectId"], None, 200,
                                       render_left)

    @get("/feed")
    async def workflow_feed(
        self, task_id: FromPath[str], request: Request, grant: NamedDependency[Grant], moves: NamedDependency[Moves],
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
        await moves.snapshot_of(user, task_id, grant.project_id, grant.role)
        return ServerSentEvent(self._facts(moves.workflow, user, task_id, max_events, seconds))

    @staticmethod
    async def _facts(reads: WorkflowReads, user: Principal, task_id: str, max_events: int | None,
                     seconds: float | None) -> AsyncIterator[ServerSentEventMessage]:
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
