"""The OpenAPI document describes the answer of every JSON route: each route's success
answers name a schema of gateway.answers (or another typed answer), so a controller that
goes back to returning a bare `dict[str, Any]` fails here. And the declared answers fit what
the gateway's builders make (a TypedDict declares the dict that goes out; nothing converts
it, so nothing else would notice a wrong declaration)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import NoneType, SimpleNamespace
from typing import Any

import pytest
from litestar.response import File, Redirect, ServerSentEvent, Stream
from litestar.routes import HTTPRoute
from pydantic import TypeAdapter

from gateway import answers
from gateway.app import create_app
from shared.platform.settings import Settings

pytestmark = pytest.mark.unit

# Routes whose controllers other work is changing now: typed once that lands.
REMAINING: set[str] = set()
# Answers that are not JSON: downloads, file bytes and redirects (Server-Sent Events, plain
# text and 204s are told by their return type).
NOT_JSON = {
    ("GET", "/api/v1/datasets/{dataset_id}/export"),  # the export, streamed (JSON, zip, CSV)
    ("GET", "/api/v1/tasks/{task_id}/export"),
    ("GET", "/api/v1/datasets/{dataset_id}/exports/{export_id}/file"),
    ("GET", "/api/v1/items/{item_id}/stream"),  # the item's bytes, or a redirect to its URL
    ("GET", "/api/v1/items/{item_id}/thumbnail"),
    ("GET", "/api/v1/auth/oidc/callback"),  # a redirect into the studio
}
NO_BODY = (ServerSentEvent, Stream, File, Redirect, str, NoneType)


@pytest.fixture(scope="module")
def app() -> Any:
    return create_app(Settings())


@pytest.fixture(scope="module")
def doc(app) -> dict[str, Any]:
    return app.openapi_schema.to_schema()


def _refers(schema: Any) -> bool:
    """The schema names a component (somewhere: an array of them, a map to them, one of them)."""
    if isinstance(schema, dict):
        return "$ref" in schema or any(_refers(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_refers(v) for v in schema)
    return False


def _json_routes(app: Any) -> list[tuple[str, str, Any]]:
    routes = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema() or handler.fn.__module__ in REMAINING:
                continue
            returned = handler.parsed_fn_signature.return_type
            inner = returned.inner_types[0].annotation if returned.inner_types else None
            if returned.annotation in NO_BODY or (returned.origin is not None and inner is NoneType):
                continue
            for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                if (method, route.path_format) not in NOT_JSON:
                    routes.append((method, route.path_format, handler))
    return routes


def test_every_json_route_declares_the_schema_of_its_answer(app, doc) -> None:
    routes = _json_routes(app)
    assert len(routes) > 60  # the test sees the API, not an empty app
    untyped = []
    for method, path, handler in routes:
        answered = doc["paths"][path][method.lower()]["responses"]
        success = {code: r for code, r in answered.items() if code.startswith("2")}
        schemas = [c.get("schema") for r in success.values() for c in (r.get("content") or {}).values()]
        if not schemas or not all(_refers(s) for s in schemas):
            untyped.append(f"{method} {path} ({handler.handler_name})")
    assert not untyped, "routes whose answer the OpenAPI document does not describe:\n" + "\n".join(untyped)


def test_a_command_route_describes_its_202_too(doc) -> None:
    classify = doc["paths"]["/api/v1/items/{item_id}/annotations"]["post"]["responses"]
    assert classify["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/Classified")
    assert classify["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/ClassifyPending")
    assert "Annotation" in doc["components"]["schemas"]
    # a bulk past the wait points at its progress, not at the operation
    bulk = doc["paths"]["/api/v1/tasks/{task_id}/bulk-classify"]["post"]["responses"]
    assert bulk["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/BulkClassified")
    assert bulk["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/BulkRunning")


# --- the declared answers fit what the builders make -----------------------------------------


def fits(kind: Any, value: Any) -> None:
    """`value` holds every field `kind` requires, of its type, and no field it does not name."""
    declared = getattr(getattr(kind, "__origin__", kind), "__annotations__", {})
    assert set(value) <= set(declared), f"not declared in {kind}: {set(value) - set(declared)}"
    TypeAdapter(kind).validate_python(value)


NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
API = "http://testserver/api/v1"


def stored_task(**over: Any) -> dict[str, Any]:
    return {"_id": "t1", "name": "first", "projectId": "p1", "datasetId": "d1", "recipeId": "r1",
            "creator": "m@example.com", "createdAt": "2026-12-07T12:00:00.000Z",
            "updatedAt": "2026-12-07T12:00:00.000Z", "dueDate": None, "priority": 2,
            "availableActions": [{"action": "completed"}], "allocation": "distribution",
            "singleClass": True, "allowNextOnlyOnDone": False, "totalItems": 4, "batchSize": None,
            "maxBatchWorkload": None, "allowedAssignees": None} | over


def test_task_and_assignment_answers_fit_their_declarations() -> None:
    from gateway.controllers.tasks import assignment_json, render_pull, render_status, render_task
    from shared.rules.progress import task_view

    counts = {("a1", "completed"): 1, ("a1", "discard"): 1}
    view = task_view(stored_task(), ["a1"], counts)
    fits(answers.Task, view)
    fits(answers.Task, view | {"queue": {"remaining": 3}})
    fits(answers.TaskChange, render_task(SimpleNamespace(task=view, summary={"notRemoved": 1})))
    assignment = {"_id": "a1", "taskId": "t1", "annotator": "ann@example.com", "itemIds": ["i1", "i2"]}
    fits(answers.Assignment, assignment_json(assignment, counts))
    fits(answers.Pulled, render_pull(SimpleNamespace(assignment_id="a1", item_ids=["i1"], open_items=1)))
    fits(answers.ItemStatusSet, render_status(SimpleNamespace(
        task_id="t1", item_id="i1", assignment_id="a1", status="completed", previous=None)))


def test_item_annotation_and_page_answers_fit_their_declarations() -> None:
    from gateway.controllers.common import paged
    from gateway.exports import item_export, item_json, public_annotation

    item = {"id": "i1", "datasetId": "d1", "createdAt": "2026-12-07T12:00:00.000Z", "dir": "/",
            "filename": "/a.jpg", "name": "a.jpg", "creator": "m@example.com",
            "metadata": {"system": {"mimetype": "image/jpeg", "refs": [], "taskStatusLog": []}, "user": {}}}
    annotation = {"_id": "x", "id": "x", "type": "class", "label": "cat", "attributes": [],
                  "metadata": {"system": {}, "user": {}}, "creator": "m@example.com",
                  "createdAt": "2026-12-07T12:00:00.000Z", "updatedBy": "m@example.com",
                  "updatedAt": "2026-12-07T12:00:00.000Z", "itemId": "i1", "datasetId": "d1",
                  "url": f"{API}/annotations/x", "item": f"{API}/items/i1", "dataset": f"{API}/datasets/d1",
                  "source": "ui", "labelSuggestions": {}, "hash": "h"}
    fits(answers.Item, item_json(item, API))
    fits(answers.Paged[answers.Item], paged([item_json(item, API)], 1, 0, 100))
    public = public_annotation(annotation)
    fits(answers.Annotation, public)
    fits(answers.Classified, public | {"nextItem": None, "workflow": {"operationId": "o1", "status": "pending"}})
    fits(answers.ItemWithAnnotations, item_export(item, [annotation], API))


def test_account_token_and_link_answers_fit_their_declarations() -> None:
    from gateway.controllers.accounts import user_json
    from gateway.controllers.tokens import token_json
    from gateway.links import link_json

    fits(answers.SignedIn, user_json({"id": "u1", "email": "ann@example.com"}))
    token = {"tokenId": "k1", "name": "default", "scopes": ["read"], "createdAt": NOW}
    fits(answers.Token, token_json(token))
    fits(answers.NewToken, token_json(token) | {"token": "secret"})
    link = {"linkId": "l1", "email": "ann@example.com", "userId": "u1", "role": "annotator",
            "createdAt": NOW, "expiresAt": NOW}
    fits(answers.PendingLink, link_json(link))
    fits(answers.PendingLink, link_json(link, "http://testserver/invitations/s"))


def test_job_and_dtlpy_answers_fit_their_declarations() -> None:
    from gateway.controllers.exports import export_json
    from gateway.controllers.imports import job_json
    from gateway.dtlpy_compat import dataset_json, project_json
    from gateway.dtlpy_compat import user_json as dtlpy_user

    export = {"_id": "e1", "datasetId": "d1", "projectId": "p1", "format": "zip", "status": "completed",
              "processed": 4, "total": 4, "creator": "m@example.com", "fileId": "f1",
              "createdAt": "2026-12-07T12:00:00.000Z", "updatedAt": "2026-12-07T12:00:00.000Z",
              "owner": "g1", "leaseUntil": NOW}
    fits(answers.ExportJob, export_json(export, API))
    job = {"_id": "j1", "datasetId": "d1", "projectId": "p1", "file": "a.csv", "creator": "m@example.com",
           "status": "running", "total": None, "processed": 0, "createdAt": "2026-12-07T12:00:00.000Z",
           "updatedAt": "2026-12-07T12:00:00.000Z", "fileId": "f1", "actor": {}, "taskId": None,
           "owner": "g1", "leaseUntil": NOW}
    fits(answers.ImportJob, job_json(job, API))
    fits(answers.DtlpyUser, dtlpy_user("u1", "ann@example.com"))
    fits(answers.DtlpyProject, project_json({"id": "p1", "name": "P", "createdAt": "x", "creator": "m"}))
    fits(answers.DtlpyDataset, dataset_json({"id": "d1", "name": "D", "projectId": "p1", "recipeId": "r1"}, API))



def test_bulk_answers_fit_their_declarations() -> None:
    from gateway.controllers.bulk import bulk_view, render_completed, render_preview, render_undone

    fits(answers.BulkClassified, render_completed(SimpleNamespace(
        bulk_id="b1", task_id="t1", total=3, classified=2, unchanged=1, replaced=1,
        statuses={"status": "completed", "changed": 3}), API))
    fits(answers.BulkPreview, render_preview(SimpleNamespace(
        total=3, would_change=2, already_classified=1, status_overwritten=1,
        held_by_others={"items": ["i3"], "count": 1}, statuses_before={"none": 2})))
    fits(answers.BulkUndone, render_undone(SimpleNamespace(
        bulk_id="b1", removed=2, restored=1, conflicts={"items": ["i2"], "count": 1},
        statuses={"restored": 2, "conflicts": {"items": [], "count": 0}})))
    record = {"_id": "b1", "taskId": "t1", "label": "cat", "mode": "classify-and-set-status",
              "status": "completed", "items": [["i1", "a1"], ["i2", "a1"], ["i3", "a2"]],
              "statusChanges": [["i1", "a1", None, True], ["i3", "a2", "discard", True]]}
    classes = {"state": "completed", "done": 3, "unchanged": ["i2"], "replaced": {"i1": ["x1"]}}
    running = bulk_view(record | {"status": None}, {"done": 1}, API, 0, 1000)
    fits(answers.BulkProgress, running)
    assert "outcomes" not in running
    done = bulk_view(record, classes, API, 0, 2)
    fits(answers.BulkProgress, done)
    assert {row["class"] for row in done["outcomes"]["items"]} == {"added", "unchanged"}
    undo = {"conflicts": ["i3"], "restore": [], "at": "2026-12-07T12:00:00.000Z"}
    fits(answers.BulkProgress, bulk_view(record | {"undo": undo}, classes | {
        "state": "undone", "undo": {"items": ["i1"], "conflicts": ["i2"]}}, API, 1, 2))


async def test_a_bulk_not_started_fits_its_declaration() -> None:
    from gateway.controllers.bulk import BulkController

    class Catalog:
        def __init__(self, stored: Any) -> None:
            self.stored = stored

        async def operation(self, _id: str) -> Any:
            return self.stored

    class Bus:
        def __init__(self, pending: Any) -> None:
            self._pending = pending

        async def pending(self, _id: str) -> Any:
            return self._pending

        def parse_outcome(self, event: Any) -> Any:
            return SimpleNamespace(**event)

    refused = {"projectId": "p1", "status": "rejected", "commandType": "BulkClassify",
               "event": {"reason": "conflict", "message": "held by others", "details": {"count": 1}}}
    fits(answers.BulkNotStarted, await BulkController._not_started(
        Catalog(refused), Bus(None), API, "p1", "t1", "b1"))
    fits(answers.BulkNotStarted, await BulkController._not_started(
        Catalog(None), Bus({"commandType": "BulkClassify", "projectId": "p1"}), API, "p1", "t1", "b1"))


# --- the workflow answers (gateway.moves, gateway.controllers.workflow) -----------------------

ITEM = {"id": "i2", "datasetId": "d1", "createdAt": "2026-12-07T12:00:00.000Z", "dir": "/",
        "filename": "/b.jpg", "name": "b.jpg", "creator": "m@example.com",
        "metadata": {"system": {"mimetype": "image/jpeg", "refs": [], "taskStatusLog": []}, "user": {}}}


def _moves() -> Any:
    """Moves over an access that sees ITEM only, and a publisher that keeps what it sends."""
    from litestar.exceptions import NotFoundException

    from gateway.moves import Moves

    class Access:
        async def item(self, _user: Any, item_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
            if item_id != ITEM["id"]:
                raise NotFoundException(item_id)
            return ITEM, {}

    class Publisher:
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def publish(self, _body: Any, correlation_id: str) -> None:
            self.sent.append(correlation_id)

    return Moves(None, None, Access(), API, Publisher())  # type: ignore[arg-type]


def _snapshot(**settings: str) -> Any:
    from gateway.workflow_reads import Snapshot

    return Snapshot(meta={"projectId": "p1", "allocation": "pull", "singleClass": "1"},
                    state={"assignment": "a1", "current": "i1", "next": "i2"},
                    settings={"autoNext": "1", "autoComplete": "1"} | settings, open_items=2)


def _moved(**over: Any) -> Any:
    from shared.contracts.envelope import Actor
    from shared.contracts.workflow import MovedOn

    return MovedOn(actor=Actor(user_id="u1", email="ann@example.com"), task_id="t1", project_id="p1",
                   assignment_id="a1", annotator="ann@example.com", from_item_id="i1", item_id="i2",
                   next_item_id="i3", completed_item_id="i1", open_items=2).model_copy(update=over)


def test_queue_answers_fit_their_declarations() -> None:
    snap = _snapshot()
    fits(answers.QueueView, snap.view())
    fits(answers.QueueSnapshot, {"taskId": "t1", **snap.view()})  # the feed's snapshot event
    fits(answers.NextItemLook, {"taskId": "t1", **snap.view(), "nextItem": item_json_of(ITEM)})
    unseeded = type(snap)(meta={}, state={}, settings={}, open_items=0)
    fits(answers.NextItemLook, {"taskId": "t1", **unseeded.view(), "nextItem": None})


def item_json_of(item: dict[str, Any]) -> dict[str, Any]:
    from gateway.exports import item_json

    return item_json(item, API)


async def test_move_answers_fit_their_declarations() -> None:
    from shared.contracts.envelope import Actor
    from shared.contracts.events import CommandRejected

    moves, user = _moves(), SimpleNamespace(email="ann@example.com")
    fits(answers.Moved, await moves.moved_view(user, _moved()))
    fits(answers.Moved, await moves.moved_view(user, _moved(item_id="gone", from_item_id=None)))
    fits(answers.Moved, await moves.moved_view(user, _moved(item_id=None, next_item_id=None,
                                                            completed_item_id=None, open_items=0)))
    made = await moves.workflow_part(user, _moved(), "o1")
    fits(answers.WorkflowPart, made)
    fits(answers.MoveMade, made["workflow"])
    refused = await moves.workflow_part(user, CommandRejected(
        actor=Actor(user_id="u1", email="ann@example.com"), command_type="MoveOn", reason="conflict",
        message="nothing open", correlation_id="o1"), "o1")
    fits(answers.WorkflowPart, refused)
    fits(answers.MoveRefused, refused["workflow"])
    pending = await moves.workflow_part(user, None, "o1")
    fits(answers.WorkflowPart, pending)
    fits(answers.MovePending, pending["workflow"])


async def test_a_classification_moving_on_at_once_fits_its_declaration() -> None:
    from litestar import Response

    from gateway.auth import Principal
    from gateway.dispatch import OPERATION

    moves, user = _moves(), Principal(user_id="u1", email="ann@example.com", token_id="k1")
    snap = _snapshot(movesFreely="1")

    async def ahead() -> Any:
        return snap, item_json_of(ITEM)

    classified = {"id": "x", "type": "class", "label": "cat", "attributes": [],
                  "metadata": {"system": {}, "user": {}}, "creator": "ann@example.com",
                  "createdAt": "2026-12-07T12:00:00.000Z", "updatedBy": "ann@example.com",
                  "updatedAt": "2026-12-07T12:00:00.000Z", "itemId": "i1", "datasetId": "d1"}
    answer = await moves.with_next_item(user, "t1", "i1", Response(
        classified, status_code=201, headers={OPERATION: "c1"}), "annotator", ahead())
    assert answer.status_code == 201 and moves.publisher.sent  # answered from the read model
    fits(answers.Classified, answer.content)
    fits(answers.MoveShown, answer.content["workflow"])


def test_the_other_workflow_answers_fit_their_declarations() -> None:
    fits(answers.SteppedBackTo, {"taskId": "t1", "assignmentId": "a1", "item": {"id": "i0"},
                                 "itemId": "i0", "nextItemId": "i1", "openItems": 3})
    from gateway.controllers.workflow import render_left, render_renewed, render_settings
    from shared.contracts.envelope import Actor
    from shared.contracts.workflow import LeasesRenewed, LeftTask, WorkflowSettingsChanged

    fact = {"actor": Actor(user_id="u1", email="ann@example.com"), "task_id": "t1", "project_id": "p1",
            "assignment_id": "a1", "annotator": "ann@example.com"}
    fits(answers.WorkflowSettingsSet, render_settings(WorkflowSettingsChanged(
        **fact, auto_next=True, auto_complete=False)))
    for expires in (NOW, None):
        fits(answers.LeasesRenewedAnswer, render_renewed(LeasesRenewed(**fact, item_ids=["i1"],
                                                                       expires_at=expires)))
        fits(answers.TaskLeft, render_left(LeftTask(**fact, returning_item_ids=["i2"], held_item_ids=["i1"],
                                                    held_until=expires)))


async def test_the_queue_state_fits_its_declaration() -> None:
    from gateway.workflow_reads import WorkflowReads
    from shared.contracts.read_model import ReadModel

    class Pipeline:
        """Answers each pipeline with the next scripted results, whatever was asked."""

        def __init__(self, results: list[list[Any]]) -> None:
            self.results = results

        async def __aenter__(self) -> Any:
            return self

        async def __aexit__(self, *_: object) -> None:
            return None

        def __getattr__(self, _name: str) -> Any:
            return lambda *_a, **_k: None

        async def execute(self) -> list[Any]:
            return self.results.pop(0)

    def reads(pulling: bool) -> Any:
        meta = {b"projectId": b"p1", b"allocation": b"pull" if pulling else b"distribution"}
        if pulling:
            meta |= {b"leaseTtlMs": b"600000", b"heartbeatEveryMs": b"60000"}
        script = [[meta, {b"assignment": b"a1", b"current": b"i1", b"next": b"i2"}, {b"autoNext": b"1"}, 2],
                  [[b"i1", b"i2"], [b"i0"], [(b"i1", 1_796_000_000_000.0)] if pulling else [],
                   {b"i1"}, {b"i3": b"ann@example.com", b"i4": b"other@example.com"}]]
        wf = object.__new__(WorkflowReads)
        wf.rm, wf.redis = ReadModel("test"), SimpleNamespace(pipeline=lambda **_: Pipeline(script))
        return wf

    for pulling in (True, False):
        state = await reads(pulling).queue_state("t1", "ann@example.com")
        fits(answers.QueueState, state)
        assert bool(state["leases"]) is pulling
