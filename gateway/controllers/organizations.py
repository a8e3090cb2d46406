"""Organisations: they hold projects. An organisation is visible to its members and to
members of its projects; within it, each caller sees only the projects they belong to."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from gateway.access import Access
from gateway.answers import Organization, Paged, Project
from gateway.controllers.common import Page, PageSize, now_iso, paged
from gateway.repository import Catalog, new_id
from gateway.schemas import OrganizationIn


class OrganizationController(Controller):
    path = "/api/v1/organizations"
    tags = ["organizations"]

    @post("/")
    async def create_organization(
        self, data: JSONBody[OrganizationIn], request: Request, catalog: NamedDependency[Catalog]
    ) -> Organization:
        """Create an organisation; the caller is its owner and may create projects in it."""
        user = request.user
        doc = {"_id": new_id(), "name": data.name, "creator": user.email, "createdAt": now_iso(),
               "members": [{"userId": user.user_id, "email": user.email, "role": "owner"}]}
        return await catalog.insert("organizations", doc)

    @get("/")
    async def list_organizations(
        self, request: Request, catalog: NamedDependency[Catalog], page: Page = 0,
        page_size: PageSize = 100,
    ) -> Paged[Organization]:
        query = await catalog.organizations_of(request.user.user_id)
        items, total = await catalog.page(
            "organizations", query, page * page_size, page_size)
        return paged(items, total, page, page_size)

    @get("/{organization_id:str}")
    async def get_organization(
        self, organization_id: FromPath[str], request: Request, access: NamedDependency[Access]
    ) -> Organization:
        return await access.organization(request.user, organization_id)

    @get("/{organization_id:str}/projects")
    async def list_organization_projects(
        self, organization_id: FromPath[str], request: Request, access: NamedDependency[Access],
        catalog: NamedDependency[Catalog], page: Page = 0, page_size: PageSize = 100,
    ) -> Paged[Project]:
        await access.organization(request.user, organization_id)
        query = {"organizationId": organization_id, "members.userId": request.user.user_id}
        items, total = await catalog.page("projects", query, page * page_size, page_size)
        return paged(items, total, page, page_size)
