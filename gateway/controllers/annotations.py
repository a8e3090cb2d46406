"""Annotations: read, change and delete. Changes travel as commands like classify does:
outside a task they are manager work; with `taskId` the task service checks the task's
rules first (an annotator changes annotations only on items of their own assignment)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch
from litestar.datastructures import State
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, JSONBody, QueryParameter

from gateway.dispatch import dispatch
from gateway.errors import unprocessable
from gateway.exports import public_annotation
from gateway.guards import role_here
from gateway.roles import at_least
from gateway.schemas import AnnotationPatch
from shared.contracts import streams
from shared.contracts.commands import DeleteAnnotation, UpdateAnnotation
from shared.contracts.envelope import Envelope
from shared.contracts.tasks import CheckInTask

TaskId = Annotated[str | None, QueryParameter(
    name="taskId", description="the task the change is made in: its rules apply (annotators must send it)")]
from shared.rules.labels import Problem, check_classification


class AnnotationController(Controller):
    path = "/api/v1/annotations"
    tags = ["annotations"]

    async def _find(self, annotation_id: FromPath[str], request: Request, state: State) -> tuple[dict, dict]:
        return await state.gw.access.annotation(request.user, annotation_id)

    @get("/{annotation_id:str}")
    async def get_annotation(self, annotation_id: FromPath[str], request: Request, state: State) -> dict[str, Any]:
        doc, _ = await self._find(annotation_id, request, state)
        return public_annotation(doc)

    @patch("/{annotation_id:str}")
    async def update_annotation(
        self, annotation_id: FromPath[str], data: JSONBody[AnnotationPatch], request: Request, state: State,
        task_id: TaskId = None,
    ) -> Response[Any]:
        """Change label, attributes or description; the result must still fit the recipe."""
        doc, dataset = await self._find(annotation_id, request, state)
        if data.label is None and data.attributes is None and data.description is None:
            raise unprocessable([Problem("body", "must change at least one of label, attributes, description")])
        label = data.label if data.label is not None else doc["label"]
        attributes = data.attributes if data.attributes is not None \
            else doc["metadata"]["system"].get("attributes", {})
        ontology = await state.gw.access.ontology(dataset["recipeId"])
        if problems := check_classification(ontology, label, attributes):
            raise unprocessable(problems, "the change does not fit the recipe")
        command = UpdateAnnotation(
            actor=request.user.actor(role_here(request)), annotation_id=annotation_id,
            item_id=doc["itemId"], project_id=dataset["projectId"], label=data.label,
            attributes=data.attributes, description=data.description,
        )
        return await self._send(request, state, command, dataset, task_id, data.model_dump(), 200)

    @delete("/{annotation_id:str}", status_code=200)
    async def delete_annotation(self, annotation_id: FromPath[str], request: Request, state: State,
                                task_id: TaskId = None) -> Response[Any]:
        doc, dataset = await self._find(annotation_id, request, state)
        command = DeleteAnnotation(
            actor=request.user.actor(role_here(request)), annotation_id=annotation_id,
            item_id=doc["itemId"], project_id=dataset["projectId"],
        )
        return await self._send(request, state, command, dataset, task_id, annotation_id, 204)

    @staticmethod
    async def _send(request: Request, state: State, command: Envelope, dataset: dict[str, Any],
                    task_id: str | None, body: Any, success: int) -> Response[Any]:
        """Outside a task, manager work sent as it is; in a task, checked by the task service
        against the task's rules and forwarded (answered with the forwarded command's outcome)."""
        project_id = dataset["projectId"]
        if task_id is None:
            if not at_least(role_here(request), "manager"):
                raise PermissionDeniedException(
                    "changing annotations outside a task needs the manager role; annotators change "
                    "them in a task (send taskId)")
            return await dispatch(request, streams.CLASSIFY, command, project_id, body, success)
        task = await state.gw.tasks.task(task_id)
        if task is None or task["projectId"] != project_id:
            raise NotFoundException(f"no task {task_id}")
        check = CheckInTask(actor=command.actor, task_id=task_id, project_id=project_id, command=command)
        return await dispatch(request, streams.TASKS, check, project_id, body, success, wait_for=command.id)
