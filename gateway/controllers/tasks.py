"""Tasks, assignments and item statuses. Writes travel as commands to the task service,
which owns the rules; reads come from its collections."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody

from gateway.access import Access
from gateway.answers import (
    Assignment,
    AssignmentItem,
    ItemStatusSet,
    Paged,
    Pulled,
    Task,
    TaskChange,
)
from gateway.controllers.browse import TaskItemsReads
from gateway.controllers.common import Page, PageSize, accepted, paged
from gateway.dispatch import Commands
from gateway.errors import unprocessable
from gateway.guards import Grant
from gateway.repository import Catalog, new_id
from gateway.task_reads import TaskReads
from gateway.task_schemas import (
    ItemStatusIn,
    ReassignIn,
    RedistributeIn,
    Selection,
    TaskIn,
    TaskPatch,
)
from shared.contracts import streams
from shared.contracts.envelope import derived_id, utcnow
from shared.contracts.events import CommandRejected
from shared.contracts.tasks import (
    ChangeTaskItems,
    CreateTask,
    EditTask,
    ItemFilter,
    PullItems,
    Reassign,
    Redistribute,
    SetStatus,
    StatusAction,
    WorkloadUnit,
)
from shared.platform.mongo import find_in
from shared.platform.runner import outcome_record
from shared.rules.labels import Problem
from shared.rules.progress import task_view
from shared.rules.task_limits import pulling_problems, workload_problems


def render_task(outcome: Any) -> TaskChange:
    return outcome.task | ({"summary": outcome.summary} if outcome.summary else {})


def render_pull(outcome: Any) -> Pulled:
    return {"assignmentId": outcome.assignment_id, "itemIds": outcome.item_ids,
            "openItems": outcome.open_items}


def render_status(outcome: Any) -> ItemStatusSet:
    return {"taskId": outcome.task_id, "itemId": outcome.item_id, "assignmentId": outcome.assignment_id,
            "status": outcome.status, "previous": outcome.previous}


def _filter(data: Selection) -> ItemFilter | None:
    return ItemFilter(**data.filter.model_dump()) if data.filter else None


def _not_in_dataset(command: CreateTask | ChangeTaskItems, unknown: list[str]) -> CommandRejected:
    """The refusal of a command naming items outside its dataset, answered before it is sent
    (as the task service refused it when it read the catalog)."""
    return CommandRejected(id=derived_id(command.id, "CommandRejected"), correlation_id=command.id,
                           actor=command.actor, command_type=command.type, reason="invalid",
                           message=f"{len(unknown)} item(s) are not in the dataset",
                           details={"field": "itemIds", "items": unknown[:100], "count": len(unknown)})


async def _refused_early(catalog: Catalog, commands: Commands, command: CreateTask | ChangeTaskItems,
                         unknown: list[str], success: int) -> Response[Any]:
    """The refusal answered, and stored as the command's outcome: its operation answers it
    as the task service's refusal was answered."""
    refusal = _not_in_dataset(command, unknown)
    await catalog.record_outcome(outcome_record(command, [refusal], utcnow()))
    return commands.answer(refusal, command.id, success)


def _task_problems(data: TaskIn, members: set[str]) -> list[Problem]:
    problems = [Problem(f"assignees[{i}]", f"'{a}' is not a member of the project")
                for i, a in enumerate(data.assignees) if a not in members]
    if data.workload is not None:
        loads = [(w.assignee_id, w.load) for w in data.workload]
        problems += [Problem("workload", p) for p in workload_problems(loads)]
        problems += [Problem("workload", f"'{a}' is not among the assignees")
                     for a, _ in loads if a not in data.assignees]
    if data.allocation == "pulling":
        problems += [Problem(f, r) for f, r in pulling_problems(data.batch_size, data.max_batch_workload,
                                                                data.consensus)]
        problems += [Problem("allowedAssignees", f"'{a}' is not a member of the project")
                     for a in data.allowed_assignees or [] if a not in members]
    elif data.batch_size is not None or data.max_batch_workload is not None:
        problems.append(Problem("batchSize", "only a pulling task takes batchSize and maxBatchWorkload"))
    if data.available_actions is not None:
        names = [a.action for a in data.available_actions]
        if len(set(names)) != len(names):
            problems.append(Problem("availableActions", "each status action must be unique"))
    return problems


async def shown_task(tasks: TaskReads, task_id: str, queue: bool = True) -> Task | None:
    """The task as its view shows it, asked in one (`TaskReads.view`): its assignments, its
    progress and, with `queue`, a pulling task's queue (dtlpy's task shows none); None for
    no such task."""
    found = await tasks.view(task_id)
    if found is None:
        return None
    view = task_view(found["task"], [a["_id"] for a in found["assignments"]], found["counts"])
    if queue and found["remaining"] is not None:
        view["queue"] = {"remaining": found["remaining"]}
    return view


class TaskController(TaskItemsReads, Controller):
    path = "/api/v1"
    tags = ["tasks"]

    @post("/projects/{project_id:str}/tasks", responses=accepted())
    async def create_task(
        self, project_id: FromPath[str], data: JSONBody[TaskIn], request: Request,
        grant: NamedDependency[Grant], access: NamedDependency[Access],
        commands: NamedDependency[Commands], catalog: NamedDependency[Catalog],
    ) -> Response[TaskChange]:
        """Create a task and allocate its items (distribution) or queue them (pulling)."""
        project, role = grant.project, grant.role
        dataset = await access.dataset(request.user, data.dataset_id)
        if dataset["projectId"] != project_id:
            raise unprocessable([Problem("datasetId", "is not a dataset of this project")])
        recipe_id = data.recipe_id or dataset["recipeId"]
        if data.recipe_id and project_id not in (await access.recipe(request.user, recipe_id))["projectIds"]:
            raise unprocessable([Problem("recipeId", "is not a recipe of this project")])
        if problems := _task_problems(data, {m["email"] for m in project["members"]}):
            raise unprocessable(problems, "the task definition breaks a rule")
        items, unknown = await catalog.selected_items(dataset["id"], data.item_ids, _filter(data))
        command = CreateTask(
            actor=request.user.actor(role), task_id=new_id(), project_id=project_id,
            dataset_id=dataset["id"], recipe_id=recipe_id, name=data.name, due_date=data.due_date,
            priority=data.priority, resolved_item_ids=items, assignees=data.assignees,
            workload=[WorkloadUnit(**w.model_dump()) for w in data.workload] if data.workload else None,
            single_class=data.single_class, allocation=data.allocation, batch_size=data.batch_size,
            max_batch_workload=data.max_batch_workload, allowed_assignees=data.allowed_assignees,
            consensus=data.consensus, allow_next_only_on_done=data.allow_next_only_on_done,
            **({"available_actions": [StatusAction(**a.model_dump()) for a in data.available_actions]}
               if data.available_actions else {}),
        )
        if unknown:
            return await _refused_early(catalog, commands, command, unknown, 201)
        return await commands.dispatch(request, streams.TASKS, command, project_id,
                                       data.model_dump(mode="json"), 201, render_task)

    @get("/projects/{project_id:str}/tasks")
    async def list_tasks(
        self, project_id: FromPath[str], tasks: NamedDependency[TaskReads],
        dataset_id: FromQuery[str | None] = None, name: FromQuery[str | None] = None,
        page: Page = 0, page_size: PageSize = 100,
    ) -> Paged[Task]:
        query: dict[str, Any] = {"projectId": project_id}
        if dataset_id:
            query["datasetId"] = dataset_id
        if name:
            query["name"] = name
        docs, total = await tasks.tasks(query, page * page_size, page_size)
        views = await asyncio.gather(*(shown_task(tasks, d["_id"]) for d in docs))  # tasks are never deleted
        return paged([v for v in views if v is not None], total, page, page_size)

    @get("/tasks/{task_id:str}")
    async def get_task(
        self, task_id: FromPath[str], tasks: NamedDependency[TaskReads],
    ) -> Task:
        view = await shown_task(tasks, task_id)  # not the guard's task: it may be a moment old
        if view is None:
            raise NotFoundException(f"no task {task_id}")
        return view

    @patch("/tasks/{task_id:str}", responses=accepted())
    async def edit_task(
        self, task_id: FromPath[str], data: JSONBody[TaskPatch], request: Request,
        grant: NamedDependency[Grant], commands: NamedDependency[Commands],
    ) -> Response[TaskChange]:
        """Rename, add or remove statuses (items that hold a removed status keep it)."""
        task, role = grant.task, grant.role
        remaining = {a["action"] for a in task["availableActions"]} - set(data.remove_statuses)
        remaining |= {a.action for a in data.add_statuses}
        if not remaining:
            raise unprocessable([Problem("removeStatuses", "a task must keep at least one status")])
        command = EditTask(actor=request.user.actor(role), task_id=task_id, project_id=task["projectId"],
                           name=data.name, remove_actions=data.remove_statuses,
                           add_actions=[StatusAction(**a.model_dump()) for a in data.add_statuses])
        return await commands.dispatch(request, streams.TASKS, command, task["projectId"], data.model_dump(),
                                       200, render_task)

    @staticmethod
    async def _items(request: Request, grant: Grant, commands: Commands, catalog: Catalog, data: Selection,
                     operation: str) -> Response[TaskChange]:
        task, role, task_id = grant.task, grant.role, grant.task["_id"]
        if data.item_ids is None and data.filter is None:
            raise unprocessable([Problem("itemIds", "give itemIds or a filter")])
        items, unknown = await catalog.selected_items(task["datasetId"], data.item_ids, _filter(data))
        command = ChangeTaskItems(actor=request.user.actor(role), task_id=task_id,
                                  project_id=task["projectId"], operation=operation, resolved_item_ids=items)
        if unknown:
            return await _refused_early(catalog, commands, command, unknown, 200)
        return await commands.dispatch(request, streams.TASKS, command, task["projectId"],
                                       data.model_dump(), 200, render_task)

    @post("/tasks/{task_id:str}/items", status_code=200, responses=accepted())
    async def add_items(
        self, task_id: FromPath[str], data: JSONBody[Selection], request: Request,
        grant: NamedDependency[Grant], commands: NamedDependency[Commands], catalog: NamedDependency[Catalog],
    ) -> Response[TaskChange]:
        return await self._items(request, grant, commands, catalog, data, "add")

    @post("/tasks/{task_id:str}/items/remove", status_code=200, responses=accepted())
    async def remove_items(
        self, task_id: FromPath[str], data: JSONBody[Selection], request: Request,
        grant: NamedDependency[Grant], commands: NamedDependency[Commands], catalog: NamedDependency[Catalog],
    ) -> Response[TaskChange]:
        """Remove items; those holding a status stay, and the answer says which and how many."""
        return await self._items(request, grant, commands, catalog, data, "remove")

    @get("/tasks/{task_id:str}/assignments")
    async def list_assignments(
        self, task_id: FromPath[str], tasks: NamedDependency[TaskReads],
    ) -> list[Assignment]:
        counts, found = await asyncio.gather(tasks.status_counts(task_id), tasks.assignments(task_id))
        return [assignment_json(a, counts) for a in found]

    @post("/tasks/{task_id:str}/pull", status_code=200, responses=accepted())
    async def pull(self, task_id: FromPath[str], request: Request, grant: NamedDependency[Grant],
                   commands: NamedDependency[Commands]) -> Response[Pulled]:
        """Pulling tasks: hand the caller their next batch from the hidden queue, never past
        the task's maximum open workload."""
        project_id = grant.task["projectId"]
        command = PullItems(actor=request.user.actor(grant.role), task_id=task_id, project_id=project_id)
        return await commands.dispatch(request, streams.TASKS, command, project_id, task_id, 200, render_pull)

    @put("/tasks/{task_id:str}/items/{item_id:str}/status", responses=accepted())
    async def set_status(
        self, task_id: FromPath[str], item_id: FromPath[str], data: JSONBody[ItemStatusIn],
        request: Request, grant: NamedDependency[Grant], commands: NamedDependency[Commands],
    ) -> Response[ItemStatusSet]:
        return await self._status(request, grant, commands, item_id, data.status)

    @delete("/tasks/{task_id:str}/items/{item_id:str}/status", status_code=200, responses=accepted())
    async def clear_status(
        self, task_id: FromPath[str], item_id: FromPath[str], request: Request,
        grant: NamedDependency[Grant], commands: NamedDependency[Commands],
    ) -> Response[ItemStatusSet]:
        """Clear the item's status: it is open work again."""
        return await self._status(request, grant, commands, item_id, None)

    @staticmethod
    async def _status(request: Request, grant: Grant, commands: Commands, item_id: str,
                      status: str | None) -> Response[ItemStatusSet]:
        task = grant.task
        command = SetStatus(actor=request.user.actor(grant.role), task_id=task["_id"],
                            project_id=task["projectId"], item_id=item_id, status=status)
        return await commands.dispatch(request, streams.STATUS, command, task["projectId"], status, 200,
                                       render_status)


class AssignmentController(Controller):
    path = "/api/v1/assignments"
    tags = ["tasks"]

    @get("/{assignment_id:str}")
    async def get_assignment(
        self, assignment_id: FromPath[str], grant: NamedDependency[Grant],
        tasks: NamedDependency[TaskReads],
    ) -> Assignment:
        assignment, counts = await asyncio.gather(  # not the guard's: it may be a moment old
            tasks.fresh_assignment(assignment_id), tasks.status_counts(grant.task["_id"]))
        if assignment is None:
            raise NotFoundException(f"no assignment {assignment_id}")
        return assignment_json(assignment, counts)

    @get("/{assignment_id:str}/items")
    async def assignment_items(
        self, assignment_id: FromPath[str], grant: NamedDependency[Grant],
        tasks: NamedDependency[TaskReads], catalog: NamedDependency[Catalog], page: Page = 0,
        page_size: PageSize = 100,
    ) -> Paged[AssignmentItem]:
        """The assignment's items in work order, each with its status in the task and its
        mimetype (the studio opens a video in the video studio, and preloads only images)."""
        assignment = await tasks.fresh_assignment(assignment_id, with_items=True)  # the guard's has no ids
        if assignment is None:
            raise NotFoundException(f"no assignment {assignment_id}")
        ids = assignment["itemIds"][page * page_size:(page + 1) * page_size]
        statuses, items = await asyncio.gather(tasks.statuses(grant.task["_id"], ids), find_in(
            catalog.db.items, "_id", ids, projection={"metadata.system.mimetype": 1}))
        mimetypes = {d["_id"]: ((d.get("metadata") or {}).get("system") or {}).get("mimetype") for d in items}
        rows = [{"itemId": i, "status": (statuses.get(i) or {}).get("status"), "mimetype": mimetypes.get(i)}
                for i in ids]
        return paged(rows, len(assignment["itemIds"]), page, page_size)

    @post("/{assignment_id:str}/redistribute", status_code=200, responses=accepted())
    async def redistribute(
        self, assignment_id: FromPath[str], data: JSONBody[RedistributeIn], request: Request,
        grant: NamedDependency[Grant], commands: NamedDependency[Commands],
    ) -> Response[TaskChange]:
        """Spread the assignment's remaining items (no status yet) over annotators by workload."""
        task, role = grant.task, grant.role
        members = {m["email"] for m in grant.project["members"]}
        loads = [(w.assignee_id, w.load) for w in data.workload]
        problems = [Problem("workload", p) for p in workload_problems(loads)]
        problems += [Problem("workload", f"'{a}' is not a member of the project") for a, _ in loads if a not in members]
        if problems:
            raise unprocessable(problems)
        command = Redistribute(actor=request.user.actor(role), task_id=task["_id"], project_id=task["projectId"],
                               assignment_id=assignment_id,
                               workload=[WorkloadUnit(**w.model_dump()) for w in data.workload])
        return await commands.dispatch(request, streams.TASKS, command, task["projectId"], data.model_dump(),
                                       200, render_task)

    @post("/{assignment_id:str}/reassign", status_code=200, responses=accepted())
    async def reassign(
        self, assignment_id: FromPath[str], data: JSONBody[ReassignIn], request: Request,
        grant: NamedDependency[Grant], commands: NamedDependency[Commands],
    ) -> Response[TaskChange]:
        """Give the whole assignment to another annotator."""
        task, role = grant.task, grant.role
        if data.annotator not in {m["email"] for m in grant.project["members"]}:
            raise unprocessable([Problem("annotator", "is not a member of the project")])
        command = Reassign(actor=request.user.actor(role), task_id=task["_id"], project_id=task["projectId"],
                           assignment_id=assignment_id, annotator=data.annotator)
        return await commands.dispatch(request, streams.TASKS, command, task["projectId"], data.model_dump(),
                                       200, render_task)


def assignment_json(a: dict[str, Any], counts: dict[tuple[str, str], int]) -> Assignment:
    mine = {s: n for (aid, s), n in counts.items() if aid == a["_id"]}
    total = a["totalItems"] if "totalItems" in a else len(a.get("itemIds", []))
    return {
        "id": a["_id"], "taskId": a["taskId"], "annotator": a["annotator"],
        "status": "removed" if a.get("removed") else "in progress",
        "locked": a.get("locked", False), "reassignedTo": a.get("reassignedTo"),
        "totalItems": total,
        "itemStatus": {"completed": mine.get("completed", 0), "actions": mine,
                       "remaining": total - sum(mine.values())},
    }
