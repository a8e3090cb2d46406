"""One-time links: invitations, password resets and sign-in links (MongoDB `links`).

The secret (`secrets.token_urlsafe`) is in the link only, shown once; the document keeps
its SHA-256 digest. A link is consumed atomically (one find-and-update that requires it
unused, unrevoked and unexpired), so two clicks cannot both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, Literal

from pymongo import ASCENDING, ReturnDocument

from gateway.repository import new_id
from shared.contracts.envelope import utcnow

Kind = Literal["invitation", "reset", "signin"]
PAGES: dict[str, str] = {"invitation": "invitations", "reset": "password-resets",
                         "signin": "sign-in-links"}


class LinkRefused(Exception):
    """Why a link cannot be used: 404 (no such link) or 410 (expired, used, revoked)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def link_json(doc: dict[str, Any], url: str | None = None) -> dict[str, Any]:
    """A link as an owner sees it: never the secret (except `url`, once, when issued)."""
    shown = {"id": doc["linkId"], "email": doc["email"], "userId": doc["userId"],
             "role": doc.get("role"), "createdAt": doc["createdAt"],
             "expiresAt": doc["expiresAt"], "expired": doc["expiresAt"] <= utcnow()}
    return shown | ({"url": url} if url else {})


class Links:
    def __init__(self, db: Any, public_url: str) -> None:
        self.links = db.links
        self.public_url = public_url.rstrip("/")

    async def create_indexes(self) -> None:
        await self.links.create_index([("linkId", ASCENDING)], unique=True)
        await self.links.create_index([("projectId", ASCENDING), ("kind", ASCENDING)])

    def url(self, kind: str, secret: str) -> str:
        return f"{self.public_url}/{PAGES[kind]}/{secret}"

    async def issue(self, kind: Kind, user: dict[str, Any], ttl: timedelta, *,
                    project_id: str | None = None, role: str | None = None,
                    by: str | None = None) -> tuple[str, dict[str, Any]]:
        """A new link; the secret is returned once."""
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        doc = {"_id": _digest(secret), "linkId": new_id(), "kind": kind,
               "userId": user["id"], "email": user["email"], "projectId": project_id,
               "role": role, "createdBy": by, "createdAt": now, "expiresAt": now + ttl,
               "usedAt": None, "revokedAt": None}
        await self.links.insert_one(doc)
        return secret, doc

    async def peek(self, kind: Kind, secret: str) -> dict[str, Any]:
        """The usable link, or LinkRefused naming why not."""
        doc = await self.links.find_one({"_id": _digest(secret), "kind": kind})
        noun = {"invitation": "invitation", "reset": "password-reset link",
                "signin": "sign-in link"}[kind]
        if doc is None:
            raise LinkRefused(404, f"no such {noun}: check the link")
        if doc["usedAt"] is not None:
            raise LinkRefused(410, f"this {noun} was already used")
        if doc["revokedAt"] is not None:
            raise LinkRefused(410, f"this {noun} was revoked; ask for a new one")
        if doc["expiresAt"] <= utcnow():
            raise LinkRefused(410, f"this {noun} has expired; ask for a new one")
        return doc

    async def consume(self, kind: Kind, secret: str) -> dict[str, Any]:
        """Use the link up (once only, whoever comes second gets 410)."""
        await self.peek(kind, secret)
        now = utcnow()
        doc = await self.links.find_one_and_update(
            {"_id": _digest(secret), "kind": kind, "usedAt": None, "revokedAt": None,
             "expiresAt": {"$gt": now}},
            {"$set": {"usedAt": now}}, return_document=ReturnDocument.AFTER)
        if doc is None:
            await self.peek(kind, secret)  # names what happened meanwhile
            raise LinkRefused(410, "this link was already used")
        return doc

    async def pending(self, project_id: str) -> list[dict[str, Any]]:
        cursor = self.links.find({"projectId": project_id, "kind": "invitation",
                                  "usedAt": None, "revokedAt": None}).sort("createdAt", ASCENDING)
        return [doc async for doc in cursor]

    async def revoke(self, project_id: str, link_id: str, kind: Kind = "invitation") -> dict[str, Any] | None:
        """The pending link, revoked now; None when the project has no such pending link."""
        return await self.links.find_one_and_update(
            {"linkId": link_id, "projectId": project_id, "kind": kind, "usedAt": None,
             "revokedAt": None},
            {"$set": {"revokedAt": utcnow()}}, return_document=ReturnDocument.AFTER)

    async def revoke_member(self, project_id: str, user_id: str) -> None:
        await self.links.update_many({"projectId": project_id, "userId": user_id, "usedAt": None,
                                      "revokedAt": None}, {"$set": {"revokedAt": utcnow()}})

    async def revoke_all(self, user_id: str, kind: Kind, at: datetime | None = None) -> None:
        await self.links.update_many({"userId": user_id, "kind": kind, "usedAt": None,
                                      "revokedAt": None}, {"$set": {"revokedAt": at or utcnow()}})
