"""Who did what: every successful write request becomes one `audit` document.

Recording adds no MongoDB round trip to a request: the middleware appends the entry to an
in-memory buffer after the response is sent, and a background task inserts the buffer
every fifth of a second (or sooner when it fills), in small batches so that no insert
holds the database up for long. The buffer is flushed on shutdown, and before an audit
query, so a replica always shows its own latest writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.repository import Catalog, new_id
from gateway.roles import RULES
from shared.contracts.envelope import utcnow

if TYPE_CHECKING:
    from gateway.container import Gateway

log = logging.getLogger("classifier.gateway")
MAX_BUFFER = 100_000
MAX_BODY = 64 * 1024


class AuditLog:
    def __init__(self, catalog: Catalog, flush_s: float = 0.2, batch: int = 100) -> None:
        self.catalog = catalog
        self.flush_s = flush_s
        self.batch = batch
        self.buffer: list[dict[str, Any]] = []
        self.wake = asyncio.Event()
        self.stopping = False
        self.task: asyncio.Task[None] | None = None

    def record(self, entry: dict[str, Any]) -> None:
        if len(self.buffer) >= MAX_BUFFER:
            log.error("audit buffer full; dropping an entry for %s", entry["action"])
            return
        self.buffer.append(entry)
        if len(self.buffer) >= self.batch:
            self.wake.set()

    async def flush(self) -> None:
        while self.buffer:
            entries, self.buffer = self.buffer[: self.batch], self.buffer[self.batch:]
            try:
                await self.catalog.insert_audit(entries)
            except Exception:
                log.exception("audit insert failed; keeping %d entries for the next try",
                              len(entries))
                self.buffer[:0] = entries[: MAX_BUFFER - len(self.buffer)]
                return

    async def _run(self) -> None:
        while not self.stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.flush_s)
            self.wake.clear()
            await self.flush()

    async def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Let a running insert finish (cancelling it could lose its entries), then flush."""
        self.stopping = True
        self.wake.set()
        if self.task is not None:
            await self.task
        await self.flush()


def in_project(request: Request, project_id: str) -> None:
    """Name the project of a write whose path names none (creating a project)."""
    request.state.audit_project = project_id


def _writes(scope: Scope) -> bool:
    handler = scope["route_handler"]
    rule = RULES.get(handler.opt.get("permission") or handler.handler_name)
    return bool(rule and rule.writes)


def _result_id(body: bytes) -> str | None:
    try:
        found = json.loads(body)
    except ValueError:
        return None
    return found.get("id") if isinstance(found, dict) else None


def entry(scope: Scope, status: int, body: bytes) -> dict[str, Any]:
    state, user, handler = scope.get("state", {}), scope["user"], scope["route_handler"]
    grant = state.get("grant")
    resource = grant.resource if grant else None
    return {
        "_id": new_id(),
        "projectId": state.get("audit_project") or (grant.project_id if grant else None),
        "actor": {"userId": user.user_id, "email": user.email, "tokenId": user.token_id,
                  "role": grant.role if grant else None},
        "action": handler.opt.get("permission") or handler.handler_name,
        "method": scope["method"],
        "path": scope["path"],
        "resource": {"type": resource[0], "id": resource[1]} if resource else None,
        "resultId": _result_id(body) if status == 201 else None,
        "status": status,
        "at": utcnow(),
    }


class AuditMiddleware(ASGIMiddleware):
    """Records each successful write in the audit log of `gateway` (the app's container)."""

    scopes = (ScopeType.HTTP,)
    should_bypass_for_scope = staticmethod(lambda scope: not _writes(scope))

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        seen: dict[str, Any] = {"status": 500, "body": bytearray()}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            elif seen["status"] == 201 and len(seen["body"]) < MAX_BODY:
                seen["body"] += message.get("body", b"")
            await send(message)

        await next_app(scope, receive, watch)
        if seen["status"] < 400 and scope.get("user") is not None:
            self.gateway.audit.record(entry(scope, seen["status"], bytes(seen["body"])))
