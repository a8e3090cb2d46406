"""Moving through a task's items for the caller: the annotator's queue from the workflow
read model, the next item shown with a classification (Auto next item), and what an answer
says of a move. Used by the workflow controller and by classify (gateway.controllers.items);
changes travel as commands to the workflow service, which owns the rules and decides the
pulls of a pulling task (a move is one MoveOn; see shared.contracts.workflow.MoveOn)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from litestar import Response
from litestar.exceptions import NotFoundException, ServiceUnavailableException

from gateway.access import Access
from gateway.answers import Item, ItemRef, Moved, WorkflowPart
from gateway.auth import Principal
from gateway.bus import CommandBus
from gateway.dispatch import OPERATION, REPLAYED
from gateway.exports import item_json
from gateway.workflow_reads import Snapshot, WorkflowReads, read_ahead_size
from shared.contracts import streams
from shared.contracts.envelope import derived_id, new_id
from shared.contracts.events import CommandRejected
from shared.contracts.workflow import MovedOn, MoveOn, SyncQueue, pull_id

SEED_WAIT_S = 5.0  # seeding the caller's queue before answering from it
READ_AHEAD = 16  # at most, items of an annotator's queue read in one query (read_ahead_size)


class Moves:
    """The caller's moves in a task, over the workflow read model, the command bus and the
    resources the caller may see (built at start; handlers receive it as `moves`)."""

    def __init__(self, workflow: WorkflowReads, bus: CommandBus, access: Access, api: str,
                 publisher: Any) -> None:
        self.workflow, self.bus, self.access, self.api = workflow, bus, access, api
        self.publisher = publisher  # the workflow stream's, for a move sent without waiting

    async def snapshot_of(self, user: Principal, task_id: str, project_id: str, role: str | None
                          ) -> Snapshot:
        """The caller's queue; a task the workflow has not seen yet is seeded first."""
        snap = await self.workflow.snapshot(task_id, user.email)
        if snap.seeded:
            return snap
        command = SyncQueue(actor=user.actor(role), task_id=task_id, project_id=project_id)
        # a step before the answer, not the answer: it waits its own bound, whatever the client's
        await self.bus.send(streams.WORKFLOW, command, project_id, wait_s=SEED_WAIT_S)
        snap = await self.workflow.snapshot(task_id, user.email)
        if not snap.seeded:
            raise ServiceUnavailableException("the workflow service has not answered yet; try again")
        return snap

    async def item_view(self, user: Principal, item_id: str | None) -> Item | ItemRef | None:
        if not item_id:
            return None
        try:
            item, _ = await self.access.item(user, item_id)
        except NotFoundException:
            return {"id": item_id}
        return item_json(item, self.api)

    async def pull_refused(self, response: Response[Any]) -> CommandRejected | None:
        """The refusal of the pull a refused move asked for, if that is why it was refused
        (a pulling annotator holding nothing is refused with the pull's reason): answered
        under the pull's id, as the pull's own refusal."""
        if response.status_code < 400 or not (move_id := response.headers.get(OPERATION)):
            return None
        made = await self.bus.stored_outcome(move_id)
        if isinstance(made, CommandRejected) and made.command_type == "PullItems":
            return made.model_copy(update={"correlation_id": pull_id(move_id)})
        return None

    async def moved_view(self, user: Principal, moved: MovedOn) -> Moved:
        return {"taskId": moved.task_id, "assignmentId": moved.assignment_id,
                "fromItemId": moved.from_item_id, "completedItemId": moved.completed_item_id,
                "nextItem": await self.item_view(user, moved.item_id),
                "nextItemId": moved.item_id, "thenItemId": moved.next_item_id, "openItems": moved.open_items}

    async def look_ahead(self, user: Principal, task_id: str, item_id: str
                         ) -> tuple[Snapshot, Item | ItemRef | None]:
        """The annotator's read model and the item Auto next would show after `item_id`: read
        while the classification is on its way (a classification does not move the queue)."""
        snap = await self.workflow.snapshot(task_id, user.email)
        shown = snap.shown_next(item_id) if snap.seeded and snap.settings.get("autoNext") == "1" else None
        if shown:
            wf, access = self.workflow, self.access
            n = read_ahead_size(wf.pace(task_id, user.email), access.cache.ttl / 2, READ_AHEAD)
            if n > 1 and ("items", shown) not in access.cache:
                await access.read_ahead("items", await wf.upcoming(task_id, user.email, shown, n))
        return snap, await self.item_view(user, shown) if shown else None

    async def with_next_item(self, user: Principal, task_id: str, item_id: str,
                             response: Response[Any], role: str | None = None,
                             ahead: Awaitable[tuple[Snapshot, Item | ItemRef | None]] | None = None
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
        ahead = ahead or self.look_ahead(user, task_id, item_id)
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
                await self.bus.follow(streams.WORKFLOW, command, classify_id)
                body |= {"nextItem": None, "workflow": {"operationId": move_id, "status": "pending"}}
            return Response(body, status_code=202, headers=headers)
        replayed = headers.get(REPLAYED) == "true"  # the first answer's move, not a second one
        if not replayed and (shown := snap.shown_next(item_id)) is not None:
            command = MoveOn(id=move_id, actor=actor, task_id=task_id, project_id=project_id,
                             from_item_id=item_id, to_item_id=shown)
            await self.publisher.publish(command.wire(), correlation_id=command.id)
            body |= {"nextItem": shown_view or await self.item_view(user, shown), "workflow": {
                "taskId": task_id, "assignmentId": snap.assignment_id, "fromItemId": item_id,
                "nextItemId": shown, "autoComplete": snap.settings.get("autoComplete") == "1",
                "operationId": command.id}}
            return Response(body, status_code=201, headers=headers)
        if replayed and (made := await self.bus.stored_outcome(move_id)) is not None:
            return Response(body | await self.workflow_part(user, made, move_id), status_code=201, headers=headers)
        command = MoveOn(id=move_id, actor=actor, task_id=task_id, project_id=project_id, from_item_id=item_id)
        outcome = await self.bus.send(streams.WORKFLOW, command, project_id)
        body |= await self.workflow_part(user, outcome, command.id)
        return Response(body, status_code=201, headers=headers)

    async def workflow_part(
        self, user: Principal, outcome: Any, operation_id: str,
    ) -> WorkflowPart:
        """What a classify's answer (or its operation) says of the move Auto next made."""
        if isinstance(outcome, MovedOn):
            moved = await self.moved_view(user, outcome)
            return {"nextItem": moved.pop("nextItem"), "workflow": moved | {"operationId": operation_id}}
        if isinstance(outcome, CommandRejected):
            return {"nextItem": None, "workflow": {"refused": {"reason": outcome.reason,
                                                               "message": outcome.message}}}
        # still on its way: the operation answers later
        return {"nextItem": None, "workflow": {"operationId": operation_id, "status": "pending"}}
