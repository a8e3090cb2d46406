"""Projects: the unit that separates teams."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody
from litestar.datastructures import State

from gateway.controllers.common import Page, PageSize, now_iso, paged
from gateway.repository import new_id
from gateway.schemas import ProjectIn


class ProjectController(Controller):
    path = "/api/v1/projects"
    tags = ["projects"]

    @post("/")
    async def create_project(self, data: JSONBody[ProjectIn], request: Request, state: State) -> dict[str, Any]:
        user = request.user
        doc = {
            "_id": new_id(), "name": data.name, "description": data.description,
            "creator": user.email, "createdAt": now_iso(),
            "members": [{"userId": user.user_id, "email": user.email, "role": "owner"}],
        }
        return await state.gw.catalog.insert("projects", doc)

    @get("/")
    async def list_projects(
        self, request: Request, state: State, page: Page = 0, page_size: PageSize = 100
    ) -> dict[str, Any]:
        query = {"members.userId": request.user.user_id}
        items, total = await state.gw.catalog.page("projects", query, page * page_size, page_size)
        return paged(items, total, page, page_size)

    @get("/{project_id:str}")
    async def get_project(self, project_id: FromPath[str], request: Request, state: State) -> dict[str, Any]:
        return await state.gw.access.project(request.user, project_id)
