"""Bearer-token authentication: personal API tokens, stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from gateway.repository import Catalog, new_id
from shared.envelope import Actor, utcnow

TOKEN_PREFIX = "clf_"
_MISSING = object()


@dataclass(frozen=True)
class Principal:
    user_id: str
    email: str
    token_id: str
    scopes: tuple[str, ...] = ("read", "write")

    def actor(self, role: str | None = None) -> Actor:
        return Actor(user_id=self.user_id, email=self.email, role=role)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(catalog: Catalog, user: dict[str, Any], name: str = "default") -> tuple[str, dict]:
    """Create a token for `user`; the secret is returned once and only its digest is kept."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    doc = {
        "_id": digest(secret),
        "tokenId": new_id(),
        "userId": user["id"],
        "name": name,
        "scopes": ["read", "write"],
        "createdAt": utcnow(),
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
        found = self.cache.get(key, _MISSING)
        if found is not _MISSING:
            return found
        principal = None
        doc = await self.catalog.token(key)
        if doc and not doc.get("revokedAt"):
            user = await self.catalog.user(doc["userId"])
            if user:
                principal = Principal(user["id"], user["email"], doc["tokenId"], tuple(doc["scopes"]))
        self.cache[key] = principal
        return principal


class BearerAuth(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("send 'Authorization: Bearer <token>'")
        principal = await connection.app.state.gw.tokens.resolve(token.strip())
        if principal is None:
            raise NotAuthorizedException("the bearer token is unknown or revoked")
        return AuthenticationResult(user=principal, auth=token)
