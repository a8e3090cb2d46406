"""Items: registered by URL or uploaded; their content, thumbnail and annotations."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, JSONBody, MultipartBody
from litestar.response import Redirect

from gateway.access import Access
from gateway.answers import Classified, ClassifyPending, Item, ItemWithAnnotations, Paged
from gateway.controllers.common import Page, PageSize, accepted, now_iso, paged
from gateway.dispatch import Commands
from gateway.errors import unprocessable
from gateway.exports import item_export, item_json
from gateway.file_responses import CONTENT_CACHE, THUMBNAIL_CACHE, file_response
from gateway.guards import Grant
from gateway.media import UnsupportedMedia, probe
from gateway.moves import Moves
from gateway.repository import Catalog, new_id
from gateway.roles import at_least
from gateway.schemas import ClassifyIn, ItemIn
from gateway.task_reads import TaskReads, with_refs
from gateway.video import (
    UnreadableVideo,
    declared_video_metadata,
    probe_video_off_loop,
    video_metadata,
)
from shared.contracts import streams
from shared.contracts.commands import Classify
from shared.rules.labels import Problem, check_classification

MAX_UPLOAD = 200 * 1024 * 1024


@dataclass
class UploadForm:
    file: UploadFile
    dir: str = "/"


def _filename(directory: str, name: str) -> str:
    directory = "/" + directory.strip("/")
    return (directory.rstrip("/") + "/" + name) if directory != "/" else "/" + name


def _item_doc(dataset: dict[str, Any], name: str, directory: str, system: dict[str, Any],
              creator: str, **extra: Any) -> dict[str, Any]:
    return {
        "_id": new_id(), "datasetId": dataset["id"], "projectId": dataset["projectId"],
        "name": name, "dir": "/" + directory.strip("/") if directory.strip("/") else "/",
        "filename": _filename(directory, name), "createdAt": now_iso(), "creator": creator,
        "metadata": {"system": {"refs": [], "taskStatusLog": []} | system, "user": {}},
    } | extra


async def _with_refs(tasks: TaskReads, item: dict[str, Any]) -> dict[str, Any]:
    """The item with its task memberships and statuses in `metadata.system.refs`."""
    holders, statuses = await tasks.refs([item["id"]])
    return with_refs(item, holders.get(item["id"], []), statuses.get(item["id"], []))


class ItemController(Controller):
    path = "/api/v1"
    tags = ["items"]

    @post("/datasets/{dataset_id:str}/items")
    async def register_item(
        self, dataset_id: FromPath[str], data: JSONBody[ItemIn], request: Request,
        grant: NamedDependency[Grant], catalog: NamedDependency[Catalog], api: NamedDependency[str],
    ) -> Item:
        """Register an item stored elsewhere, by URL and mimetype."""
        dataset = grant.dataset
        system = {"mimetype": data.mimetype, "originalname": data.name, "isBinary": True}
        system |= {k: v for k, v in (("width", data.width), ("height", data.height)) if v}
        top: dict[str, Any] = {}
        if data.mimetype.startswith("video/"):
            if not (data.fps and data.frame_count):
                raise unprocessable([Problem("fps", "a video registered by URL needs fps and frameCount")])
            video_system, top = declared_video_metadata(data.fps, data.frame_count, data.duration)
            system |= video_system
        doc = _item_doc(dataset, data.name, data.dir, system, request.user.email,
                        sourceUrl=str(data.url))
        doc["metadata"]["user"] = data.metadata
        doc["metadata"] |= top
        return item_json(await catalog.insert("items", doc), api)

    @get("/datasets/{dataset_id:str}/items")
    async def list_items(
        self, dataset_id: FromPath[str], catalog: NamedDependency[Catalog],
        api: NamedDependency[str], page: Page = 0, page_size: PageSize = 100,
    ) -> Paged[Item]:
        items, total = await catalog.page(
            "items", {"datasetId": dataset_id}, page * page_size, page_size
        )
        return paged([item_json(i, api) for i in items], total, page, page_size)

    @post("/datasets/{dataset_id:str}/items/upload", request_max_body_size=MAX_UPLOAD)
    async def upload_item(
        self,
        dataset_id: FromPath[str],
        data: MultipartBody[UploadForm],
        request: Request,
        grant: NamedDependency[Grant],
        catalog: NamedDependency[Catalog],
        api: NamedDependency[str],
    ) -> Item:
        """Upload an image (or video) file; the platform stores and serves it, with a thumbnail."""
        dataset = grant.dataset
        content = await data.file.read()
        name = (data.file.filename or "").rsplit("/", 1)[-1]
        if not name or not content:
            raise unprocessable([Problem("file", "must be a non-empty file with a name")])
        try:
            facts = probe(name, content, data.file.content_type)
            clip = await probe_video_off_loop(name, content) if facts.mimetype.startswith("video/") else None
        except (UnsupportedMedia, UnreadableVideo) as exc:
            raise unprocessable([Problem("file", str(exc))]) from None
        thumbnail = clip.thumbnail if clip else facts.thumbnail
        file_id = await catalog.put_file(name, content, facts.mimetype)
        thumb_id = await catalog.put_file(f"{name}.thumb.jpg", thumbnail, "image/jpeg") \
            if thumbnail else None
        system = {"mimetype": facts.mimetype, "originalname": name, "size": len(content),
                  "isBinary": True, "thumbnailId": thumb_id}
        system |= {k: v for k, v in (("width", facts.width), ("height", facts.height),
                                     ("channels", facts.channels)) if v}
        video_system, top = video_metadata(clip) if clip else ({}, {})
        system |= video_system
        doc = _item_doc(dataset, name, data.dir, system, request.user.email,
                        fileId=file_id, thumbnailFileId=thumb_id)
        doc["metadata"] |= top
        return item_json(await catalog.insert("items", doc), api)

    @get("/items/{item_id:str}")
    async def get_item(
        self, item_id: FromPath[str], grant: NamedDependency[Grant],
        tasks: NamedDependency[TaskReads], api: NamedDependency[str],
    ) -> Item:
        return item_json(await _with_refs(tasks, grant.item), api)

    @get("/items/{item_id:str}/stream")
    async def item_content(
        self, item_id: FromPath[str], request: Request, grant: NamedDependency[Grant],
        catalog: NamedDependency[Catalog],
    ) -> Response[Any]:
        """The item's bytes (an item registered by URL: a redirect to its URL). One `Range`
        per request (`bytes=a-b`, `a-`, `-n`): 206 with `Content-Range`, 416 outside the file;
        every answer says `Accept-Ranges: bytes` and carries an `ETag` (the stored file's id):
        with `If-None-Match` naming it, 304. `If-Range` with another ETag gets the whole file."""
        item = grant.item
        if item.get("sourceUrl"):
            return Redirect(item["sourceUrl"])
        return await file_response(request, catalog, item["fileId"],
                                   item["metadata"]["system"]["mimetype"], CONTENT_CACHE)

    @get("/items/{item_id:str}/thumbnail")
    async def item_thumbnail(
        self, item_id: FromPath[str], request: Request, grant: NamedDependency[Grant],
        catalog: NamedDependency[Catalog],
    ) -> Response[Any]:
        """A JPEG at most 256 px on its longer side; an item's thumbnail never changes, so it is
        cached a year (`immutable`), with an `ETag` for `If-None-Match` (304)."""
        item = grant.item
        if not item.get("thumbnailFileId"):
            raise NotFoundException(f"item {item_id} has no thumbnail")
        return await file_response(request, catalog, item["thumbnailFileId"], "image/jpeg",
                                   THUMBNAIL_CACHE)

    @get("/items/{item_id:str}/annotations")
    async def item_annotations(
        self, item_id: FromPath[str], grant: NamedDependency[Grant],
        catalog: NamedDependency[Catalog], tasks: NamedDependency[TaskReads],
        api: NamedDependency[str],
    ) -> ItemWithAnnotations:
        """The item's Dataloop JSON with its annotations (export layout 1)."""
        annotations, item = await asyncio.gather(catalog.annotations_of_items([item_id]),
                                                 _with_refs(tasks, grant.item))
        return item_export(item, annotations[item_id], api)

    @post("/items/{item_id:str}/annotations", responses=accepted(ClassifyPending))
    async def classify(
        self, item_id: FromPath[str], data: JSONBody[ClassifyIn], request: Request,
        grant: NamedDependency[Grant], access: NamedDependency[Access],
        tasks: NamedDependency[TaskReads], commands: NamedDependency[Commands],
        moves: NamedDependency[Moves],
    ) -> Response[Classified]:
        """Classify the item. 201 with the annotation when stored within the wait; 202 with an
        operation URL otherwise. The label must be in the recipe, attributes must fit."""
        user, dataset, role = request.user, grant.dataset, grant.role
        task = await self._task_of(tasks, data.task_id, dataset) if data.task_id else None
        if task is None and not at_least(role, "manager"):
            raise PermissionDeniedException(
                "classifying outside a task needs the manager role; annotators classify in a task "
                "(send taskId)")
        ontology = await access.ontology(task["recipeId"] if task else dataset["recipeId"])
        if problems := check_classification(ontology, data.label, data.attributes):
            raise unprocessable(problems, "the classification does not fit the recipe")
        command = Classify(
            actor=user.actor(role), annotation_id=new_id(), item_id=item_id,
            dataset_id=dataset["id"], project_id=dataset["projectId"],
            recipe_id=task["recipeId"] if task else dataset["recipeId"],
            label=data.label, attributes=data.attributes, source=data.source,
            description=data.description, task_id=task["_id"] if task else None,
        )
        body = data.model_dump()
        if task is None:
            return await commands.dispatch(request, streams.CLASSIFY, command, dataset["projectId"], body, 201)
        # In a task, the task service checks its rules first and passes the command on to the
        # annotation service; the answer is its outcome (or the task service's refusal).
        ahead = asyncio.ensure_future(moves.look_ahead(user, task["_id"], item_id))
        try:
            response = await commands.dispatch(request, streams.TASKS, command, dataset["projectId"], body, 201)
        except BaseException:
            ahead.cancel()
            raise
        # With auto next on, the answer carries the next item too (and auto complete moves on).
        return await moves.with_next_item(user, task["_id"], item_id, response, role, ahead)

    @staticmethod
    async def _task_of(tasks: TaskReads, task_id: str, dataset: dict[str, Any]) -> dict[str, Any]:
        task = await tasks.task(task_id)
        if task is None or task["projectId"] != dataset["projectId"]:
            raise NotFoundException(f"no task {task_id}")
        return task

