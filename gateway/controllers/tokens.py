"""The caller's personal API tokens: create (the secret is shown once), list, revoke.

Only a SHA-256 digest of each secret is stored. A revoked token stops working at once on
every gateway replica (a Redis marker every request checks, see gateway.ratelimit).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody

from gateway.answers import Listed, NewToken, Token
from gateway.auth import TokenResolver, issue_token
from gateway.ratelimit import RequestGate
from gateway.repository import Catalog
from gateway.schemas import TokenIn
from shared.contracts.envelope import utcnow


def token_json(doc: dict[str, Any]) -> Token:
    """A token as listed: never its secret, nor the digest that would find it."""
    return {"id": doc["tokenId"], "name": doc["name"], "scopes": doc["scopes"],
            "createdAt": doc["createdAt"], "expiresAt": doc.get("expiresAt"),
            "revokedAt": doc.get("revokedAt")}


class TokenController(Controller):
    path = "/api/v1/users/me/tokens"
    tags = ["users"]

    @post("/")
    async def create_token(
        self, data: JSONBody[TokenIn], request: Request, catalog: NamedDependency[Catalog]
    ) -> NewToken:
        """A new personal API token; the secret is in this answer only. `scopes: ["read"]`
        makes a read-only token (for integrations); `expiresAt` ends it at that time."""
        user = {"id": request.user.user_id, "email": request.user.email}
        secret, doc = await issue_token(catalog, user, data.name, data.scopes,
                                        data.expires_at)
        return token_json(doc) | {"token": secret}

    @get("/")
    async def list_tokens(
        self, request: Request, catalog: NamedDependency[Catalog],
    ) -> Listed[Token]:
        tokens = await catalog.tokens_of(request.user.user_id)
        return {"items": [token_json(d) for d in tokens]}

    @delete("/{token_id:str}")
    async def revoke_token(
        self, token_id: FromPath[str], request: Request, catalog: NamedDependency[Catalog],
        gate: NamedDependency[RequestGate], tokens: NamedDependency[TokenResolver],
    ) -> None:
        """Revoke one of the caller's tokens (the one in use too); repeating it is harmless."""
        doc = await catalog.revoke_token(request.user.user_id, token_id, utcnow())
        if doc is None:
            raise NotFoundException(f"no token {token_id}")
        await gate.revoked(token_id)
        tokens.forget(doc["_id"])
