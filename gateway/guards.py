"""The one guard every route runs: it applies the handler's rule from gateway.roles.

The project a request acts in is found from the path: the first of `RESOLVERS`' parameter
names present (the id of an annotation, assignment, task, item, dataset, recipe or
project). Order of the answers: 401 (no or bad token, in gateway.auth), 404 (not a
member: ids do not leak), 403 (a read-only token writing, or a role below the rule's). The outcome is left on the
request as a `Grant`, which handlers read for the role to put in a command's actor.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    ImproperlyConfiguredException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.handlers import BaseRouteHandler

from gateway.auth import Principal
from gateway.dispatch import Replayed, replayed
from gateway.roles import PUBLIC, RULES, Rule, at_least, highest

Memberships = list[tuple[dict[str, Any], str]]


async def _of_project(gw: Any, user: Principal, project_id: str) -> Memberships:
    project = await gw.access.project(user, project_id)
    return [(project, gw.access.role_of(user, project))]


async def _of_dataset(gw: Any, user: Principal, dataset_id: str) -> Memberships:
    return await _of_project(gw, user, (await gw.access.dataset(user, dataset_id))["projectId"])


async def _of_item(gw: Any, user: Principal, item_id: str) -> Memberships:
    _, dataset = await gw.access.item(user, item_id)
    return await _of_project(gw, user, dataset["projectId"])


async def _of_annotation(gw: Any, user: Principal, annotation_id: str) -> Memberships:
    _, dataset = await gw.access.annotation(user, annotation_id)
    return await _of_project(gw, user, dataset["projectId"])


async def _of_recipe(gw: Any, user: Principal, recipe_id: str) -> Memberships:
    return await gw.access.recipe_projects(user, await gw.access.recipe(user, recipe_id))


async def _of_task(gw: Any, user: Principal, task_id: str) -> Memberships:
    task = await gw.tasks.task(task_id)
    try:
        if task is None:
            raise NotFoundException
        return await _of_project(gw, user, task["projectId"])
    except NotFoundException:
        raise NotFoundException(f"no task {task_id}") from None


async def _of_assignment(gw: Any, user: Principal, assignment_id: str) -> Memberships:
    assignment = await gw.tasks.assignment(assignment_id)
    try:
        if assignment is None:
            raise NotFoundException
        return await _of_task(gw, user, assignment["taskId"])
    except NotFoundException:
        raise NotFoundException(f"no assignment {assignment_id}") from None


Resolver = Callable[[Any, Principal, str], Awaitable[Memberships]]
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
    rule: Rule
    project_id: str | None = None
    role: str | None = None
    resource: tuple[str, str] | None = None


def rule_for(handler: BaseRouteHandler, path: str, docs_path: str) -> Rule | None:
    if path == docs_path or path.startswith(docs_path + "/"):
        return PUBLIC  # the OpenAPI documents and viewers
    return RULES.get(handler.opt.get("permission") or handler.handler_name)


def _docs_path(app: Litestar) -> str:
    return (app.openapi_config.path if app.openapi_config else None) or "/schema"


def grant_of(request: Request) -> Grant | None:
    return getattr(request.state, "grant", None)


def role_here(request: Request) -> str | None:
    """The caller's role in the project of this request (for the actor of a command)."""
    grant = grant_of(request)
    return grant.role if grant else None


def _resource(params: dict[str, Any]) -> tuple[str, str] | None:
    name = next((p for p in RESOURCE_PARAMS if p in params), None)
    return (name.removesuffix("_id"), str(params[name])) if name else None


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
        try:
            memberships = await RESOLVERS[name](app.state.gw, user, params[name])
        except NotFoundException:
            # gone: by this very request (a DELETE), repeated with its Idempotency-Key?
            if connection.scope["method"] == "DELETE" and \
                    (again := await replayed(connection, params[name], 204)) is not None:
                raise Replayed(again) from None
            raise
        role = highest([r for _, r in memberships])
        project = next(p for p, r in memberships if r == role)
        grant = Grant(rule, project["id"], role, grant.resource)
    if rule.writes and "write" not in user.scopes:
        raise PermissionDeniedException("this token is read-only: writing needs a token with "
                                        "the 'write' scope")
    if rule.role is not None and not at_least(grant.role, rule.role):
        raise PermissionDeniedException(
            f"this needs the {rule.role} role in project {grant.project_id}; you are {grant.role}")
    connection.state.grant = grant


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
