"""The owners' and managers' pages: projects and organisations, a project's overview, its
members and invitations, the user's API tokens, a dataset (upload, register by URL, browse),
a recipe's label editor, the task wizard, a task's management and progress, the audit log.
Each is a shell like the annotators' pages (gateway.studio.pages): its module reads and
writes through the JSON API with the session, so the API's roles and refusals are the
page's. Without a session a page redirects to sign in."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import Redirect, Template

from gateway.studio.pages import page

# every page here follows the studio pages' public rule (gateway.roles): the data is the API's
OPT = {"permission": "studio_page"}


class ManagePages(Controller):
    include_in_schema = False
    opt = {"exclude_from_auth": True}  # the page answers a redirect, not a 401

    @get("/projects", media_type="text/html", opt=OPT)
    async def projects_page(self, request: Request) -> Template | Redirect:
        return page(request, "projects.html")

    @get("/projects/{project_id:str}", media_type="text/html", opt=OPT)
    async def project_page(self, project_id: FromPath[str], request: Request) -> Template | Redirect:
        return page(request, "project.html", project_id=project_id)

    @get("/projects/{project_id:str}/members", media_type="text/html", opt=OPT)
    async def members_page(self, project_id: FromPath[str], request: Request) -> Template | Redirect:
        return page(request, "members.html", project_id=project_id)

    @get("/projects/{project_id:str}/audit", media_type="text/html", opt=OPT)
    async def audit_page(self, project_id: FromPath[str], request: Request) -> Template | Redirect:
        return page(request, "audit.html", project_id=project_id)

    @get("/projects/{project_id:str}/tasks/new", media_type="text/html", opt=OPT)
    async def new_task_page(self, project_id: FromPath[str], request: Request) -> Template | Redirect:
        return page(request, "new_task.html", project_id=project_id)

    @get("/account", media_type="text/html", opt=OPT)
    async def account_page(self, request: Request) -> Template | Redirect:
        return page(request, "account.html")

    @get("/datasets/{dataset_id:str}", media_type="text/html", opt=OPT)
    async def dataset_page(self, dataset_id: FromPath[str], request: Request) -> Template | Redirect:
        return page(request, "dataset.html", dataset_id=dataset_id)

    @get("/recipes/{recipe_id:str}", media_type="text/html", opt=OPT)
    async def recipe_page(self, recipe_id: FromPath[str], request: Request) -> Template | Redirect:
        return page(request, "recipe.html", recipe_id=recipe_id)

    @get("/tasks/{task_id:str}/manage", media_type="text/html", opt=OPT)
    async def task_manage_page(self, task_id: FromPath[str], request: Request) -> Template | Redirect:
        return page(request, "task_manage.html", task_id=task_id)
