"""Import into a dataset: Dataloop JSON (a file, or Dataloop's export zip), CSV or class
folders; answered 202 with the job's URL, which shows its progress and per-file report, and
its `/feed` (Server-Sent Events). The upload is stored with the job, so another gateway can
run it again if this one dies (gateway/jobs.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, MultipartBody
from litestar.response import ServerSentEvent
from pydantic import ValidationError

from gateway.access import Access
from gateway.answers import ImportJob
from gateway.container import Gateway
from gateway.controllers.common import now_iso
from gateway.errors import unprocessable
from gateway.guards import Grant
from gateway.import_formats import labels_of, read_upload, with_labels
from gateway.import_jobs import run_import
from gateway.jobs import FeedSeconds, Jobs, job_feed
from gateway.repository import Catalog, new_id
from gateway.task_reads import TaskReads
from shared.contracts.dataloop import Ontology
from shared.rules.labels import Problem

MAX_IMPORT = 500 * 1024 * 1024


@dataclass
class ImportForm:
    file: UploadFile
    addLabels: bool = False  # noqa: N815  (the form field's name)
    taskId: str | None = None  # noqa: N815  the task for statuses whose own task is not here


HIDDEN = ("_id", "fileId", "actor", "owner", "leaseUntil")  # the job's machinery, not its report


def job_json(doc: dict[str, Any], api: str) -> ImportJob:
    body = {k: v for k, v in doc.items() if k not in HIDDEN}
    url = f"{api}/datasets/{doc['datasetId']}/imports/{doc['_id']}"
    return {"id": doc["_id"]} | body | {"url": url, "feed": url + "/feed"}


class ImportController(Controller):
    path = "/api/v1/datasets/{dataset_id:str}"
    tags = ["datasets"]

    @post("/import", status_code=202, request_max_body_size=MAX_IMPORT)
    async def import_dataset(
        self, dataset_id: FromPath[str], data: MultipartBody[ImportForm], request: Request,
        grant: NamedDependency[Grant], access: NamedDependency[Access],
        tasks: NamedDependency[TaskReads], catalog: NamedDependency[Catalog],
        jobs: NamedDependency[Jobs], api: NamedDependency[str], gateway: NamedDependency[Gateway],
    ) -> Response[ImportJob]:
        """Import `file` (multipart): `.json` (Dataloop item export or annotation list),
        `.zip` (Dataloop export with `json/` and `items/`, JSON or CSV files, or class
        folders `<label>/<image>`), `.csv` (`filename,label[,status][,attribute columns]`).
        Labels not in the recipe are refused and listed; with `addLabels=true` they are
        added to the recipe first. 202 with the job (`url`: its progress and per-file report)."""
        dataset = grant.dataset
        name, content = data.file.filename or "", await data.file.read()
        if not content:
            raise unprocessable([Problem("file", "must be a non-empty file")])
        ontology = await access.ontology(dataset["recipeId"])
        upload = await asyncio.to_thread(read_upload, name, content, ontology)
        if len(upload.files) == 1 and upload.files[0].refused:
            raise unprocessable([Problem("file", upload.files[0].refused)], "the file cannot be imported")
        if not any(f.entries or f.refusals or f.statuses for f in upload.files):
            raise unprocessable([Problem("file", "holds no annotation or item status to import")])
        if data.taskId:
            await self._task_of(tasks, data.taskId, dataset)
        missing = sorted(labels_of(upload) - set(ontology.labels()))
        if missing and data.addLabels:
            ontology = await self._add_labels(catalog, access, dataset["recipeId"], missing)
        actor = request.user.actor(grant.role)
        doc = {"_id": new_id(), "datasetId": dataset_id, "projectId": dataset["projectId"],
               "file": name, "creator": request.user.email, "status": "running", "total": None,
               "processed": 0, "createdAt": now_iso(), "updatedAt": now_iso(),
               "fileId": await catalog.put_file(name, content, "application/octet-stream"),
               "actor": actor.model_dump(mode="json"), "taskId": data.taskId} | jobs.lease()
        await catalog.db.imports.insert_one(doc)
        # the job takes all the adapters: it outlives this request, and another replica may resume it
        jobs.run("imports", doc["_id"], run_import(gateway, doc["_id"], dataset, actor, upload, ontology,
                                                      data.taskId))
        body = job_json(doc, api)
        return Response(body, status_code=202, headers={"Location": body["url"]})

    @staticmethod
    async def _task_of(tasks: TaskReads, task_id: str, dataset: dict[str, Any]) -> None:
        task = await tasks.task(task_id)
        if task is None or task["datasetId"] != dataset["id"]:
            raise unprocessable([Problem("taskId", "must be a task of this dataset")])

    @staticmethod
    async def _add_labels(
        catalog: Catalog, access: Access, recipe_id: str, labels: list[str],
    ) -> Any:
        recipe = await catalog.get("recipes", recipe_id)
        try:
            ontology = Ontology.model_validate(with_labels(recipe["ontology"], labels))
        except ValidationError as exc:
            raise unprocessable([Problem("addLabels", f"a label cannot be added: {exc.errors()[0]['msg']}")]) from None
        await catalog.update("recipes", recipe_id, {"ontology": with_labels(recipe["ontology"], labels)})
        access.forget("recipes", recipe_id)
        access.cache.pop(("ontology", recipe_id), None)
        return ontology

    @get("/imports/{import_id:str}")
    async def get_import(
        self, dataset_id: FromPath[str], import_id: FromPath[str],
        catalog: NamedDependency[Catalog], api: NamedDependency[str],
    ) -> ImportJob:
        """An import's progress (`status` running, completed or failed; `processed` of
        `total`) and, per file, what was imported, skipped as duplicate or refused and why."""
        doc = await catalog.db.imports.find_one({"_id": import_id, "datasetId": dataset_id})
        if doc is None:
            raise NotFoundException(f"no import {import_id}")
        return job_json(doc, api)

    @get("/imports/{import_id:str}/feed")
    async def import_feed(
        self, dataset_id: FromPath[str], import_id: FromPath[str],
        catalog: NamedDependency[Catalog], api: NamedDependency[str], seconds: FeedSeconds = None,
    ) -> ServerSentEvent:
        """Server-Sent Events: `progress` (status, processed of total, imported, duplicates,
        refused, statuses set, skipped) at each change while the import runs, then
        `completed` or `failed` with the whole job (its per-file report), and the stream
        ends (or after `seconds`). Read from the stored job: any gateway answers, whichever
        runs the import."""
        jobs = catalog.db.imports
        if await jobs.find_one({"_id": import_id, "datasetId": dataset_id}, {"_id": 1}) is None:
            raise NotFoundException(f"no import {import_id}")
        return ServerSentEvent(job_feed(jobs, import_id, lambda d: job_json(d, api),
                                        seconds))
