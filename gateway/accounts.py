"""Accounts: who has one, passwords, and the one-time links that let people in.

A user "has an account" once they set a password, signed in (by a link or single sign-on)
or hold an API token; a user added to a project without one gets an invitation. Links are
also mailed when SMTP is configured (gateway.mail); otherwise only the owner who made one
sees it, once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gateway.errors import Unprocessable
from gateway.links import Kind, Links
from gateway.mail import send_link
from gateway.passwords import hash_password
from shared.contracts.envelope import utcnow
from shared.platform.settings import Settings


class Accounts:
    def __init__(self, db: Any, links: Links, settings: Settings) -> None:
        self.users = db.users
        self.tokens = db.tokens
        self.links = links
        self.settings = settings

    def ttl(self, kind: Kind) -> timedelta:
        hours = self.settings.reset_ttl_hours if kind == "reset" else self.settings.invitation_ttl_hours
        return timedelta(hours=hours)

    async def by_email(self, email: str) -> dict[str, Any] | None:
        doc = await self.users.find_one({"email": email.strip()})
        if doc is not None:
            doc["id"] = doc.pop("_id")
        return doc

    async def password_hash(self, user_id: str) -> str | None:
        doc = await self.users.find_one({"_id": user_id}, {"passwordHash": 1})
        return (doc or {}).get("passwordHash")

    async def has_account(self, user: dict[str, Any]) -> bool:
        doc = await self.users.find_one({"_id": user["id"]}) or {}
        if doc.get("passwordHash") or doc.get("signedInAt"):
            return True
        return await self.tokens.find_one({"userId": user["id"]}, {"_id": 1}) is not None

    def check_password(self, password: str) -> None:
        least = self.settings.min_password_length
        if len(password) < least:
            raise Unprocessable(detail=f"the password is too short: at least {least} characters",
                                extra=[{"field": "password", "rule": f"at least {least} characters",
                                        "source": "body"}])

    async def set_password(self, user_id: str, password: str, name: str | None = None) -> None:
        self.check_password(password)
        changes: dict[str, Any] = {"passwordHash": await hash_password(password),
                                   "passwordSetAt": utcnow()}
        if name:
            changes["name"] = name
        await self.users.update_one({"_id": user_id}, {"$set": changes})

    async def signed_in(self, user_id: str) -> None:
        await self.users.update_one({"_id": user_id}, {"$set": {"signedInAt": utcnow()}})

    async def link(self, kind: Kind, user: dict[str, Any], *, project_id: str | None = None,
                   role: str | None = None, by: str | None = None) -> dict[str, Any]:
        """A new one-time link (mailed when SMTP is set): its id, url and expiry."""
        secret, doc = await self.links.issue(kind, user, self.ttl(kind), project_id=project_id,
                                             role=role, by=by)
        url = self.links.url(kind, secret)
        await send_link(self.settings, user["email"], kind, url, doc["expiresAt"])
        return {"id": doc["linkId"], "url": url, "expiresAt": doc["expiresAt"]}

    async def invite(self, user: dict[str, Any], project_id: str, role: str,
                     by: str) -> dict[str, Any] | None:
        """An invitation for a member without an account; None for one who has one."""
        if await self.has_account(user):
            return None
        return await self.link("invitation", user, project_id=project_id, role=role, by=by)
