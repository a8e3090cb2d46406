"""Operations (outcomes of commands), the caller, and health probes."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody
from litestar.datastructures import State
from litestar.exceptions import NotFoundException

from gateway.auth import issue_token
from gateway.schemas import TokenIn
from shared.events import CommandRejected


class OperationController(Controller):
    path = "/api/v1/operations"
    tags = ["operations"]

    @get("/{operation_id:str}")
    async def get_operation(self, operation_id: FromPath[str], request: Request, state: State) -> dict[str, Any]:
        """The outcome of a command: pending, succeeded (with its result) or rejected (with why).
        Answered from stored outcomes, so it works from any replica and after restarts."""
        gw, user = state.gw, request.user
        stored = await gw.catalog.operation(operation_id)
        if stored is not None and stored["actorId"] == user.user_id:
            outcome = gw.bus.parse_outcome(stored["event"])
            body: dict[str, Any] = {"id": operation_id, "commandType": stored["commandType"],
                                    "status": stored["status"]}
            if isinstance(outcome, CommandRejected):
                body["error"] = {"reason": outcome.reason, "message": outcome.message,
                                 "details": outcome.details}
            else:
                body["result"] = outcome.wire()
            return body
        pending = await gw.bus.pending(operation_id)
        if stored is None and pending is not None and pending["actorId"] == user.user_id:
            return {"id": operation_id, "commandType": pending["commandType"], "status": "pending"}
        raise NotFoundException(f"no operation {operation_id}")


class UserController(Controller):
    path = "/api/v1/users/me"
    tags = ["users"]

    @get("/")
    async def me(self, request: Request) -> dict[str, Any]:
        return {"id": request.user.user_id, "email": request.user.email}

    @post("/tokens")
    async def create_token(self, data: JSONBody[TokenIn], request: Request, state: State) -> dict[str, Any]:
        """A new personal API token; the secret is shown in this answer only."""
        user = {"id": request.user.user_id, "email": request.user.email}
        secret, doc = await issue_token(state.gw.catalog, user, data.name)
        return {"id": doc["tokenId"], "name": doc["name"], "token": secret, "scopes": doc["scopes"]}


@get("/health/live", tags=["health"], exclude_from_auth=True)
async def live() -> dict[str, str]:
    return {"service": "gateway", "status": "alive"}


@get("/health/ready", tags=["health"], exclude_from_auth=True)
async def ready(state: State) -> Response[dict[str, Any]]:
    checks = await state.gw.readiness()
    ok = all(checks.values())
    return Response({"service": "gateway", "ready": ok, "checks": checks}, status_code=200 if ok else 503)
