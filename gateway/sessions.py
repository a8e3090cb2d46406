"""Browser sessions: server-side in Redis (Litestar's session middleware and RedisStore),
an HttpOnly cookie, and a CSRF token for every write the cookie authenticates.

The cookie holds only a random session id; the session (user, how they signed in, when it
ends) lives in Redis. Reading it renews its idle expiry; its absolute expiry is in the
data. A user's session ids are indexed in Redis, so signing out everywhere deletes them
all, and since every request reads its session from Redis (no cache), it stops at once on
every replica. The middleware never writes a session back: only `open_session` creates
one and only sign-out deletes one, so a request cannot resurrect a session ended meanwhile.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from hmac import compare_digest
from typing import TYPE_CHECKING, Any

from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import (
    CSRF_SECRET_LENGTH,
    CSRFMiddleware,
    generate_csrf_hash,
    generate_csrf_token,
)
from litestar.middleware.session import SessionMiddleware
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.serialization import encode_json
from litestar.stores.base import Store
from litestar.stores.redis import RedisStore
from litestar.types import ASGIApp, Message, Receive, Scope, ScopeSession, Send
from redis.asyncio import Redis

from gateway.auth import SESSION_AUTH, SESSION_COOKIE
from gateway.repository import new_id
from shared.platform.settings import Settings

if TYPE_CHECKING:
    from gateway.container import Gateway

CSRF_COOKIE = "clf_csrf"
CSRF_HEADER = "x-csrf-token"
VIA = ("password", "invitation", "reset", "link", "oidc")


def secure(settings: Settings) -> bool:
    return settings.public_url.lower().startswith("https://")


class Sessions:
    """The session store and each user's index of session ids (for 'sign out everywhere')."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.ns = settings.namespace
        self.store = RedisStore(redis, namespace=f"{self.ns}:session")
        self.idle_s = settings.session_idle_minutes * 60
        self.max_s = settings.session_max_hours * 3600
        self.secret = ""

    async def start(self) -> None:
        """SESSION_SECRET signs the CSRF tokens, else one random secret every replica
        shares through Redis."""
        self.secret = self.settings.session_secret
        if not self.secret:
            key = f"{self.ns}:csrf-secret"
            await self.redis.set(key, secrets.token_hex(32), nx=True)
            value = await self.redis.get(key)
            self.secret = value.decode() if isinstance(value, bytes) else str(value)

    def _index(self, user_id: str) -> str:
        return f"{self.ns}:sessions-of:{user_id}"

    async def create(self, user: dict[str, Any], via: str) -> tuple[str, dict[str, Any]]:
        if via not in VIA:
            raise ValueError(f"unknown sign-in method {via!r}")
        cookie = secrets.token_urlsafe(32)
        now = time.time()
        data = {"userId": user["id"], "email": user["email"], "sessionId": new_id(),
                "via": via, "createdAt": now, "expiresAt": now + self.max_s}
        await self.store.set(cookie, encode_json(data), expires_in=min(self.idle_s, self.max_s))
        index = self._index(user["id"])
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(index, cookie)
            pipe.expire(index, self.max_s)
            await pipe.execute()
        return cookie, data

    async def end(self, cookie: str, user_id: str) -> None:
        await self.store.delete(cookie)
        await self.redis.srem(self._index(user_id), cookie)

    async def end_all(self, user_id: str) -> int:
        """Every session of the user ends, on every replica; how many there were."""
        index = self._index(user_id)
        cookies = [c.decode() if isinstance(c, bytes) else c
                   for c in await self.redis.smembers(index)]
        for cookie in cookies:
            await self.store.delete(cookie)
        await self.redis.delete(index)
        return len(cookies)


async def open_session(sessions: Sessions, response: Response, user: dict[str, Any], *,
                       via: str) -> Response:
    """Start a browser session for `user` (a catalog user document with at least "id" and
    "email", as gateway.repository.Catalog.user/ensure_user return): store it server-side
    in Redis, set the session cookie (and the CSRF cookie, whose value writes must echo in
    the X-CSRF-Token header) on `response`, and return `response`. `via` names how the
    user signed in ("password", "invitation", "reset", "link", "oidc")."""
    cookie, _ = await sessions.create(user, via)
    https = secure(sessions.settings)
    response.set_cookie(SESSION_COOKIE, cookie, path="/", secure=https, httponly=True,
                        samesite="lax", max_age=sessions.max_s)
    token = generate_csrf_token(sessions.secret)
    response.set_cookie(CSRF_COOKIE, token, path="/", secure=https, httponly=False,
                        samesite="lax")
    response.headers["X-CSRF-Token"] = token
    return response


def close_session(response: Response, settings: Settings) -> Response:
    """The response's cookies end the browser's session (the server's is deleted apart);
    set with the attributes they were made with, or some browsers keep them."""
    https = secure(settings)
    for key, httponly in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.set_cookie(key, "", path="/", max_age=0, expires=0, secure=https,
                            httponly=httponly, samesite="lax")
    return response


class SessionBackend(ServerSideSessionBackend):
    """Loads the session the cookie names (renewing its idle expiry) and never writes one
    back: only `Sessions.create` creates and only sign-out deletes."""

    async def store_in_message(self, scope_session: ScopeSession, message: Message,
                               connection: ASGIConnection) -> None:
        return None


class CookieSessionMiddleware(SessionMiddleware):
    """Litestar's session middleware, skipped outright when the request has no session
    cookie (a bearer client's): no Redis call, nothing added to the hot path."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        marker = SESSION_COOKIE.encode() + b"="
        if not any(k == b"cookie" and marker in v for k, v in scope.get("headers", ())):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


@dataclass
class SessionConfig(ServerSideSessionConfig):
    """The store is the one `gateway` (the app's container) builds with its Redis client."""

    _backend_class = SessionBackend
    gateway: Gateway | None = field(default=None, repr=False)

    @property
    def middleware(self) -> DefineMiddleware:
        return DefineMiddleware(CookieSessionMiddleware, backend=self._backend_class(config=self))

    def get_store_from_app(self, app: Litestar) -> Store:
        assert self.gateway is not None, "session_config(settings, gateway)"
        return self.gateway.sessions.store  # built with the Redis client, at start


def session_config(settings: Settings, gateway: Gateway) -> SessionConfig:
    return SessionConfig(gateway=gateway, key=SESSION_COOKIE, renew_on_access=True,
                         max_age=settings.session_idle_minutes * 60, secure=secure(settings),
                         httponly=True, samesite="lax", store="sessions",
                         scopes={"http"})  # type: ignore[arg-type]


class SessionCSRF(CSRFMiddleware):
    """Litestar's double-submit CSRF check, only for requests the session cookie
    authenticated: a bearer token is sent by a script, which a forged page cannot do. The
    secret that signs is the sessions' of `gateway` (the app's container), settled at start."""

    def __init__(self, app: ASGIApp, config: CSRFConfig, gateway: Gateway) -> None:
        super().__init__(app, config)
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("auth") != SESSION_AUTH \
                or scope["method"] in self.config.safe_methods:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        sent = headers.get(CSRF_HEADER.encode(), b"").decode()
        cookie = Request(scope).cookies.get(CSRF_COOKIE)
        if not sent or not cookie:
            raise PermissionDeniedException(
                f"a write in a browser session needs the {CSRF_HEADER} header: the value of "
                f"the {CSRF_COOKIE} cookie")
        if not _tokens_match(sent, cookie, self.gateway.sessions.secret):
            raise PermissionDeniedException(
                f"the {CSRF_HEADER} header does not match the {CSRF_COOKIE} cookie")
        await self.app(scope, receive, send)


def _tokens_match(sent: str, cookie: str, secret: str) -> bool:
    """Both tokens signed with the replicas' shared secret, and the same token."""
    def unsigned(token: str) -> str | None:
        value, mac = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
        return value if mac and compare_digest(mac, generate_csrf_hash(value, secret)) else None

    mine, theirs = unsigned(sent), unsigned(cookie)
    return mine is not None and theirs is not None and compare_digest(mine, theirs)


def csrf_config(settings: Settings) -> CSRFConfig:
    """Litestar's CSRF settings; the secret that signs is the one `Sessions.start()`
    settles, shared by every replica."""
    return CSRFConfig(secret=secrets.token_hex(32), cookie_name=CSRF_COOKIE,
                      header_name=CSRF_HEADER, cookie_secure=secure(settings),
                      cookie_samesite="lax")

