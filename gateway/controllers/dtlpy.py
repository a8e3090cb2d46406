"""Dataloop's SDK against this platform: the routes `dtlpy` calls for classification work,
under `/dtlpy/api/v1` (the environment URL a script gives `dl.add_environment`).

Reads come from the same catalog as the native API; annotation uploads become the same
`Classify` commands the studio sends (checked against the recipe first, events on the
streams as for any other work). What each call sends and expects: docs/dtlpy.md.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, JSONBody

from gateway.access import Access
from gateway.answers import (
    Annotation,
    DtlpyDataset,
    DtlpyProject,
    DtlpyUploadPending,
    DtlpyUser,
    Item,
    Paged,
)
from gateway.bus import CommandBus
from gateway.controllers.common import accepted, paged
from gateway.dtlpy_compat import (
    FilterRefused,
    dataset_json,
    mongo_query,
    paging,
    project_json,
    user_json,
)
from gateway.errors import REJECTION_STATUS, unprocessable
from gateway.exports import item_json, public_annotation
from gateway.guards import Grant
from gateway.repository import Catalog, new_id
from gateway.roles import at_least
from gateway.task_reads import TaskReads, with_refs
from shared.contracts import streams
from shared.contracts.commands import Classify
from shared.contracts.events import CommandRejected
from shared.rules.labels import Problem, check_classification

PREFIX = "/dtlpy/api/v1"
MAX_UPLOAD = 1000  # annotations in one upload


def query_of(resource: str, body: Any) -> tuple[dict[str, Any], int, int]:
    if not isinstance(body, dict):
        raise unprocessable([Problem("body", "must be a dtlpy Filters object")])
    try:
        return mongo_query(resource, body), *paging(body)
    except FilterRefused as refused:
        raise unprocessable([refused.problem], "the filter is not supported here") from None


async def callers_projects(catalog: Catalog, user: Any, wanted: list[str]) -> list[str]:
    """The ids of the caller's projects, among `wanted` when it names any."""
    query = {"members.userId": user.user_id} | ({"_id": {"$in": wanted}} if wanted else {})
    mine, _ = await catalog.page("projects", query, 0, 10_000)
    return [p["id"] for p in mine]


def _classification(k: int, raw: Any) -> tuple[str, dict[str, Any], str | None]:
    """Label, attributes and description of one uploaded annotation (both attribute layouts)."""
    if not isinstance(raw, dict) or raw.get("type") != "class":
        raise unprocessable([Problem(f"[{k}].type", 'must be "class": only classifications are '
                                     "supported")])
    label = raw.get("label")
    if not isinstance(label, str) or not label:
        raise unprocessable([Problem(f"[{k}].label", "must be a non-empty string")])
    system = (raw.get("metadata") or {}).get("system") or {}
    attributes = system.get("attributes")
    if attributes is None and isinstance(raw.get("attributes"), dict):
        attributes = raw["attributes"]  # attributes 2.0 written at the top level
    return label, attributes or {}, raw.get("description")


class DtlpyController(Controller):
    path = PREFIX
    tags = ["dtlpy"]

    @get("/users/me")
    async def dtlpy_me(self, request: Request) -> DtlpyUser:
        """`dl.login_token` asks this to check the token."""
        return user_json(request.user.user_id, request.user.email)

    @get("/projects/{project_name:str}/name")
    async def dtlpy_project_by_name(self, project_name: FromPath[str], request: Request,
                                    catalog: NamedDependency[Catalog]) -> list[DtlpyProject]:
        """`dl.projects.get(project_name=…)`: the caller's projects of that name (a list)."""
        query = {"members.userId": request.user.user_id, "name": project_name}
        found, _ = await catalog.page("projects", query, 0, 10)
        if not found:
            raise NotFoundException(f"no project named {project_name!r}")
        return [project_json(p) for p in found]

    @get("/projects/{project_id:str}")
    async def dtlpy_project(
        self, project_id: FromPath[str], grant: NamedDependency[Grant],
    ) -> DtlpyProject:
        return project_json(grant.project)

    @post("/datasets/query", status_code=200)
    async def dtlpy_datasets(
        self, data: JSONBody[Any], request: Request, catalog: NamedDependency[Catalog],
        api: NamedDependency[str],
    ) -> Paged[DtlpyDataset]:
        """`project.datasets.list/get(dataset_name=…)`: the context's projects' datasets."""
        query, page, size = query_of("datasets", data)
        projects = (data.get("context") or {}).get("projects") or []
        query["projectId"] = {"$in": await callers_projects(catalog, request.user, projects)}
        found, total = await catalog.page("datasets", query, page * size, size)
        return paged([dataset_json(d, api) for d in found], total, page, size)

    @get("/datasets/{dataset_id:str}")
    async def dtlpy_dataset(
        self, dataset_id: FromPath[str], grant: NamedDependency[Grant], api: NamedDependency[str],
    ) -> DtlpyDataset:
        return dataset_json(grant.dataset, api)

    @post("/datasets/{dataset_id:str}/query", status_code=200)
    async def dtlpy_query(
        self, dataset_id: FromPath[str], data: JSONBody[Any], catalog: NamedDependency[Catalog],
        tasks: NamedDependency[TaskReads], api: NamedDependency[str],
    ) -> Paged[Item] | Paged[Annotation]:
        """`dataset.items.list()` and `item.annotations.list()`: one page of items or
        annotations (`resource` in the body), Dataloop's paged shape."""
        resource = data.get("resource", "items") if isinstance(data, dict) else "items"
        query, page, size = query_of(resource, data)
        if resource == "annotations":
            found, total = await catalog.annotations_page(dataset_id, query, page * size, size)
            return paged([public_annotation(a) for a in found], total, page, size)
        found, total = await catalog.page("items", query | {"datasetId": dataset_id}, page * size, size)
        holders, statuses = await tasks.refs([i["id"] for i in found])
        # with their task refs: `item.update_status(...)` finds its task there
        return paged([item_json(with_refs(i, holders.get(i["id"], []), statuses.get(i["id"], [])), api)
                      for i in found], total, page, size)

    @get("/items/{item_id:str}")
    async def dtlpy_item(
        self, item_id: FromPath[str], grant: NamedDependency[Grant],
        tasks: NamedDependency[TaskReads], api: NamedDependency[str],
    ) -> Item:
        holders, statuses = await tasks.refs([item_id])
        return item_json(with_refs(grant.item, holders.get(item_id, []), statuses.get(item_id, [])), api)

    @post("/items/{item_id:str}/annotations", status_code=201, responses=accepted(DtlpyUploadPending))
    async def dtlpy_upload(
        self, item_id: FromPath[str], data: JSONBody[Any], request: Request,
        grant: NamedDependency[Grant], access: NamedDependency[Access],
        bus: NamedDependency[CommandBus],
    ) -> Response[list[Annotation]]:
        """`item.annotations.upload(builder)`: a list of class annotations, each one a
        `Classify` command; answered with the stored annotations (a list)."""
        user, dataset, role = request.user, grant.dataset, grant.role
        if not at_least(role, "manager"):
            raise PermissionDeniedException("uploading annotations outside a task needs the manager role")
        raws = data if isinstance(data, list) else [data]
        if not 1 <= len(raws) <= MAX_UPLOAD:
            raise unprocessable([Problem("body", f"must hold 1 to {MAX_UPLOAD} annotations")])
        ontology = await access.ontology(dataset["recipeId"])
        parsed = [_classification(k, raw) for k, raw in enumerate(raws)]
        for k, (label, attributes, _) in enumerate(parsed):
            if problems := check_classification(ontology, label, attributes):
                raise unprocessable([Problem(f"[{k}].{p.field}", p.rule) for p in problems],
                                    "the annotation does not fit the recipe")
        stored = []
        for label, attributes, description in parsed:
            command = Classify(
                actor=user.actor(role), annotation_id=new_id(), item_id=item_id,
                dataset_id=dataset["id"], project_id=dataset["projectId"],
                recipe_id=dataset["recipeId"], label=label, attributes=attributes,
                source="sdk", description=description)
            outcome = await bus.send(streams.CLASSIFY, command, dataset["projectId"])
            if outcome is None:
                outcome = await bus.await_existing(command.id)
            if isinstance(outcome, CommandRejected):
                status = REJECTION_STATUS[outcome.reason]
                return Response({"status_code": status, "detail": outcome.message,
                                 "reason": outcome.reason, "stored": stored}, status_code=status)
            if outcome is None:
                return Response({"status": "pending", "operationId": command.id, "stored": stored},
                                status_code=202)
            stored.append(public_annotation(outcome.annotation))
        return Response(stored, status_code=201)
