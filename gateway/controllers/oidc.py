"""Single sign-on routes (OpenID Connect, gateway.oidc): public, since they are how a
browser without a session gets one. 404 while OIDC_ISSUER is empty.

The callback checks everything before it writes anything: a bad or reused state, a nonce
that does not match, a provider's refusal or an unverified email changes nothing. Then
the user is matched or created by email, the group mapping grants roles through the same
compare-and-set path as the members API (gateway.controllers.members.change_members), and
a browser session starts (gateway.sessions.open_session).
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.params import QueryParameter
from litestar.response import Redirect
from redis.asyncio import Redis

from gateway import membership
from gateway.audit import AuditLog
from gateway.controllers.members import change_members
from gateway.errors import Unprocessable, unprocessable
from gateway.invalidation import Invalidation
from gateway.oidc import STATE_TTL_S, SignInRefused, SingleSignOn, safe_next
from gateway.repository import Catalog, new_id
from gateway.sessions import Sessions, open_session, secure
from shared.contracts.envelope import utcnow
from shared.platform.settings import Settings
from shared.rules.labels import Problem

log = logging.getLogger("classifier.gateway")
BROWSER_COOKIE = "clf_oidc"  # binds a sign-in's state to the browser that started it
COOKIE_PATH = "/api/v1/auth/oidc"


class ProviderFailed(HTTPException):
    status_code = 502


REFUSALS: dict[int, type[HTTPException]] = {
    400: ClientException, 401: NotAuthorizedException, 403: PermissionDeniedException,
    502: ProviderFailed}


def _sso(sso: SingleSignOn | None) -> SingleSignOn:
    if sso is None:
        raise NotFoundException("single sign-on is not configured (OIDC_ISSUER is empty)")
    return sso


def _refusal(refused: SignInRefused) -> HTTPException:
    return REFUSALS.get(refused.status, ClientException)(detail=refused.message)


class OidcController(Controller):
    path = COOKIE_PATH
    tags = ["single sign-on"]

    @get("/login", exclude_from_auth=True, status_code=302,
         raises=[NotFoundException, Unprocessable, ProviderFailed])
    async def oidc_login(
        self, request: Request, sso: NamedDependency[SingleSignOn | None], redis: NamedDependency[Redis], settings: NamedDependency[Settings],
        next_path: Annotated[str | None, QueryParameter(
            name="next", max_length=2000, description="where to go once signed in: a path on this site")] = None,
    ) -> Redirect:
        """Start signing in with the identity provider: 302 to its authorization endpoint
        (authorization code with PKCE S256, state and nonce kept for ten minutes)."""
        sign_on = _sso(sso)
        target = safe_next(next_path)
        if target is None:
            raise unprocessable([Problem("next", "must be a path on this site, starting with a "
                                                 "single '/'")], source="query")
        browser = request.cookies.get(BROWSER_COOKIE) or secrets.token_urlsafe(32)
        try:
            url = await sign_on.begin(redis, browser, target)
        except SignInRefused as refused:
            raise _refusal(refused) from None
        response = Redirect(url, status_code=302)
        response.set_cookie(BROWSER_COOKIE, browser, path=COOKIE_PATH, max_age=STATE_TTL_S,
                            httponly=True, samesite="lax", secure=secure(settings))
        return response

    @get("/callback", exclude_from_auth=True, status_code=302,
         raises=[ClientException, NotAuthorizedException, PermissionDeniedException,
                 NotFoundException, ProviderFailed])
    async def oidc_callback(
        self, request: Request, sso: NamedDependency[SingleSignOn | None],
        redis: NamedDependency[Redis], catalog: NamedDependency[Catalog],
        invalidation: NamedDependency[Invalidation], audit: NamedDependency[AuditLog],
        sessions: NamedDependency[Sessions],
        code: Annotated[str | None, QueryParameter(max_length=4000)] = None,
        sign_in: Annotated[str | None, QueryParameter(name="state", max_length=200)] = None,
        error: Annotated[str | None, QueryParameter(max_length=200)] = None,
        error_description: Annotated[str | None, QueryParameter(max_length=2000)] = None,
    ) -> Response[Any]:
        """Where the identity provider sends the browser back: checks the state (this
        browser's, once), exchanges the code with the PKCE verifier, checks the ID token
        (signature, issuer, audience, nonce, expiry, verified email), then signs the user
        in (matched or created by email, group roles granted) and redirects to `next`."""
        sign_on = _sso(sso)
        if error:
            if sign_in:
                await redis.delete(sign_on.state_key(sign_in))  # that sign-in is over
            raise NotAuthorizedException(f"the identity provider refused the sign-in: "
                                         f"{error_description or error}")
        if not sign_in or not code:
            raise ClientException(f"{'state' if not sign_in else 'code'}: missing from the callback")
        try:
            identity = await sign_on.finish(redis, request.cookies.get(BROWSER_COOKIE), sign_in, code)
        except SignInRefused as refused:
            raise _refusal(refused) from None
        user = await catalog.ensure_user(identity.email, identity.name)
        await grant_roles(catalog, invalidation, audit, user, sign_on.grants(identity), request.url.path)
        response: Response[Any] = Redirect(identity.next_path, status_code=302)
        response.delete_cookie(BROWSER_COOKIE, path=COOKIE_PATH)
        return await open_session(sessions, response, user, via="oidc")


async def grant_roles(
    catalog: Catalog, invalidation: Invalidation, audit: AuditLog, user: dict[str, Any],
    grants: dict[str, str], path: str,
) -> None:
    """Each mapped project: at least the mapped role (added, or raised; never lowered),
    recorded in the project's audit log. A project that is gone, or members that keep
    changing, skip that grant (logged): the sign-in itself still succeeds."""
    for project_id, role in grants.items():
        changed: list[str] = []

        def give(members: membership.Members, role: str = role) -> membership.Members:
            after = membership.grant(members, user, role)
            changed[:] = ["yes"] if after is not members else []
            return after

        try:
            await change_members(catalog, invalidation, project_id, give)
        except HTTPException as skipped:
            log.warning("single sign-on: %s not given %s in project %s: %s",
                        user["email"], role, project_id, skipped.detail)
            continue
        if changed:
            audit.record({
                "_id": new_id(), "projectId": project_id,
                "actor": {"userId": user["id"], "email": user["email"], "tokenId": None, "role": role},
                "action": "oidc_group_role", "method": "GET", "path": path,
                "resource": {"type": "user", "id": user["id"]}, "resultId": None, "status": 302,
                "at": utcnow()})
