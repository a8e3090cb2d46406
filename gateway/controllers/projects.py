"""Projects: the unit that separates teams; and each project's audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, FromQuery, JSONBody

from gateway.access import Access
from gateway.answers import AuditEntry, Paged, Project
from gateway.audit import AuditLog, in_project
from gateway.controllers.common import Page, PageSize, now_iso, paged
from gateway.guards import Grant
from gateway.limits import within_utc_years
from gateway.repository import Catalog, new_id
from gateway.schemas import ProjectIn


class ProjectController(Controller):
    path = "/api/v1/projects"
    tags = ["projects"]

    @post("/")
    async def create_project(
        self, data: JSONBody[ProjectIn], request: Request, access: NamedDependency[Access],
        catalog: NamedDependency[Catalog],
    ) -> Project:
        """Create a project; the caller is its owner. In an organisation, only its members may."""
        user = request.user
        if data.organization_id:
            org = await access.organization(user, data.organization_id)
            if not any(m["userId"] == user.user_id for m in org["members"]):
                raise PermissionDeniedException("only members of the organization may create "
                                                "projects in it")
        doc = {
            "_id": new_id(), "name": data.name, "description": data.description,
            "organizationId": data.organization_id, "creator": user.email, "createdAt": now_iso(),
            "members": [{"userId": user.user_id, "email": user.email, "role": "owner"}],
            "membersVersion": 0,
        }
        project = await catalog.insert("projects", doc)
        in_project(request, project["id"])
        return project

    @get("/")
    async def list_projects(
        self, request: Request, catalog: NamedDependency[Catalog], page: Page = 0,
        page_size: PageSize = 100,
    ) -> Paged[Project]:
        query = {"members.userId": request.user.user_id}
        items, total = await catalog.page("projects", query, page * page_size, page_size)
        return paged(items, total, page, page_size)

    @get("/{project_id:str}")
    async def get_project(
        self, project_id: FromPath[str], grant: NamedDependency[Grant]
    ) -> Project:
        return grant.project

    @get("/{project_id:str}/audit")
    async def project_audit(
        self, project_id: FromPath[str], audit: NamedDependency[AuditLog],
        catalog: NamedDependency[Catalog], actor: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None, since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None, page: Page = 0, page_size: PageSize = 100,
    ) -> Paged[AuditEntry]:
        """Who did what in the project, newest first: every successful write request, with
        its actor (user id or email to filter on), action (the endpoint's name), resource
        and time (`since` inclusive, `until` exclusive)."""
        within_utc_years(since, "since")
        within_utc_years(until, "until")
        await audit.flush()  # this replica's latest writes are visible at once
        query: dict[str, Any] = {"projectId": project_id}
        if actor:
            query["$or"] = [{"actor.userId": actor}, {"actor.email": actor}]
        if action:
            query["action"] = action
        if since or until:
            query["at"] = ({"$gte": since} if since else {}) | ({"$lt": until} if until else {})
        items, total = await catalog.page(
            "audit", query, page * page_size, page_size, sort=("at", -1))
        return paged(items, total, page, page_size)
