"""Bearer-token authentication: personal API tokens, stored as SHA-256 digests.

A token is JWT-shaped (`header.claims.signature`, HS256) so that Dataloop's SDK accepts it:
`dtlpy` decodes the claims without checking the signature and reads `exp` (and `email`).
The signature is made with a random key nobody keeps: it is the token's secret part, and
the whole string is what the digest is taken of, so a token stays opaque, revocable and
hashed at rest like before; its claims are a courtesy to clients, never trusted here.

A token has scopes (`read`, or `read` and `write`) and may expire. The resolver caches a
token's principal for two seconds; revocation does not wait for that: every request also
asks Redis whether its token was revoked (gateway.ratelimit, in the same round trip as the
rate limit), so a revoked token stops at once on every replica.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from gateway.cache import read_through
from gateway.repository import Catalog, new_id
from shared.contracts.envelope import Actor, utcnow

if TYPE_CHECKING:
    from gateway.container import Gateway

SCOPES = ("read", "write")
NEVER = 253402300799  # `exp` of a token without an end: 9999-12-31T23:59:59Z


@dataclass(frozen=True)
class Principal:
    user_id: str
    email: str
    token_id: str
    scopes: tuple[str, ...] = SCOPES
    expires_at: datetime | None = None

    def actor(self, role: str | None = None) -> Actor:
        return Actor(user_id=self.user_id, email=self.email, role=role)

    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt_shaped_secret(user: dict[str, Any], token_id: str, scopes: Sequence[str],
                      expires_at: datetime | None) -> str:
    """A new secret in JWT form: claims dtlpy reads, signed with a random throw-away key."""
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"iss": "clf", "sub": user["id"], "email": user.get("email", ""), "jti": token_id,
              "scope": " ".join(scopes), "iat": int(utcnow().timestamp()),
              "exp": int(expires_at.timestamp()) if expires_at else NEVER}
    signing_input = ".".join(_b64(json.dumps(part, separators=(",", ":")).encode())
                             for part in (header, claims))
    signature = hmac.new(secrets.token_bytes(32), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


async def issue_token(
    catalog: Catalog,
    user: dict[str, Any],
    name: str = "default",
    scopes: Sequence[str] = SCOPES,
    expires_at: datetime | None = None,
) -> tuple[str, dict]:
    """Create a token for `user`; the secret is returned once and only its digest is kept."""
    token_id, scopes = new_id(), [s for s in SCOPES if s in scopes]
    secret = jwt_shaped_secret(user, token_id, scopes, expires_at)
    doc = {
        "_id": digest(secret),
        "tokenId": token_id,
        "userId": user["id"],
        "name": name,
        "scopes": scopes,
        "createdAt": utcnow(),
        "expiresAt": expires_at,
        "revokedAt": None,
    }
    await catalog.add_token(doc)
    return secret, doc


class TokenResolver:
    """Token → principal, cached briefly so the hot path does not hit MongoDB per request."""

    def __init__(self, catalog: Catalog, ttl: float = 2.0) -> None:
        self.catalog = catalog
        self.cache: TTLCache[str, Principal | None] = TTLCache(maxsize=50_000, ttl=ttl)

    async def resolve(self, token: str) -> Principal | None:
        key = digest(token)
        found = await read_through(self.cache, key, lambda: self._load(key))
        return None if found is None or found.expired() else found

    async def _load(self, key: str) -> Principal | None:
        doc = await self.catalog.token(key)
        if not doc or doc.get("revokedAt"):
            return None
        user = await self.catalog.user(doc["userId"])
        if not user:
            return None
        return Principal(user["id"], user["email"], doc["tokenId"], tuple(doc["scopes"]),
                         doc.get("expiresAt"))

    def forget(self, key: str) -> None:
        self.cache.pop(key, None)


SESSION_COOKIE = "clf_session"
SESSION_AUTH = "session"  # scope["auth"] of a request its session cookie authenticated
NO_CREDENTIALS = "send 'Authorization: Bearer <token>'"


def session_principal(session: Any) -> Principal | None:
    """A browser session's caller (reads and writes, like a full token), or None when the
    session ended (signed out, idle or past its absolute expiry; see gateway.sessions)."""
    if not isinstance(session, dict) or "userId" not in session or \
            session["expiresAt"] <= utcnow().timestamp():
        return None
    return Principal(session["userId"], session["email"], "session:" + session["sessionId"],
                     expires_at=datetime.fromtimestamp(session["expiresAt"], UTC))


class BearerAuth(AbstractAuthenticationMiddleware):
    """A bearer token exactly as always; without an Authorization header, the browser
    session its cookie names (writes then need a CSRF token, gateway.sessions). Reads tokens
    and the rate gate through `gateway`, the app's container (its adapters exist from start)."""

    def __init__(self, app: ASGIApp, gateway: Gateway, **options: Any) -> None:
        super().__init__(app, **options)
        self.gateway = gateway

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        if not header and connection.cookies.get(SESSION_COOKIE):
            return await self._session(connection)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException(NO_CREDENTIALS + " or sign in")
        gw = self.gateway
        principal = await gw.tokens.resolve(token.strip())
        if principal is None:
            raise NotAuthorizedException("the bearer token is unknown, expired or revoked")
        await gw.gate.admit(principal)  # revoked elsewhere a moment ago? over the rate limit?
        return AuthenticationResult(user=principal, auth=token)

    async def _session(self, connection: ASGIConnection) -> AuthenticationResult:
        principal = session_principal(connection.scope.get("session"))
        if principal is None:
            raise NotAuthorizedException("the session has ended (signed out or expired); "
                                         "sign in again")
        await self.gateway.gate.admit(principal)
        return AuthenticationResult(user=principal, auth=SESSION_AUTH)
