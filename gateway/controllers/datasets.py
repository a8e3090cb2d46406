"""Datasets: a project's items, under one recipe; and their Dataloop JSON export."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from gateway.controllers.common import Page, PageSize, now_iso, paged
from gateway.controllers.recipes import recipe_doc
from gateway.exports import Format, Source, dataset_source, export_body
from gateway.repository import new_id
from gateway.schemas import DatasetIn, DatasetPatch, RecipeIn


class DatasetController(Controller):
    path = "/api/v1"
    tags = ["datasets"]

    async def _recipe_in_project(self, state: State, request: Request, recipe_id: FromPath[str], project_id: str) -> None:
        recipe = await state.gw.access.recipe(request.user, recipe_id)
        if project_id not in recipe["projectIds"]:
            raise NotFoundException(f"no recipe {recipe_id} in project {project_id}")

    @post("/projects/{project_id:str}/datasets")
    async def create_dataset(
        self, project_id: FromPath[str], data: JSONBody[DatasetIn], request: Request, state: State
    ) -> dict[str, Any]:
        gw, user = state.gw, request.user
        await gw.access.project(user, project_id)
        if data.recipe_id:
            await self._recipe_in_project(state, request, data.recipe_id, project_id)
            recipe_id = data.recipe_id
        else:  # like Dataloop, every dataset gets a recipe (empty until labels are added)
            recipe = recipe_doc(RecipeIn(title=f"{data.name} recipe"), project_id, user.email)
            recipe_id = (await gw.catalog.insert("recipes", recipe))["id"]
        doc = {"_id": new_id(), "name": data.name, "projectId": project_id, "recipeId": recipe_id,
               "creator": user.email, "createdAt": now_iso()}
        return await gw.catalog.insert("datasets", doc)

    @get("/projects/{project_id:str}/datasets")
    async def list_datasets(
        self, project_id: FromPath[str], request: Request, state: State, page: Page = 0, page_size: PageSize = 100
    ) -> dict[str, Any]:
        await state.gw.access.project(request.user, project_id)
        items, total = await state.gw.catalog.page(
            "datasets", {"projectId": project_id}, page * page_size, page_size
        )
        return paged(items, total, page, page_size)

    @get("/datasets/{dataset_id:str}")
    async def get_dataset(self, dataset_id: FromPath[str], request: Request, state: State) -> dict[str, Any]:
        return await state.gw.access.dataset(request.user, dataset_id)

    @patch("/datasets/{dataset_id:str}")
    async def update_dataset(
        self, dataset_id: FromPath[str], data: JSONBody[DatasetPatch], request: Request, state: State
    ) -> dict[str, Any]:
        dataset = await state.gw.access.dataset(request.user, dataset_id)
        changes = data.model_dump(exclude_none=True, by_alias=True)
        if data.recipe_id:
            await self._recipe_in_project(state, request, data.recipe_id, dataset["projectId"])
        state.gw.access.forget("datasets", dataset_id)
        return await state.gw.catalog.update("datasets", dataset_id, changes) if changes else dataset

    @get("/datasets/{dataset_id:str}/export")
    async def export_dataset(
        self, dataset_id: FromPath[str], request: Request, state: State,
        format: FromQuery[Format] = "json"
    ) -> Response[Any]:
        """Every item with its annotations in Dataloop JSON (layout 1): one JSON list, or a
        zip with one `json/<dir>/<name>.json` file per item (export V2 naming). Or `csv`
        (images: `filename,label,status,annotator,updatedAt`), `scenes` (videos:
        `video,label,startFrame,endFrame,startTime,endTime,hidden ranges`), `coco`
        (COCO-style `categories`, `images` and image-level label `annotations`). Streamed
        (`X-Item-Count`: the items it holds); `POST …/exports` makes it a job instead."""
        dataset = await state.gw.access.dataset(request.user, dataset_id)
        return await streamed(await dataset_source(state.gw, dataset), format)


async def streamed(source: Source, format: Format) -> Response[Any]:
    """The export as a streamed answer, its item count in `X-Item-Count` (a page shows the
    download's progress by it)."""
    body = await export_body(source, format)
    headers = {"X-Item-Count": str(await source.count())}
    if format != "json":
        headers["Content-Disposition"] = f'attachment; filename="{body.filename}"'
    return Stream(body.chunks, media_type=body.media_type, headers=headers)
