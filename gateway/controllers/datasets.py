"""Datasets: a project's items, under one recipe; and their Dataloop JSON export."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from typing import Any, Literal

from litestar import Controller, Request, Response, get, patch, post
from litestar.response import Stream
from litestar.serialization import encode_json
from litestar.params import FromPath, JSONBody, FromQuery
from litestar.datastructures import State
from litestar.exceptions import NotFoundException

from gateway.controllers.common import Page, PageSize, now_iso, paged
from gateway.controllers.recipes import recipe_doc
from gateway.task_reads import with_refs
from gateway.exports import export_path, item_export
from gateway.export_formats import coco, image_csv, scene_csv
from gateway.repository import NOT_DELETED, new_id
from gateway.schemas import DatasetIn, DatasetPatch, RecipeIn

EXPORT_CHUNK = 500


async def json_list(pairs: AsyncIterator[tuple[dict[str, Any], Any]]) -> AsyncIterator[bytes]:
    """One JSON list, an item at a time."""
    first = True
    yield b"["
    async for _, body in pairs:
        yield (b"" if first else b",") + encode_json(body)
        first = False
    yield b"]"


class _Sink(io.RawIOBase):
    """What zipfile writes, drained after each entry (not seekable: zipfile then writes data
    descriptors, so nothing has to be rewritten at the start)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


async def zipped(pairs: AsyncIterator[tuple[dict[str, Any], Any]]) -> AsyncIterator[bytes]:
    """A zip with one `json/<dir>/<name>.json` per item, an entry at a time."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        async for item, body in pairs:
            archive.writestr(export_path(item), json.dumps(body, indent=2))
            yield sink.drain()
    yield sink.drain()


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
        format: FromQuery[Literal["json", "zip", "csv", "scenes", "coco"]] = "json"
    ) -> Response[Any]:
        """Every item with its annotations in Dataloop JSON (layout 1): one JSON list, or a
        zip with one `json/<dir>/<name>.json` file per item (export V2 naming). Or `csv`
        (images: `filename,label,status,annotator,updatedAt`), `scenes` (videos:
        `video,label,startFrame,endFrame,startTime,endTime,hidden ranges`), `coco`
        (COCO-style `categories`, `images` and image-level label `annotations`)."""
        gw = state.gw
        dataset = await gw.access.dataset(request.user, dataset_id)
        holders = await gw.tasks.memberships(dataset_id=dataset_id)
        total = await gw.catalog.db.items.count_documents({"datasetId": dataset_id})
        count = {"X-Item-Count": str(total)}  # a page shows the download's progress by it
        if format in ("csv", "scenes", "coco"):
            return await self._other_format(gw, dataset, holders, format, count)
        if format == "json":
            return Stream(json_list(self._exported(gw, dataset_id, holders)), media_type="application/json",
                          headers=count)
        name = f"{dataset['name']}-export.zip".replace('"', "")
        return Stream(zipped(self._exported(gw, dataset_id, holders)), media_type="application/zip",
                      headers=count | {"Content-Disposition": f'attachment; filename="{name}"'})

    async def _other_format(self, gw: Any, dataset: dict[str, Any], holders: dict[str, list[tuple[str, str]]],
                            format: str, count: dict[str, str]) -> Response[Any]:
        stem = dataset["name"].replace('"', "")
        if format == "coco":
            labels = list((await gw.access.ontology(dataset["recipeId"])).labels())
            used = await gw.catalog.db.annotations.distinct(
                "label", {"datasetId": dataset["id"]} | NOT_DELETED)
            labels += sorted(set(used) - set(labels))  # labels since removed from the recipe
            body = coco(labels, lambda: self._exported(gw, dataset["id"], holders))
            return Stream(body, media_type="application/json", headers=count | {
                "Content-Disposition": f'attachment; filename="{stem}-coco.json"'})
        pairs = self._exported(gw, dataset["id"], holders)
        body = image_csv(pairs) if format == "csv" else scene_csv(pairs)
        return Stream(body, media_type="text/csv; charset=utf-8", headers=count | {
            "Content-Disposition": f'attachment; filename="{stem}-{format}.csv"'})

    async def _exported(self, gw: Any, dataset_id: str,
                        holders: dict[str, list[tuple[str, str]]]) -> AsyncIterator[tuple[dict[str, Any], Any]]:
        """The dataset's items with their annotations, EXPORT_CHUNK at a time (streamed, never
        the whole export in memory)."""
        chunk: list[dict[str, Any]] = []
        async for item in gw.catalog.iterate("items", {"datasetId": dataset_id}):
            chunk.append(item)
            if len(chunk) >= EXPORT_CHUNK:
                for pair in await self._export_chunk(gw, chunk, holders):
                    yield pair
                chunk = []
        for pair in await self._export_chunk(gw, chunk, holders):
            yield pair

    async def _export_chunk(self, gw: Any, items: list[dict[str, Any]],
                            holders: dict[str, list[tuple[str, str]]]) -> list[Any]:
        if not items:
            return []
        ids = [i["id"] for i in items]
        annotations = await gw.catalog.annotations_of_items(ids)
        statuses = await gw.tasks.statuses_of_items({i: holders.get(i, []) for i in ids})
        return [(i, item_export(with_refs(i, holders.get(i["id"], []), statuses.get(i["id"], [])),
                                annotations[i["id"]], gw.api)) for i in items]
