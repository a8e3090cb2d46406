"""Every endpoint, tried as every kind of caller, answers exactly the status written here.

The routes come from the app itself (`app.routes`), so a new endpoint without a line in
`CASES` fails this test (and one without a rule in gateway.roles stops the app earlier).
Columns: owner, manager, annotator, a user of another project. A read-only token of the
owner reads like the owner and gets 403 on every write; a revoked token and no token get
401; public endpoints answer everyone alike. The owner's browser session (cookie and CSRF
token, a fresh session for each request) answers exactly as the owner's token; without the
CSRF token it reads alike and gets 403 on every write; an ended session gets 401.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.middleware.csrf import generate_csrf_token

from gateway.app import create_app
from tests.e2e.world import EMAILS, POLO, World, png, unique
from tests.platform import RECIPE

pytestmark = pytest.mark.e2e

ACTORS = ("owner", "manager", "annotator", "stranger", "read-only", "revoked", "no token",
          "session", "session without CSRF", "ended session")
Fresh = Callable[[World], Awaitable[dict[str, str]]]
PASSWORD = "a long enough password"


@dataclass(frozen=True)
class Case:
    codes: str  # owner manager annotator stranger
    json: Any = None  # a body, or a function of the request's ids
    fresh: Fresh | None = None  # ids made anew for each caller (the request uses them up)
    files: bool = False
    csv_file: bool = False  # an import: a CSV classifying the world's item
    public: bool = False
    query: dict[str, Any] | None = None
    page: bool = False  # a studio page: 200 in a live browser session, else 303 to /sign-in
    post_read: bool = False  # a read sent as POST (dtlpy's queries): read-only tokens may

    def expect(self, actor: str, method: str) -> int:
        if self.page:
            return 200 if actor in ("session", "session without CSRF") else 303
        codes = dict(zip(ACTORS, map(int, self.codes.split()), strict=False))
        if self.public:
            return codes["owner"]
        if actor in ("revoked", "no token", "ended session"):
            return 401
        if actor == "session":
            return codes["owner"]
        if actor == "read-only" and self.post_read:
            return codes["owner"]
        if actor in ("read-only", "session without CSRF"):
            return codes["owner"] if method == "GET" else 403
        return codes[actor]


def case(codes: str, **kw: Any) -> Case:
    return Case(codes, **kw)


READ = case("200 200 200 404")
ANYONE = case("200 200 200 200")
PUBLIC = case("200", public=True)


async def _owner_token(w: World) -> dict[str, str]:
    return {"token_id": await w.owner_token()}


async def _member(w: World) -> dict[str, str]:
    return {"user_id": await w.member()}


async def _invitation(w: World) -> dict[str, str]:
    made = await w.ok("POST", f"/api/v1/projects/{w.ids['project_id']}/members",
                      json={"email": unique("invited") + "@example.com", "role": "annotator"})
    return {"invitation_id": made["invitation"]["id"]}


async def _annotation(w: World) -> dict[str, str]:
    return {"annotation_id": await w.annotation()}


async def _new_item(w: World) -> dict[str, str]:
    return {"new_item": await w.item()}


async def _item_in_task(w: World) -> dict[str, str]:
    item = await w.item()
    await w.ok("POST", f"/api/v1/tasks/{w.ids['task_id']}/items", json={"itemIds": [item]})
    return {"new_item": item}


async def _pulling(w: World) -> dict[str, str]:
    return {"task_id": w.ids["pulling_task"]}


async def _assignment(w: World) -> dict[str, str]:
    task = await w.task()
    rows = await w.ok("GET", f"/api/v1/tasks/{task}/assignments")
    return {"assignment_id": rows[0]["id"]}


async def _video(w: World) -> dict[str, str]:
    return {"item_id": await w.video(), "frame": "12"}


async def _scene(w: World) -> dict[str, str]:
    return {"annotation_id": await w.scene(await w.video())}


async def _bulk(w: World) -> dict[str, str]:
    made = await w.ok("POST", f"/api/v1/tasks/{w.ids['task_id']}/bulk-classify",
                      json={"itemIds": [w.ids["item_id"]], "label": POLO})
    return {"bulk_id": made["id"]}


def _bulk_body(ids: dict[str, str]) -> dict[str, Any]:
    return {"itemIds": [ids["item_id"]], "label": POLO}


def _task_body(ids: dict[str, str]) -> dict[str, Any]:
    return {"name": unique("task"), "datasetId": ids["dataset_id"], "itemIds": [ids["item_id"]],
            "assignees": [EMAILS["annotator"]]}


def _import_csv() -> bytes:
    return f'filename,label\n/shirt.png,"{POLO}"\n'.encode()


async def _import(w: World) -> dict[str, str]:
    r = await w.p.client.post(f"/api/v1/datasets/{w.ids['dataset_id']}/import", headers=w.p.auth(),
                              files={"file": ("labels.csv", _import_csv(), "text/csv")})
    assert r.status_code == 202, r.text
    return {"import_id": r.json()["id"]}


async def _export(w: World) -> dict[str, str]:
    """An export job of the world's dataset, finished (its feed ends, its file is there)."""
    job = await w.ok("POST", f"/api/v1/datasets/{w.ids['dataset_id']}/exports", json={"format": "json"})
    while job["status"] == "running":
        job = await w.ok("GET", job["url"].removeprefix("http://testserver"))
    return {"export_id": job["id"]}


async def _project_name(w: World) -> dict[str, str]:
    return {"project_name": (await w.ok("GET", f"/api/v1/projects/{w.ids['project_id']}"))["name"]}


def _dtlpy_query(resource: str, codes: str = "200 200 200 404") -> Case:
    return case(codes, json={"filter": {"$and": []}, "resource": resource}, post_read=True)


CASES: dict[str, Case] = {
    "me": ANYONE,
    "create_token": case("201 201 201 201", json={"name": "ci"}),
    "list_tokens": ANYONE,
    "revoke_token": case("204 404 404 404", fresh=_owner_token),
    "get_operation": case("200 404 404 404"),
    "get_keymap": ANYONE,
    "save_keymap": case("200 200 200 200", json={"bindings": {"next": "n", "label:1": "1"}}),
    "get_preferences": ANYONE,
    "save_preferences": case("200 200 200 200", json={"thumbnailSize": 96, "pageSize": 25}),
    "sign_in": case("401", public=True, json=lambda ids: {"email": unique("nobody") + "@example.com",
                                                         "password": "not it"}),
    "sign_out": case("204 204 204 204"),
    "sign_out_everywhere": case("204 204 204 204"),
    # the same password again: the first call sets it, later ones change it to itself
    "change_password": case("204 204 204 204", json={"currentPassword": PASSWORD, "password": PASSWORD}),
    "invitation": case("404", public=True),
    "accept_invitation": case("404", public=True, json={"displayName": "x", "password": PASSWORD}),
    "reset_password": case("404", public=True, json={"password": PASSWORD}),
    "use_sign_in_link": case("404", public=True),
    "sign_in_page": PUBLIC,
    "invitation_page": case("404", public=True),
    "password_reset_page": case("404", public=True),
    "sign_in_link_page": case("404", public=True),
    "home_page": case("", page=True),
    "studio_page": case("", page=True),  # the page is a shell: its module asks the API
    "studio_static": case("404", public=True),  # /studio/static/nothing: no such file
    "create_organization": case("201 201 201 201", json={"name": "another org"}),
    "list_organizations": ANYONE,
    "get_organization": READ,
    "list_organization_projects": READ,
    "create_project": case("201 201 201 201", json={"name": "another"}),
    "list_projects": ANYONE,
    "get_project": READ,
    "list_members": READ,
    "add_member": case("201 403 403 404", json=lambda ids: {"email": unique("m") + "@example.com",
                                                             "role": "annotator"}),
    "change_member_role": case("200 403 403 404", json={"role": "manager"}, fresh=_member),
    "remove_member": case("204 403 403 404", fresh=_member),
    "list_invitations": case("200 403 403 404"),
    "reissue_invitation": case("201 403 403 404", fresh=_invitation),
    "revoke_invitation": case("204 403 403 404", fresh=_invitation),
    "issue_password_reset": case("201 403 403 404", fresh=_member),
    "project_audit": case("200 200 403 404"),
    "create_recipe": case("201 201 403 404", json=RECIPE),
    "list_recipes": READ,
    "get_recipe": READ,
    "recipe_label_usage": case("200 200 403 404"),
    "replace_ontology": case("200 200 403 404", json=RECIPE["ontology"]),
    "create_dataset": case("201 201 403 404", json={"name": "more"}),
    "list_datasets": READ,
    "get_dataset": READ,
    "update_dataset": case("200 200 403 404", json={"name": "renamed"}),
    "export_dataset": case("200 200 403 404"),
    "import_dataset": case("202 202 403 404", csv_file=True),
    "get_import": case("200 200 403 404", fresh=_import),
    "import_feed": case("200 200 403 404", fresh=_import),
    "create_dataset_export": case("202 202 403 404", json={"format": "csv"}, post_read=True),
    "create_task_export": case("202 202 403 404", json={"format": "csv"}, post_read=True),
    "get_export": case("200 200 403 404", fresh=_export),
    "export_feed": case("200 200 403 404", fresh=_export),
    "export_file": case("200 200 403 404", fresh=_export),
    "export_task": case("200 200 403 404"),
    "register_item": case("201 201 403 404", json={"name": "a.jpg", "url": "http://example.com/a.jpg",
                                                   "mimetype": "image/jpeg"}),
    "upload_item": case("201 201 403 404", files=True),
    "list_items": READ,
    "get_item": READ,
    "item_content": READ,
    "item_thumbnail": READ,
    "item_annotations": READ,
    "classify": case("201 201 403 404", json={"label": POLO}),
    "get_annotation": READ,
    "update_annotation": case("200 200 403 404", json={"label": "men's clothes.jeans"}, fresh=_annotation),
    "delete_annotation": case("204 204 403 404", fresh=_annotation),
    "create_task": case("201 201 403 404", json=_task_body),
    "list_tasks": READ,
    "get_task": READ,
    "edit_task": case("200 200 403 404", json={"name": "renamed"}),
    "add_items": case("200 200 403 404", json=lambda ids: {"itemIds": [ids["new_item"]]}, fresh=_new_item),
    "remove_items": case("200 200 403 404", json=lambda ids: {"itemIds": [ids["new_item"]]},
                         fresh=_item_in_task),
    "list_assignments": READ,
    "pull": case("200 200 200 404", fresh=_pulling),
    "set_status": case("200 200 200 404", json={"status": "completed"}),
    "clear_status": READ,
    "get_assignment": READ,
    "assignment_items": READ,
    "task_items": READ,
    "task_item_ids": READ,
    "redistribute": case("200 200 403 404", fresh=_assignment,
                         json={"workload": [{"assigneeId": EMAILS["manager"], "load": 100}]}),
    "reassign": case("200 200 403 404", fresh=_assignment, json={"annotator": EMAILS["manager"]}),
    "bulk_classify": case("200 200 200 404", json=_bulk_body),
    "preview_bulk_classify": case("200 200 200 404", json=_bulk_body),
    "get_bulk": case("200 200 200 404", fresh=_bulk),
    "undo_bulk": case("200 200 403 404", fresh=_bulk),
    # scene work without taskId: manager work (annotators in their own task: test_scene_access.py)
    "start_scene": case("201 201 403 404", fresh=_video, json={"label": POLO, "frame": 5}),
    "paint_scenes": case("201 201 403 404", fresh=_video,
                         json={"switches": [{"frame": 0, "label": POLO}, {"frame": 20, "label": None}]}),
    "change_scene": case("200 200 403 404", fresh=_scene, json={"endFrame": 50}),
    "hide_frames": case("200 200 403 404", fresh=_scene, json={"from": 20, "to": 30}),
    "unhide_frames": case("200 200 403 404", fresh=_scene, json={"from": 20, "to": 30}),
    "delete_scene": case("204 204 403 404", fresh=_scene),
    "frame_state": case("200 200 200 404", fresh=_video),
    "next_item": READ,
    # a member without an assignment in the task has no queue to move in: 404
    "move_on": case("404 404 200 404"),
    "previous_item": case("404 404 409 404"),  # the annotator has no earlier item yet
    "workflow_settings": READ,
    "change_workflow_settings": case("404 404 200 404", json={"autoNext": False}),
    "queue_state": READ,
    "heartbeat": case("404 404 200 404"),
    "leave_task": case("404 404 200 404"),
    "workflow_feed": case("200 200 200 404", query={"maxEvents": 1, "seconds": 1}),
    # every annotator's work in the task, for its managers only
    "task_activity": case("200 200 403 404", query={"maxEvents": 1, "seconds": 1}),
    # Dataloop's SDK (gateway.controllers.dtlpy): as the native routes
    "dtlpy_me": ANYONE,
    "dtlpy_project_by_name": case("200 200 200 404", fresh=_project_name),
    "dtlpy_project": READ,
    "dtlpy_datasets": _dtlpy_query("datasets", "200 200 200 200"),  # a stranger's: none
    "dtlpy_dataset": READ,
    "dtlpy_query": _dtlpy_query("items"),
    "dtlpy_item": READ,
    "dtlpy_upload": case("201 201 403 404", json=[{"type": "class", "label": POLO}]),
    "dtlpy_tasks": _dtlpy_query("tasks", "200 200 200 200"),
    "dtlpy_task": READ,
    "dtlpy_task_status": case("200 200 200 404", json=lambda ids: {
        "itemIds": [ids["item_id"]], "statusPayload": {"operation": "create", "status": "completed"}}),
    "dtlpy_assignment_status": case("200 200 200 404", json={"operation": "create", "status": "completed"}),
    "live": PUBLIC,
    "ready": PUBLIC,
    "asyncapi": PUBLIC,
    "metrics": PUBLIC,  # Prometheus: counts and timings, no data (gateway.observability)
    "vendor_file": case("404", public=True),  # /static/vendor/nothing: no such file
    # single sign-on is off in this platform (no OIDC_ISSUER); on: tests/e2e/test_oidc.py
    "oidc_login": case("404", public=True),
    "oidc_callback": case("404", public=True),
}
DOCS = {"/schema/{path:str}": case("404", public=True)}  # every other /schema page: 200
OPTIONS = case("204", public=True)  # CORS preflight, answered without a token


def routes(app) -> list[tuple[str, str, str]]:
    found = []
    for route in app.routes:
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods):
                # the rule's name, as gateway.guards finds it (a static files router names it in opt)
                found.append((method, route.path, handler.opt.get("permission") or handler.handler_name))
    return found


def case_of(method: str, path: str, name: str) -> Case | None:
    if method == "OPTIONS":
        return OPTIONS
    if path == "/schema" or path.startswith("/schema/"):
        return DOCS.get(path, PUBLIC)
    return CASES.get(name)


def test_every_route_has_a_line_in_the_matrix(settings):
    missing = [f"{m} {p} ({n})" for m, p, n in routes(create_app(settings)) if case_of(m, p, n) is None]
    assert not missing, f"add these endpoints to CASES: {missing}"


def _url(path: str, ids: dict[str, str]) -> str:
    def value(m: re.Match) -> str:
        return ids.get(m.group(1), "0" if m.group(2) == "int" else "nothing")

    return re.sub(r"{(\w+):(\w+)}", value, path)


async def _credentials(w: World, actor: str) -> dict[str, str]:
    if not actor.endswith("session") and "session" not in actor:
        token = w.tokens[actor]
        return {"Authorization": f"Bearer {token}"} if token else {}
    gw = w.p.gateway
    owner = await gw.catalog.ensure_user("owner@example.com")
    cookie, _ = await gw.sessions.create(owner, "password")
    if actor == "ended session":
        await gw.sessions.end(cookie, owner["id"])
    csrf = generate_csrf_token(gw.sessions.secret)
    headers = {"Cookie": f"clf_session={cookie}; clf_csrf={csrf}"}
    return headers | ({"X-CSRF-Token": csrf} if actor == "session" else {})


async def _send(w: World, method: str, path: str, actor: str, c: Case) -> Any:
    ids = w.ids | (await c.fresh(w) if c.fresh else {})
    kw: dict[str, Any] = {}
    if c.files:
        kw["files"] = {"file": (unique("up") + ".png", png(), "image/png")}
    elif c.csv_file:
        kw["files"] = {"file": ("labels.csv", _import_csv(), "text/csv")}
    elif c.json is not None:
        kw["json"] = c.json(ids) if callable(c.json) else c.json
    headers = await _credentials(w, actor)
    return await w.p.client.request(method, _url(path, ids), headers=headers, params=c.query, **kw)


async def test_every_endpoint_answers_each_kind_of_caller_with_the_exact_status(platform):
    w = await World(platform).build()
    wrong = []
    for method, path, name in routes(platform.app):
        c = case_of(method, path, name)
        assert c is not None, f"{method} {path} ({name}) is not in the matrix"
        for actor in ACTORS:
            r = await _send(w, method, path, actor, c)
            if r.status_code != c.expect(actor, method):
                wrong.append(f"{method} {path} as {actor}: {r.status_code}, expected "
                             f"{c.expect(actor, method)} ({r.text[:160]})")
    assert not wrong, "\n".join(wrong)
