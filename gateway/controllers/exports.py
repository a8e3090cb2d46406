"""Exports of a task's items (streamed, like a dataset's), and exports as jobs: a dataset's or
a task's items written to a stored file with progress, answered 202 with the job's URL;
the file is downloaded from it when the job is done."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import ServerSentEvent

from gateway.answers import ExportJob
from gateway.container import Gateway
from gateway.controllers.common import now_iso
from gateway.controllers.datasets import streamed
from gateway.export_jobs import run_export
from gateway.exports import Format, Source, dataset_source, task_source
from gateway.file_responses import file_response
from gateway.guards import Grant
from gateway.jobs import FeedSeconds, job_feed
from gateway.repository import Catalog, new_id
from gateway.schemas import Body

HIDDEN = ("_id", "owner", "leaseUntil", "fileId")  # the job's machinery


class ExportIn(Body):
    format: Format = "zip"


def export_json(doc: dict[str, Any], api: str) -> ExportJob:
    url = f"{api}/datasets/{doc['datasetId']}/exports/{doc['_id']}"
    done = {"download": url + "/file"} if doc["status"] == "completed" else {}
    return {"id": doc["_id"]} | {k: v for k, v in doc.items() if k not in HIDDEN} | {
        "url": url, "feed": url + "/feed"} | done


class ExportController(Controller):
    path = "/api/v1"
    tags = ["exports"]

    @staticmethod
    async def _task(grant: Grant, catalog: Catalog) -> tuple[dict[str, Any], dict[str, Any]]:
        task = grant.task  # the guard found it, and the caller a manager
        dataset = await catalog.get("datasets", task["datasetId"])
        if dataset is None:
            raise NotFoundException(f"no task {task['_id']}")
        return task, dataset

    @get("/tasks/{task_id:str}/export")
    async def export_task(
        self, task_id: FromPath[str], grant: NamedDependency[Grant],
        gateway: NamedDependency[Gateway], format: FromQuery[Format] = "json",
    ) -> Response[Any]:
        """The task's items (its annotators' and its queue's) with their annotations and
        their status in this task, in the formats of the dataset export; streamed, with
        `X-Item-Count`."""
        task, dataset = await self._task(grant, gateway.catalog)
        return await streamed(await task_source(gateway, task, dataset), format)

    @post("/datasets/{dataset_id:str}/exports", status_code=202)
    async def create_dataset_export(
        self, dataset_id: FromPath[str], request: Request, grant: NamedDependency[Grant],
        gateway: NamedDependency[Gateway], data: JSONBody[ExportIn | None] = None,
    ) -> Response[ExportJob]:
        """Export the dataset as a job (for large sets): 202 with the job; its `url` shows
        the progress (`processed` of `total` items), its `feed` streams it, and `download`
        appears when the file is written. `format` as `GET …/export` (default zip)."""
        return await self._start(gateway, request, await dataset_source(gateway, grant.dataset),
                                 (data or ExportIn()).format, {"datasetId": dataset_id})

    @post("/tasks/{task_id:str}/exports", status_code=202)
    async def create_task_export(
        self, task_id: FromPath[str], request: Request, grant: NamedDependency[Grant],
        gateway: NamedDependency[Gateway], data: JSONBody[ExportIn | None] = None,
    ) -> Response[ExportJob]:
        """Export the task's items as a job, like a dataset's (the job lives under the
        task's dataset)."""
        task, dataset = await self._task(grant, gateway.catalog)
        return await self._start(gateway, request, await task_source(gateway, task, dataset),
                                 (data or ExportIn()).format, {"datasetId": dataset["id"], "taskId": task_id})

    @staticmethod
    async def _start(gw: Gateway, request: Request, source: Source, format: Format,
                     of: dict[str, str]) -> Response[ExportJob]:
        """The job started, run by this replica's jobs (another's if this one dies)."""
        doc = {"_id": new_id(), **of, "projectId": source.dataset["projectId"], "format": format,
               "status": "running", "processed": 0, "total": None, "creator": request.user.email,
               "fileId": new_id(), "createdAt": now_iso(), "updatedAt": now_iso()} | gw.jobs.lease()
        await gw.catalog.db.exports.insert_one(doc)
        gw.jobs.run("exports", doc["_id"], run_export(gw, doc["_id"], source, format))
        body = export_json(doc, gw.api)
        return Response(body, status_code=202, headers={"Location": body["url"]})

    @staticmethod
    async def _job(catalog: Catalog, dataset_id: str, export_id: str) -> dict[str, Any]:
        doc = await catalog.db.exports.find_one({"_id": export_id, "datasetId": dataset_id})
        if doc is None:
            raise NotFoundException(f"no export {export_id}")
        return doc

    @get("/datasets/{dataset_id:str}/exports/{export_id:str}")
    async def get_export(
        self, dataset_id: FromPath[str], export_id: FromPath[str],
        catalog: NamedDependency[Catalog], api: NamedDependency[str],
    ) -> ExportJob:
        """An export job: `status` running, completed or failed; `processed` of `total`
        items; `download` once completed."""
        return export_json(await self._job(catalog, dataset_id, export_id), api)

    @get("/datasets/{dataset_id:str}/exports/{export_id:str}/feed")
    async def export_feed(
        self, dataset_id: FromPath[str], export_id: FromPath[str],
        catalog: NamedDependency[Catalog], api: NamedDependency[str], seconds: FeedSeconds = None,
    ) -> ServerSentEvent:
        """Server-Sent Events: `progress` at each change while the export runs, then
        `completed` (with its `download`) or `failed`, and the stream ends (or after
        `seconds`)."""
        await self._job(catalog, dataset_id, export_id)
        return ServerSentEvent(job_feed(catalog.db.exports, export_id,
                                        lambda d: export_json(d, api), seconds))

    @get("/datasets/{dataset_id:str}/exports/{export_id:str}/file")
    async def export_file(self, dataset_id: FromPath[str], export_id: FromPath[str],
                          request: Request, catalog: NamedDependency[Catalog]) -> Response[Any]:
        """The export's file (ranges allowed); 409 while the job runs."""
        doc = await self._job(catalog, dataset_id, export_id)
        if doc["status"] != "completed":
            raise HTTPException(status_code=409, detail=f"the export is {doc['status']}, not completed")
        answer = await file_response(request, catalog, doc["fileId"], doc["mediaType"],
                                     "private, max-age=3600")
        answer.headers["Content-Disposition"] = f'attachment; filename="{doc["filename"]}"'
        return answer
