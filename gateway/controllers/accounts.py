"""Signing in and out: password sign-in, one-time links (invitations, password resets,
sign-in links), sign out, sign out everywhere, and changing one's password.

Each way in answers the caller as GET /users/me does and opens a browser session
(gateway.sessions: an HttpOnly cookie, and a CSRF token in the `clf_csrf` cookie and the
`X-CSRF-Token` header). The public actions take JSON only, which a cross-site form cannot
send. A wrong email and a wrong password get the same answer.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
)
from litestar.params import FromPath, JSONBody

from gateway.account_schemas import AcceptInvitationIn, NewPasswordIn, PasswordChangeIn, SignInIn
from gateway.accounts import Accounts
from gateway.answers import InvitationInfo, SignedIn
from gateway.auth import SESSION_AUTH, SESSION_COOKIE
from gateway.links import Kind, LinkRefused, Links
from gateway.passwords import SignInThrottle, verify_password
from gateway.repository import Catalog
from gateway.sessions import Sessions, close_session, open_session
from shared.platform.settings import Settings

WRONG = "wrong email or password"


def user_json(user: dict[str, Any]) -> SignedIn:
    return {"id": user["id"], "email": user["email"], "name": user.get("name") or user["email"]}


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _json_only(request: Request) -> None:
    if request.content_type[0] != "application/json":
        raise HTTPException(status_code=415, detail="send the body as application/json")


async def _use(
    links: Links, catalog: Catalog, kind: Kind, secret: str, check: Any = None,
) -> dict[str, Any]:
    """Consume the link (after `check(user)`, which may refuse with nothing used); its user."""
    try:
        link = await links.peek(kind, secret)
        user = await catalog.user(link["userId"])
        if user is None:
            raise LinkRefused(410, "the account of this link no longer exists")
        if check is not None:
            await check(user)
        await links.consume(kind, secret)
    except LinkRefused as refused:
        raise HTTPException(status_code=refused.status, detail=refused.message) from None
    return user


class SignInController(Controller):
    path = "/api/v1"
    tags = ["accounts"]

    @post("/session", exclude_from_auth=True, status_code=200)
    async def sign_in(
        self, data: JSONBody[SignInIn], request: Request, throttle: NamedDependency[SignInThrottle],
        accounts: NamedDependency[Accounts], sessions: NamedDependency[Sessions],
    ) -> Response[SignedIn]:
        """Sign in with email and password: a browser session. 401 for a wrong email or
        password alike; 429 with Retry-After after SIGNIN_ATTEMPTS failures of the account
        or the address within SIGNIN_WINDOW_SECONDS."""
        _json_only(request)
        email, address = data.email.strip(), _address(request)
        await throttle.check(email, address)
        user = await accounts.by_email(email)
        if not await verify_password(data.password, user.get("passwordHash") if user else None):
            await throttle.failed(email, address)
            raise NotAuthorizedException(WRONG)
        await throttle.succeeded(email, address)
        await accounts.signed_in(user["id"])
        return await open_session(sessions, Response(user_json(user)), user, via="password")

    @delete("/session", status_code=204)
    async def sign_out(
        self, request: Request, sessions: NamedDependency[Sessions],
        settings: NamedDependency[Settings],
    ) -> Response[None]:
        """End this browser session (its cookie stops working on every replica at once).
        With a bearer token there is no session: nothing changes."""
        if request.auth == SESSION_AUTH:
            await sessions.end(request.cookies[SESSION_COOKIE], request.user.user_id)
        return close_session(Response(None, status_code=204), settings)

    @delete("/users/me/sessions", status_code=204)
    async def sign_out_everywhere(
        self, request: Request, sessions: NamedDependency[Sessions],
        settings: NamedDependency[Settings],
    ) -> Response[None]:
        """End every browser session of the caller, on every replica at once. API tokens
        stay (revoke them at /users/me/tokens)."""
        await sessions.end_all(request.user.user_id)
        return close_session(Response(None, status_code=204), settings)

    @put("/users/me/password", status_code=204)
    async def change_password(
        self, data: JSONBody[PasswordChangeIn], request: Request,
        accounts: NamedDependency[Accounts], throttle: NamedDependency[SignInThrottle],
        sessions: NamedDependency[Sessions],
    ) -> Response[None]:
        """Set or change the caller's password; once one is set, `currentPassword` must match
        (failures count toward the sign-in throttle). Every browser session of the account
        ends; a caller in one gets a new one in this answer."""
        user = request.user
        current = await accounts.password_hash(user.user_id)
        if current is not None:
            await throttle.check(user.email, _address(request))
            if not data.current_password or not await verify_password(data.current_password, current):
                await throttle.failed(user.email, _address(request))
                raise PermissionDeniedException("the current password is wrong")
        await accounts.set_password(user.user_id, data.password)
        await sessions.end_all(user.user_id)
        response = Response(None, status_code=204)
        if request.auth != SESSION_AUTH:
            return response
        return await open_session(sessions, response, {"id": user.user_id, "email": user.email},
                                  via="password")

    @get("/invitations/{secret:str}", exclude_from_auth=True)
    async def invitation(
        self, secret: FromPath[str], links: NamedDependency[Links],
        catalog: NamedDependency[Catalog],
    ) -> InvitationInfo:
        """What an invitation is for (without using it up): the email, project and role."""
        try:
            link = await links.peek("invitation", secret)
        except LinkRefused as refused:
            raise HTTPException(status_code=refused.status, detail=refused.message) from None
        project = await catalog.get("projects", link["projectId"]) or {}
        return {"email": link["email"], "projectId": link["projectId"],
                "projectName": project.get("name"), "role": link["role"],
                "expiresAt": link["expiresAt"]}

    @post("/invitations/{secret:str}/accept", exclude_from_auth=True, status_code=200)
    async def accept_invitation(
        self, secret: FromPath[str], data: JSONBody[AcceptInvitationIn], request: Request,
        accounts: NamedDependency[Accounts], links: NamedDependency[Links],
        catalog: NamedDependency[Catalog], sessions: NamedDependency[Sessions],
    ) -> Response[SignedIn]:
        """Choose a display name and a password: signed in, already a member of the project
        with the role the owner gave. 409 when the email has an account by now."""
        _json_only(request)
        accounts.check_password(data.password)

        async def no_account_yet(user: dict[str, Any]) -> None:
            if await accounts.password_hash(user["id"]) is not None:
                raise HTTPException(status_code=409, detail="this email has an account already: "
                                    "sign in with its password (the invitation stays unused)")

        user = await _use(links, catalog, "invitation", secret, no_account_yet)
        await accounts.set_password(user["id"], data.password, data.display_name.strip())
        await accounts.signed_in(user["id"])
        user["name"] = data.display_name.strip()
        return await open_session(sessions, Response(user_json(user)), user, via="invitation")

    @post("/password-resets/{secret:str}", exclude_from_auth=True, status_code=200)
    async def reset_password(
        self, secret: FromPath[str], data: JSONBody[NewPasswordIn], request: Request,
        accounts: NamedDependency[Accounts], links: NamedDependency[Links],
        catalog: NamedDependency[Catalog], sessions: NamedDependency[Sessions],
    ) -> Response[SignedIn]:
        """Set a new password with a reset link: every other session of the account ends,
        and this one starts."""
        _json_only(request)
        accounts.check_password(data.password)
        user = await _use(links, catalog, "reset", secret)
        await accounts.set_password(user["id"], data.password)
        await sessions.end_all(user["id"])
        await accounts.signed_in(user["id"])
        return await open_session(sessions, Response(user_json(user)), user, via="reset")

    @post("/sign-in-links/{secret:str}", exclude_from_auth=True, status_code=200)
    async def use_sign_in_link(
        self, secret: FromPath[str], request: Request, accounts: NamedDependency[Accounts],
        links: NamedDependency[Links], catalog: NamedDependency[Catalog],
        sessions: NamedDependency[Sessions],
    ) -> Response[SignedIn]:
        """Sign in with a one-time link (the first owner's, from `gateway.admin create-owner`
        or `make run`); set a password afterwards with PUT /users/me/password."""
        user = await _use(links, catalog, "signin", secret)
        await accounts.signed_in(user["id"])
        return await open_session(sessions, Response(user_json(user)), user, via="link")

