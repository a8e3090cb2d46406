"""The one guard every route runs: it applies the handler's rule from gateway.roles.

The project a request acts in is found from the path: the first of `RESOLVERS`' parameter
names present (the id of an annotation, assignment, task, item, dataset, recipe or
project). Order of the answers: 401 (no or bad token, in gateway.auth), 404 (not a
member: ids do not leak), 403 (a read-only token writing, or a role below the rule's).

What the guard looked up is looked up once per request: the outcome is left on the request
as a `Grant` (the caller's role, its project, and the documents the path named), which
handlers receive as their `grant` dependency (gateway.dependencies) instead of reading the
resource and the membership again.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    ImproperlyConfiguredException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.handlers import BaseRouteHandler

from gateway.auth import Principal
from gateway.dispatch import Replayed
from gateway.roles import PUBLIC, RULES, Rule, at_least, highest

if TYPE_CHECKING:
    from gateway.container import Gateway

Doc = dict[str, Any]
Memberships = list[tuple[Doc, str]]


@dataclass(frozen=True)
class Lookup:
    """One request's reads for the guard: the adapters, the caller, and what was found."""

    gw: Gateway
    user: Principal
    found: dict[str, Doc] = field(default_factory=dict)

    async def member(self, project_id: str, missing: str) -> Memberships:
        """The caller's one membership lookup for this request; 404 (`missing`) without one."""
        membership = await self.gw.access.membership(self.user, project_id)
        if membership is None:
            raise NotFoundException(missing)
        self.found["project"] = membership[0]
        return [membership]

    def keep(self, name: str, doc: Doc | None, missing: str) -> Doc:
        if doc is None:
            raise NotFoundException(missing)
        self.found[name] = doc
        return doc


async def _of_project(look: Lookup, project_id: str) -> Memberships:
    return await look.member(project_id, f"no project {project_id}")


async def _of_dataset(look: Lookup, dataset_id: str, missing: str | None = None) -> Memberships:
    missing = missing or f"no dataset {dataset_id}"
    dataset = look.keep("dataset", await look.gw.access.cached("datasets", dataset_id), missing)
    return await look.member(dataset["projectId"], missing)


async def _of_item(look: Lookup, item_id: str, missing: str | None = None) -> Memberships:
    missing = missing or f"no item {item_id}"
    item = look.keep("item", await look.gw.access.cached("items", item_id), missing)
    return await _of_dataset(look, item["datasetId"], missing)


async def _of_annotation(look: Lookup, annotation_id: str) -> Memberships:
    missing = f"no annotation {annotation_id}"
    annotation = look.keep("annotation", await look.gw.catalog.annotation(annotation_id), missing)
    return await _of_item(look, annotation["itemId"], missing)


async def _of_recipe(look: Lookup, recipe_id: str) -> Memberships:
    missing = f"no recipe {recipe_id}"
    recipe = look.keep("recipe", await look.gw.access.cached("recipes", recipe_id), missing)
    memberships = await look.gw.access.recipe_projects(look.user, recipe)
    if not memberships:
        raise NotFoundException(missing)
    return memberships


async def _of_task(look: Lookup, task_id: str, missing: str | None = None) -> Memberships:
    missing = missing or f"no task {task_id}"
    task = look.keep("task", await look.gw.tasks.task(task_id), missing)
    return await look.member(task["projectId"], missing)


async def _of_assignment(look: Lookup, assignment_id: str) -> Memberships:
    missing = f"no assignment {assignment_id}"
    assignment = look.keep("assignment", await look.gw.tasks.assignment(assignment_id), missing)
    return await _of_task(look, assignment["taskId"], missing)


Resolver = Callable[[Lookup, str], Awaitable[Memberships]]
# Most specific first. Each raises 404 when the caller is not a member of the owning project.
RESOLVERS: dict[str, Resolver] = {
    "annotation_id": _of_annotation,
    "assignment_id": _of_assignment,
    "task_id": _of_task,
    "item_id": _of_item,
    "dataset_id": _of_dataset,
    "recipe_id": _of_recipe,
    "project_id": _of_project,
}
# What the audit log names as the request's resource, most specific first.
RESOURCE_PARAMS = ("annotation_id", "item_id", "assignment_id", "task_id", "dataset_id",
                   "recipe_id", "user_id", "token_id", "operation_id", "organization_id",
                   "project_id")


@dataclass(frozen=True)
class Grant:
    """The guard's outcome: the rule applied, the caller's role in the request's project,
    and the documents the path named (read once, by the guard)."""

    rule: Rule
    project_id: str | None = None
    role: str | None = None
    resource: tuple[str, str] | None = None
    found: Mapping[str, Doc] = field(default_factory=dict)

    def _doc(self, name: str) -> Doc:
        try:
            return self.found[name]
        except KeyError:
            raise LookupError(f"the guard found no {name} on this path") from None

    @property
    def project(self) -> Doc:
        return self._doc("project")

    @property
    def dataset(self) -> Doc:
        return self._doc("dataset")

    @property
    def item(self) -> Doc:
        return self._doc("item")

    @property
    def annotation(self) -> Doc:
        return self._doc("annotation")

    @property
    def recipe(self) -> Doc:
        return self._doc("recipe")

    @property
    def task(self) -> Doc:
        return self._doc("task")

    @property
    def assignment(self) -> Doc:
        return self._doc("assignment")


def rule_for(handler: BaseRouteHandler, path: str, docs_path: str) -> Rule | None:
    if path == docs_path or path.startswith(docs_path + "/"):
        return PUBLIC  # the OpenAPI documents and viewers
    return RULES.get(handler.opt.get("permission") or handler.handler_name)


def _docs_path(app: Litestar) -> str:
    return (app.openapi_config.path if app.openapi_config else None) or "/schema"


def _resource(params: dict[str, Any]) -> tuple[str, str] | None:
    name = next((p for p in RESOURCE_PARAMS if p in params), None)
    return (name.removesuffix("_id"), str(params[name])) if name else None


Guard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]


def authorizer(gw: Gateway) -> Guard:
    """The guard, reading through the adapters of `gw` (built at start, not yet here)."""

    async def authorize(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        app = connection.app
        rule = rule_for(handler, connection.scope.get("path_template", connection.url.path),
                        _docs_path(app))
        if rule is None:  # check_rules stops this at start-up; deny by default all the same
            raise PermissionDeniedException("this endpoint has no access rule")
        if rule.public:
            return
        user: Principal | None = connection.scope.get("user")
        if user is None:
            raise NotAuthorizedException("send 'Authorization: Bearer <token>'")
        params = connection.path_params
        grant = Grant(rule, resource=_resource(params))
        if rule.role is not None:
            name = next(p for p in RESOLVERS if p in params)
            look = Lookup(gw, user)
            try:
                memberships = await RESOLVERS[name](look, params[name])
            except NotFoundException:
                # gone: by this very request (a DELETE), repeated with its Idempotency-Key?
                if connection.scope["method"] == "DELETE" and \
                        (again := await gw.commands.replayed(connection, params[name], 204)) is not None:
                    raise Replayed(again) from None
                raise
            role = highest([r for _, r in memberships])
            project = next(p for p, r in memberships if r == role)
            grant = Grant(rule, project["id"], role, grant.resource, look.found | {"project": project})
        if rule.writes and "write" not in user.scopes:
            raise PermissionDeniedException("this token is read-only: writing needs a token with "
                                            "the 'write' scope")
        if rule.role is not None and not at_least(grant.role, rule.role):
            raise PermissionDeniedException(
                f"this needs the {rule.role} role in project {grant.project_id}; you are {grant.role}")
        connection.state.grant = grant

    return authorize


_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def check_rules(app: Litestar) -> None:
    """Refuse to start with a route that has no rule, or a project rule on a path that
    names no project resource, or one rule name shared by two handlers."""
    docs = _docs_path(app)
    problems: list[str] = []
    owners: dict[str, Any] = {}
    for route in app.routes:
        params = set(_PARAM.findall(route.path))
        for handler in route.route_handlers:
            where = f"{sorted(getattr(handler, 'http_methods', ()))} {route.path}"
            rule = rule_for(handler, route.path, docs)
            key = handler.opt.get("permission") or handler.handler_name
            if rule is None:
                problems.append(f"{where}: no rule '{key}' in gateway.roles.RULES")
            elif rule.role is not None and not params & set(RESOLVERS):
                problems.append(f"{where}: rule '{key}' needs a project, but the path names none")
            shared = rule is not None and not rule.public and \
                owners.setdefault(key, handler.fn) is not handler.fn
            if shared:
                problems.append(f"{where}: rule name '{key}' is used by two handlers; "
                                "set opt={'permission': ...} on one")
    if problems:
        raise ImproperlyConfiguredException("access rules: " + "; ".join(problems))
