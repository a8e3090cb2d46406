"""Datasets: a project's items, under one recipe; and their Dataloop JSON export."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from gateway.access import Access
from gateway.answers import Dataset, Paged
from gateway.container import Gateway
from gateway.controllers.common import Page, PageSize, now_iso, paged
from gateway.controllers.recipes import recipe_doc
from gateway.exports import Format, Source, dataset_source, export_body
from gateway.guards import Grant
from gateway.repository import Catalog, new_id
from gateway.schemas import DatasetIn, DatasetPatch, RecipeIn


class DatasetController(Controller):
    path = "/api/v1"
    tags = ["datasets"]

    @staticmethod
    async def _recipe_in_project(
        access: Access, request: Request, recipe_id: str, project_id: str,
    ) -> None:
        recipe = await access.recipe(request.user, recipe_id)
        if project_id not in recipe["projectIds"]:
            raise NotFoundException(f"no recipe {recipe_id} in project {project_id}")

    @post("/projects/{project_id:str}/datasets")
    async def create_dataset(
        self, project_id: FromPath[str], data: JSONBody[DatasetIn], request: Request,
        access: NamedDependency[Access], catalog: NamedDependency[Catalog],
    ) -> Dataset:
        user = request.user
        if data.recipe_id:
            await self._recipe_in_project(access, request, data.recipe_id, project_id)
            recipe_id = data.recipe_id
        else:  # like Dataloop, every dataset gets a recipe (empty until labels are added)
            recipe = recipe_doc(RecipeIn(title=f"{data.name} recipe"), project_id, user.email)
            recipe_id = (await catalog.insert("recipes", recipe))["id"]
        doc = {"_id": new_id(), "name": data.name, "projectId": project_id, "recipeId": recipe_id,
               "creator": user.email, "createdAt": now_iso()}
        return await catalog.insert("datasets", doc)

    @get("/projects/{project_id:str}/datasets")
    async def list_datasets(
        self, project_id: FromPath[str], catalog: NamedDependency[Catalog], page: Page = 0,
        page_size: PageSize = 100,
    ) -> Paged[Dataset]:
        items, total = await catalog.page(
            "datasets", {"projectId": project_id}, page * page_size, page_size
        )
        return paged(items, total, page, page_size)

    @get("/datasets/{dataset_id:str}")
    async def get_dataset(
        self, dataset_id: FromPath[str], grant: NamedDependency[Grant],
    ) -> Dataset:
        return grant.dataset

    @patch("/datasets/{dataset_id:str}")
    async def update_dataset(
        self, dataset_id: FromPath[str], data: JSONBody[DatasetPatch], request: Request,
        grant: NamedDependency[Grant], access: NamedDependency[Access],
        catalog: NamedDependency[Catalog],
    ) -> Dataset:
        dataset = grant.dataset
        changes = data.model_dump(exclude_none=True, by_alias=True)
        if data.recipe_id:
            await self._recipe_in_project(access, request, data.recipe_id, dataset["projectId"])
        access.forget("datasets", dataset_id)
        return await catalog.update("datasets", dataset_id, changes) if changes else dataset

    @get("/datasets/{dataset_id:str}/export")
    async def export_dataset(
        self, dataset_id: FromPath[str], grant: NamedDependency[Grant],
        gateway: NamedDependency[Gateway], format: FromQuery[Format] = "json",
    ) -> Response[Any]:
        """Every item with its annotations in Dataloop JSON (layout 1): one JSON list, or a
        zip with one `json/<dir>/<name>.json` file per item (export V2 naming). Or `csv`
        (images: `filename,label,status,annotator,updatedAt`), `scenes` (videos:
        `video,label,startFrame,endFrame,startTime,endTime,hidden ranges`), `coco`
        (COCO-style `categories`, `images` and image-level label `annotations`). Streamed
        (`X-Item-Count`: the items it holds); `POST …/exports` makes it a job instead."""
        return await streamed(await dataset_source(gateway, grant.dataset), format)


async def streamed(source: Source, format: Format) -> Response[Any]:
    """The export as a streamed answer, its item count in `X-Item-Count` (a page shows the
    download's progress by it)."""
    body = await export_body(source, format)
    headers = {"X-Item-Count": str(await source.count())}
    if format != "json":
        headers["Content-Disposition"] = f'attachment; filename="{body.filename}"'
    return Stream(body.chunks, media_type=body.media_type, headers=headers)
