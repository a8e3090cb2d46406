"""Dataloop's SDK and tasks: `dataset.tasks.list/get` and item statuses
(`item.update_status`, `task.set_status`, `assignment.set_status`), under `/dtlpy/api/v1`.
A status change is the same `SetStatus` command the studio's Done button sends."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody

from gateway.answers import Paged, StatusChange, Task
from gateway.bus import CommandBus
from gateway.controllers.common import paged
from gateway.controllers.dtlpy import PREFIX, callers_projects, query_of
from gateway.controllers.tasks import shown_task
from gateway.errors import REJECTION_STATUS, unprocessable
from gateway.guards import Grant
from gateway.repository import Catalog
from gateway.task_reads import TaskReads
from shared.contracts import streams
from shared.contracts.events import CommandRejected
from shared.contracts.tasks import SetStatus
from shared.rules.labels import Problem

MAX_ITEMS = 1000


def _status_of(payload: Any, where: str) -> str | None:
    """The status to set (None: clear it) from dtlpy's `{operation, status}`."""
    if not isinstance(payload, dict) or payload.get("operation") not in ("create", "created", "delete"):
        raise unprocessable([Problem(f"{where}.operation", 'must be "create" or "delete"')])
    status = payload.get("status")
    if not isinstance(status, str) or not 1 <= len(status) <= 50:
        raise unprocessable([Problem(f"{where}.status", "must be a status name of 1 to 50 characters")])
    return None if payload["operation"] == "delete" else status


class DtlpyTaskController(Controller):
    path = PREFIX
    tags = ["dtlpy"]

    @post("/annotationtasks/query", status_code=200)
    async def dtlpy_tasks(
        self, data: JSONBody[Any], request: Request, catalog: NamedDependency[Catalog],
        tasks: NamedDependency[TaskReads],
    ) -> Paged[Task]:
        """`dataset.tasks.list()` / `project.tasks.list()`: tasks of the caller's projects."""
        query, page, size = query_of("tasks", data)
        wanted = (data.get("context") or {}).get("projectIds") or []
        allowed = await callers_projects(catalog, request.user, wanted)
        if "projectId" in query and query["projectId"] not in allowed:
            allowed = []
        query["projectId"] = {"$in": allowed}
        docs, total = await tasks.tasks(query, page * size, size)
        views = await asyncio.gather(*(shown_task(tasks, d["_id"], queue=False) for d in docs))
        return paged([v for v in views if v is not None], total, page, size)

    @get("/annotationtasks/{task_id:str}")
    async def dtlpy_task(
        self, task_id: FromPath[str], tasks: NamedDependency[TaskReads],
    ) -> Task:
        view = await shown_task(tasks, task_id, queue=False)  # not the guard's: it may be a moment old
        if view is None:
            raise NotFoundException(f"no task {task_id}")
        return view

    @post("/assignments/items/tasks/{task_id:str}/status", status_code=200)
    async def dtlpy_task_status(
        self, task_id: FromPath[str], data: JSONBody[Any], request: Request,
        grant: NamedDependency[Grant], bus: NamedDependency[CommandBus],
    ) -> Response[dict[str, StatusChange]]:
        """`task.set_status(...)`, `item.update_status(...)`: `{itemIds, statusPayload}`;
        answered with the items whose status changed, by id (dtlpy reads the keys)."""
        if not isinstance(data, dict) or not isinstance(data.get("itemIds"), list) or \
                not 1 <= len(data["itemIds"]) <= MAX_ITEMS:
            raise unprocessable([Problem("itemIds", f"must be a list of 1 to {MAX_ITEMS} item ids")])
        status = _status_of(data.get("statusPayload"), "statusPayload")
        return await self._set(request, grant, bus, [str(i) for i in data["itemIds"]], status)

    @post("/assignments/{assignment_id:str}/items/{item_id:str}/status", status_code=200)
    async def dtlpy_assignment_status(
        self, assignment_id: FromPath[str], item_id: FromPath[str], data: JSONBody[Any],
        request: Request, grant: NamedDependency[Grant], bus: NamedDependency[CommandBus],
    ) -> Response[dict[str, StatusChange]]:
        """`assignment.set_status(...)`: `{operation, status}` for one item."""
        return await self._set(request, grant, bus, [item_id], _status_of(data, "body"))

    @staticmethod
    async def _set(request: Request, grant: Grant, bus: CommandBus, item_ids: list[str],
                   status: str | None) -> Response[dict[str, StatusChange]]:
        task = grant.task  # the path's task, or its assignment's
        task_id = task["_id"]
        done: dict[str, Any] = {}
        refused: CommandRejected | None = None
        for item_id in item_ids:
            command = SetStatus(actor=request.user.actor(grant.role), task_id=task_id,
                                project_id=task["projectId"], item_id=item_id, status=status)
            outcome = await bus.send(streams.STATUS, command, task["projectId"])
            if outcome is None:
                outcome = await bus.await_existing(command.id)
            if isinstance(outcome, CommandRejected):
                refused = outcome
            elif outcome is not None:
                done[item_id] = {"status": outcome.status, "previous": outcome.previous}
        if refused is not None and not done:
            status_code = REJECTION_STATUS[refused.reason]
            return Response({"status_code": status_code, "detail": refused.message,
                             "reason": refused.reason}, status_code=status_code)
        return Response(done, status_code=200)
