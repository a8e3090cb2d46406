"""The studio's pages: the signed-in user's tasks (`/`), a task (`/tasks/{id}`), its browser
(`/tasks/{id}/browse`: thumbnails, filters, selection, bulk classify), its studio, and a video
item's studio (`/items/{id}/studio?taskId=`: scenes on a timeline). A page
is a shell; its module reads everything through the JSON API with the session cookie, so
the API's access rules are the pages' too. Without a session a page redirects to sign in."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, get
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from gateway.auth import session_principal

HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
           "Referrer-Policy": "same-origin"}


def _signed_in(request: Request) -> str | None:
    """The session's email, or None (no cookie, or the session ended)."""
    principal = session_principal(request.scope.get("session"))
    return principal.email if principal else None


def _to_sign_in(request: Request) -> Redirect:
    """To sign in, then back to this very page (its query too: the item, the task)."""
    there = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/sign-in?next={quote(there)}", status_code=303)


def page(request: Request, template: str, **context: Any) -> Template | Redirect:
    """The page's shell for the signed-in user, or the way to sign in."""
    email = _signed_in(request)
    if email is None:
        return _to_sign_in(request)
    return Template(template, context={"email": email, **context}, headers=HEADERS)


class StudioPages(Controller):
    include_in_schema = False
    opt = {"exclude_from_auth": True}  # the page answers a redirect, not a 401

    @get("/", media_type="text/html")
    async def home_page(self, request: Request) -> Template | Redirect:
        return page(request, "home.html")

    @get("/tasks/{task_id:str}/studio", media_type="text/html")
    async def studio_page(self, task_id: FromPath[str], request: Request) -> Template | Redirect:
        return page(request, "studio.html", task_id=task_id)

    # the same public rule as the studio page (gateway.roles): a page is a shell, its data the API's
    @get("/tasks/{task_id:str}", media_type="text/html", opt={"permission": "studio_page"})
    async def task_page(self, task_id: FromPath[str], request: Request) -> Template | Redirect:
        return page(request, "task.html", task_id=task_id)

    @get("/tasks/{task_id:str}/browse", media_type="text/html", opt={"permission": "studio_page"})
    async def browse_page(self, task_id: FromPath[str], request: Request) -> Template | Redirect:
        return page(request, "browse.html", task_id=task_id)

    # A video item's studio (scenes on a timeline), in a task (`taskId`: its rules apply) or,
    # for a manager, outside one; the task's studio opens it for the task's video items.
    @get("/items/{item_id:str}/studio", media_type="text/html", opt={"permission": "studio_page"})
    async def video_page(self, item_id: FromPath[str], request: Request,
                         task_id: Annotated[str | None, QueryParameter(name="taskId")] = None) -> Template | Redirect:
        return page(request, "video.html", item_id=item_id, task_id=task_id or "")
