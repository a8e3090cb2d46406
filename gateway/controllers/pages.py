"""Minimal server-rendered pages for the links people open in a browser: sign in, accept
an invitation, reset a password, use a sign-in link. Each is a form whose few lines of
script post JSON to the API (gateway.controllers.accounts); the studio will restyle them.
Opening a page uses nothing up: only its form's POST does (mail scanners fetch links)."""

from __future__ import annotations

import html
import json

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from gateway.links import Kind, LinkRefused, Links
from gateway.repository import Catalog
from shared.platform.settings import Settings

HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY"}
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/studio/static/studio.css"></head>
<body><header class="bar"><a class="brand" href="/">Classifier studio</a></header>
<main class="form-page"><h1>{title}</h1><p>{intro}</p>{form}<p id="out" role="status"></p></main>
<script>
const form = document.querySelector("form");
if (form) form.onsubmit = async (event) => {{
  event.preventDefault();
  const body = Object.fromEntries(new FormData(form));
  const r = await fetch({action}, {{method: "POST", credentials: "same-origin",
    headers: {{"Content-Type": "application/json"}}, body: JSON.stringify(body)}});
  const answer = await r.json().catch(() => ({{}}));
  document.getElementById("out").textContent = r.ok
    ? "Signed in as " + answer.email + "." : (answer.detail || "Error " + r.status);
  if (r.ok) {{
    form.remove();
    const next = new URLSearchParams(location.search).get("next") || "/";
    location.assign(next.startsWith("/") && !next.startsWith("//") ? next : "/");
  }}
}};
</script></body></html>
"""
FIELDS = {
    "email": '<label>Email <input name="email" type="email" autocomplete="username" required></label>',
    "password": '<label>Password <input name="password" type="password" '
                'autocomplete="current-password" required></label>',
    "new": '<label>New password <input name="password" type="password" minlength="{least}" '
           'autocomplete="new-password" required></label>',
    "name": '<label>Display name <input name="displayName" autocomplete="name" required></label>',
}


def page(title: str, intro: str, fields: list[str] = (), button: str = "", action: str = "",
         status: int = 200, least: int = 10) -> Response[str]:
    form = "" if not button else "<form>" + "".join(FIELDS[f].format(least=least) for f in fields) \
        + f"<button>{html.escape(button)}</button></form>"
    body = PAGE.format(title=html.escape(title), intro=intro, form=form,
                       action=json.dumps(action).replace("<", "\\u003c"))
    return Response(body, status_code=status, media_type="text/html", headers=HEADERS)


async def _link_page(links: Links, kind: Kind, secret: str) -> tuple[dict | None, Response | None]:
    try:
        return await links.peek(kind, secret), None
    except LinkRefused as refused:
        return None, page("This link cannot be used", html.escape(refused.message),
                          status=refused.status)


class PageController(Controller):
    tags = ["pages"]
    include_in_schema = False  # HTML for browsers: the OpenAPI document describes the JSON API

    @get("/sign-in", exclude_from_auth=True, media_type="text/html")
    async def sign_in_page(self) -> Response[str]:
        return page("Sign in", "Sign in to the classifier platform.", ["email", "password"],
                    "Sign in", "/api/v1/session")

    @get("/invitations/{secret:str}", exclude_from_auth=True, media_type="text/html")
    async def invitation_page(
        self, secret: FromPath[str], links: NamedDependency[Links],
        catalog: NamedDependency[Catalog], settings: NamedDependency[Settings],
    ) -> Response[str]:
        link, refused = await _link_page(links, "invitation", secret)
        if refused:
            return refused
        project = await catalog.get("projects", link["projectId"]) or {}
        intro = (f"{html.escape(link['email'])} is invited to the project "
                 f"<b>{html.escape(project.get('name', '?'))}</b> as {html.escape(link['role'])}. "
                 "Choose a display name and a password.")
        return page("Accept the invitation", intro, ["name", "new"], "Accept and sign in",
                    f"/api/v1/invitations/{secret}/accept",
                    least=settings.min_password_length)

    @get("/password-resets/{secret:str}", exclude_from_auth=True, media_type="text/html")
    async def password_reset_page(self, secret: FromPath[str], links: NamedDependency[Links],
                                  settings: NamedDependency[Settings]) -> Response[str]:
        link, refused = await _link_page(links, "reset", secret)
        if refused:
            return refused
        return page("Choose a new password", f"For {html.escape(link['email'])}.", ["new"],
                    "Set the password and sign in", f"/api/v1/password-resets/{secret}",
                    least=settings.min_password_length)

    @get("/sign-in-links/{secret:str}", exclude_from_auth=True, media_type="text/html")
    async def sign_in_link_page(
        self, secret: FromPath[str], links: NamedDependency[Links],
    ) -> Response[str]:
        link, refused = await _link_page(links, "signin", secret)
        if refused:
            return refused
        return page("Sign in", f"Sign in as {html.escape(link['email'])} (this link works once; "
                    "then set a password with PUT /api/v1/users/me/password).", [], "Sign in",
                    f"/api/v1/sign-in-links/{secret}")
