"""Annotations: read, change and delete. Changes travel as commands like classify does;
outside tasks they are manager work (gateway.roles)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, patch
from litestar.params import FromPath, JSONBody
from litestar.datastructures import State

from gateway.dispatch import dispatch
from gateway.errors import unprocessable
from gateway.guards import role_here
from gateway.exports import public_annotation
from gateway.schemas import AnnotationPatch
from shared import streams
from shared.commands import DeleteAnnotation, UpdateAnnotation
from shared.labels import Problem, check_classification


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
        self, annotation_id: FromPath[str], data: JSONBody[AnnotationPatch], request: Request, state: State
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
        return await dispatch(request, streams.CLASSIFY, command, dataset["projectId"],
                              data.model_dump(), 200)

    @delete("/{annotation_id:str}", status_code=200)
    async def delete_annotation(self, annotation_id: FromPath[str], request: Request, state: State) -> Response[Any]:
        doc, dataset = await self._find(annotation_id, request, state)
        command = DeleteAnnotation(
            actor=request.user.actor(role_here(request)), annotation_id=annotation_id,
            item_id=doc["itemId"], project_id=dataset["projectId"],
        )
        return await dispatch(request, streams.CLASSIFY, command, dataset["projectId"], annotation_id, 204)
