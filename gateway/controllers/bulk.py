"""Bulk classification in a task: classify many items at once, preview, follow progress,
undo. Commands travel on `bulk-classify` to the task service, which owns the rules."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody

from gateway.access import Access
from gateway.answers import (
    BulkClassified,
    BulkItemOutcome,
    BulkNotStarted,
    BulkPreview,
    BulkProgress,
    BulkRunning,
    BulkUndone,
)
from gateway.browse import Browser
from gateway.bulk_schemas import BulkClassifyIn, BulkFilterIn
from gateway.bus import CommandBus
from gateway.controllers.browse import checked_index
from gateway.controllers.common import Page, PageSize, accepted, paged
from gateway.dispatch import Commands
from gateway.errors import unprocessable
from gateway.guards import Grant
from gateway.repository import Catalog
from gateway.task_reads import TaskReads
from shared.contracts import streams
from shared.contracts.bulk import MAX_ITEMS, BulkClassify, BulkFilter, UndoBulk, annotation_id
from shared.rules.labels import Problem, check_classification


def _bulk_answer(response: Response[Any], api: str, task_id: str, bulk_id: str) -> Response[Any]:
    """Past the wait the bulk still runs: point at its progress rather than the operation."""
    if response.status_code == 202:
        url = f"{api}/tasks/{task_id}/bulk/{bulk_id}"
        running: BulkRunning = {"id": bulk_id, "operationId": bulk_id, "status": "running", "url": url}
        return Response(running, status_code=202, headers=dict(response.headers) | {"Location": url})
    return response


class BulkController(Controller):
    path = "/api/v1/tasks/{task_id:str}"
    tags = ["bulk classification"]

    @staticmethod
    async def _command(data: BulkClassifyIn, request: Request, grant: Grant, access: Access,
                       browse: Browser, dry_run: bool) -> tuple[dict[str, Any], BulkClassify]:
        task, task_id = grant.task, grant.task["_id"]
        ontology = await access.ontology(task["recipeId"])
        if problems := check_classification(ontology, data.label, data.attributes):
            raise unprocessable(problems, "the classification does not fit the recipe")
        item_ids, f = data.item_ids, None
        if data.filter and data.filter.browses:  # resolved here, from the browser's index
            item_ids = await matching_ids(task, access, browse, data.filter)
        elif data.filter:
            f = BulkFilter(assignment_id=data.filter.assignment_id, status=data.filter.status)
        return task, BulkClassify(
            actor=request.user.actor(grant.role), task_id=task_id, project_id=task["projectId"],
            item_ids=item_ids, filter=f, label=data.label, attributes=data.attributes,
            mode=data.mode, status=data.status, dry_run=dry_run)

    @post("/bulk-classify", status_code=200, responses=accepted(BulkRunning))
    async def bulk_classify(
        self, task_id: FromPath[str], data: JSONBody[BulkClassifyIn], request: Request,
        grant: NamedDependency[Grant], access: NamedDependency[Access],
        browse: NamedDependency[Browser], commands: NamedDependency[Commands],
    ) -> Response[BulkClassified]:
        """Classify (and optionally set the status of) the selected items: all of them or,
        refused, none. 200 with the outcome when done within the wait, else 202 and the URL
        of the operation's progress."""
        task, command = await self._command(data, request, grant, access, browse, dry_run=False)
        api = commands.api
        answer = await commands.dispatch(request, streams.BULK_CLASSIFY, command, task["projectId"],
                                         data.model_dump(mode="json"), 200,
                                         lambda o: render_completed(o, api))
        return _bulk_answer(answer, api, task_id, command.id)

    @post("/bulk-classify/preview", status_code=200, responses=accepted())
    async def preview_bulk_classify(
        self, task_id: FromPath[str], data: JSONBody[BulkClassifyIn], request: Request,
        grant: NamedDependency[Grant], access: NamedDependency[Access],
        browse: NamedDependency[Browser], commands: NamedDependency[Commands],
    ) -> Response[BulkPreview]:
        """What the bulk would change; changes nothing."""
        task, command = await self._command(data, request, grant, access, browse, dry_run=True)
        return await commands.dispatch(request, streams.BULK_CLASSIFY, command, task["projectId"],
                                       data.model_dump(mode="json"), 200, render_preview)

    @get("/bulk/{bulk_id:str}")
    async def get_bulk(
        self, task_id: FromPath[str], bulk_id: FromPath[str], grant: NamedDependency[Grant],
        catalog: NamedDependency[Catalog], bus: NamedDependency[CommandBus], tasks: NamedDependency[TaskReads],
        api: NamedDependency[str], page: Page = 0, page_size: PageSize = 1000,
    ) -> BulkProgress | BulkNotStarted:
        """A bulk's progress (done/total) and, page by page, each item's outcome."""
        record = await tasks.bulk(task_id, bulk_id)
        if record is None:
            return await self._not_started(catalog, bus, api, grant.project_id, task_id, bulk_id)
        classes = await catalog.bulk_classes(bulk_id)
        return bulk_view(record, classes, api, page, page_size)

    @staticmethod
    async def _not_started(catalog: Catalog, bus: CommandBus, api: str, project_id: str | None,
                           task_id: str, bulk_id: str) -> BulkNotStarted:
        """A bulk with no record yet: refused (with why), or accepted and about to start."""
        url = f"{api}/tasks/{task_id}/bulk/{bulk_id}"
        stored = await catalog.operation(bulk_id)
        if stored is not None and stored.get("projectId") != project_id:
            stored = None
        if stored is not None and stored.get("status") == "rejected" and stored.get("commandType") == "BulkClassify":
            outcome = bus.parse_outcome(stored["event"])
            return {"id": bulk_id, "taskId": task_id, "state": "refused", "url": url,
                    "error": {"reason": outcome.reason, "message": outcome.message, "details": outcome.details}}
        pending = await bus.pending(bulk_id)
        if stored is None and pending is not None and pending.get("commandType") == "BulkClassify" \
                and pending.get("projectId") == project_id:
            return {"id": bulk_id, "taskId": task_id, "state": "pending", "done": 0, "url": url}
        raise NotFoundException(f"no bulk operation {bulk_id} in task {task_id}")

    @post("/bulk/{bulk_id:str}/undo", status_code=200, responses=accepted())
    async def undo_bulk(
        self, task_id: FromPath[str], bulk_id: FromPath[str], request: Request,
        grant: NamedDependency[Grant], commands: NamedDependency[Commands],
    ) -> Response[BulkUndone]:
        """Undo the bulk as one step; items changed since are reported, not overwritten."""
        project_id = grant.task["projectId"]
        command = UndoBulk(actor=request.user.actor(grant.role), bulk_id=bulk_id,
                           task_id=task_id, project_id=project_id)
        return await commands.dispatch(request, streams.BULK_CLASSIFY, command, project_id, bulk_id, 200,
                                       render_undone)


async def matching_ids(
    task: dict[str, Any], access: Access, browse: Browser, f: BulkFilterIn,
) -> list[str]:
    """The items a browser filter matches, for a bulk: 422 when none or more than a bulk takes."""
    index, checked = await checked_index(task, access, browse, f.browse_query(), "filter.", "body")
    found = index.select(checked)
    if not len(found) or len(found) > MAX_ITEMS:
        rule = "matches no item of the task" if not len(found) else \
            f"matches {len(found):,} items; a bulk takes at most {MAX_ITEMS:,}: narrow the filter"
        raise unprocessable([Problem("filter", rule)], "the filter does not fit a bulk")
    return [index.ids[p] for p in found.tolist()]


def render_completed(outcome: Any, api: str) -> BulkClassified:
    return {"id": outcome.bulk_id, "status": "completed", "total": outcome.total,
            "classified": outcome.classified, "unchanged": outcome.unchanged,
            "replaced": outcome.replaced, "statuses": outcome.statuses,
            "url": f"{api}/tasks/{outcome.task_id}/bulk/{outcome.bulk_id}"}


def render_preview(outcome: Any) -> BulkPreview:
    return {"total": outcome.total, "wouldChange": outcome.would_change,
            "alreadyClassified": outcome.already_classified,
            "statusOverwritten": outcome.status_overwritten, "heldByOthers": outcome.held_by_others,
            "statusesBefore": outcome.statuses_before}


def render_undone(outcome: Any) -> BulkUndone:
    return {"id": outcome.bulk_id, "status": "undone", "removed": outcome.removed,
            "restored": outcome.restored, "conflicts": outcome.conflicts, "statuses": outcome.statuses}


def bulk_view(record: dict[str, Any], classes: dict[str, Any], api: str, page: int,
              size: int) -> BulkProgress:
    total = len(record["items"])
    # A bulk is linear: the task service writes the statuses, then the annotation service
    # the classes, and its record says when the bulk is completed (or undone) and how far
    # the classes got.
    state = classes.get("state") if classes.get("state") in ("completed", "undone") else "running"
    view: BulkProgress = {"id": record["_id"], "taskId": record["taskId"], "label": record["label"],
            "mode": record["mode"], "status": record["status"], "state": state,
            "done": total if state != "running" else classes.get("done", 0), "total": total,
            "url": f"{api}/tasks/{record['taskId']}/bulk/{record['_id']}"}
    if record.get("undo"):
        view["undo"] = {"statusConflicts": record["undo"]["conflicts"][:100],
                        "classConflicts": (classes.get("undo") or {}).get("conflicts", [])[:100]}
    if state not in ("completed", "undone"):
        return view
    unchanged = set(classes.get("unchanged", []))
    replaced = classes.get("replaced", {})
    statuses = {c[0]: {"previous": c[2], "status": record["status"]} for c in record["statusChanges"]}
    rows: list[BulkItemOutcome] = [{"itemId": i, "assignmentId": a,
             "class": "unchanged" if i in unchanged else "added",
             "annotationId": None if i in unchanged else annotation_id(record["_id"], i),
             "replaced": replaced.get(i, []), "statusChange": statuses.get(i)}
            for i, a in record["items"][page * size:(page + 1) * size]]
    return view | {"outcomes": paged(rows, total, page, size)}
