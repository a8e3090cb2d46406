"""Annotations: read, change and delete. Changes travel as commands like classify does:
outside a task they are manager work; with `taskId` the task service checks the task's
rules first (an annotator changes annotations only on items of their own assignment)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, JSONBody, QueryParameter

from gateway.access import Access
from gateway.answers import Annotation
from gateway.controllers.common import GONE, accepted
from gateway.dispatch import Commands
from gateway.errors import unprocessable
from gateway.exports import public_annotation
from gateway.guards import Grant
from gateway.roles import at_least
from gateway.schemas import AnnotationPatch
from gateway.task_reads import TaskReads
from shared.contracts import streams
from shared.contracts.commands import DeleteAnnotation, UpdateAnnotation
from shared.contracts.envelope import Envelope

TaskId = Annotated[str | None, QueryParameter(
    name="taskId", description="the task the change is made in: its rules apply (annotators must send it)")]
from shared.rules.labels import Problem, check_classification


class AnnotationController(Controller):
    path = "/api/v1/annotations"
    tags = ["annotations"]

    @get("/{annotation_id:str}")
    async def get_annotation(
        self, annotation_id: FromPath[str], grant: NamedDependency[Grant],
    ) -> Annotation:
        return public_annotation(grant.annotation)

    @patch("/{annotation_id:str}", responses=accepted())
    async def update_annotation(
        self, annotation_id: FromPath[str], data: JSONBody[AnnotationPatch], request: Request,
        grant: NamedDependency[Grant], access: NamedDependency[Access],
        tasks: NamedDependency[TaskReads], commands: NamedDependency[Commands],
        task_id: TaskId = None,
    ) -> Response[Annotation]:
        """Change label, attributes or description; the result must still fit the recipe."""
        doc, dataset = grant.annotation, grant.dataset
        if data.label is None and data.attributes is None and data.description is None:
            raise unprocessable([Problem("body", "must change at least one of label, attributes, description")])
        label = data.label if data.label is not None else doc["label"]
        attributes = data.attributes if data.attributes is not None \
            else doc["metadata"]["system"].get("attributes", {})
        ontology = await access.ontology(dataset["recipeId"])
        if problems := check_classification(ontology, label, attributes):
            raise unprocessable(problems, "the change does not fit the recipe")
        command = UpdateAnnotation(
            actor=request.user.actor(grant.role), annotation_id=annotation_id,
            item_id=doc["itemId"], project_id=dataset["projectId"], label=data.label,
            attributes=data.attributes, description=data.description,
        )
        return await _send(request, grant, tasks, commands, command, task_id, data.model_dump(), 200)

    @delete("/{annotation_id:str}", status_code=200, responses=GONE | accepted())
    async def delete_annotation(
        self, annotation_id: FromPath[str], request: Request, grant: NamedDependency[Grant],
        tasks: NamedDependency[TaskReads], commands: NamedDependency[Commands],
        task_id: TaskId = None,
    ) -> Response[None]:
        doc, dataset = grant.annotation, grant.dataset
        command = DeleteAnnotation(
            actor=request.user.actor(grant.role), annotation_id=annotation_id,
            item_id=doc["itemId"], project_id=dataset["projectId"],
        )
        return await _send(request, grant, tasks, commands, command, task_id, annotation_id, 204)



async def _send(
    request: Request, grant: Grant, tasks: TaskReads, commands: Commands, command: Envelope,
    task_id: str | None, body: Any, success: int,
) -> Response[Any]:
    """Outside a task, manager work sent as it is; in a task, sent with its task to the task
    service, which checks it against the task's rules and passes it on (answered with its
    outcome, or the task service's refusal)."""
    project_id = grant.dataset["projectId"]
    if task_id is None:
        if not at_least(grant.role, "manager"):
            raise PermissionDeniedException(
                "changing annotations outside a task needs the manager role; annotators change "
                "them in a task (send taskId)")
        return await commands.dispatch(request, streams.CLASSIFY, command, project_id, body, success)
    task = await tasks.task(task_id)
    if task is None or task["projectId"] != project_id:
        raise NotFoundException(f"no task {task_id}")
    in_task = command.model_copy(update={"task_id": task_id})
    return await commands.dispatch(request, streams.TASKS, in_task, project_id, body, success)
