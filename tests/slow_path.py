"""The slow path as a client sees it: an HTTP transport that, for every write, sends an
Idempotency-Key, follows a 202 to its operation until it ends (failing the test if it never
does), then repeats the request with the same key to read the final answer, as a client that
was answered 202 does. With the gateway's wait at zero, every command takes this path."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx

RESOLVE_WITHIN_S = 20.0
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


class Unresolved(AssertionError):
    """A command answered 202 whose operation never ended."""


class FollowingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.followed = 0  # 202s followed to their end, for tests to check they ran

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method not in WRITES:
            return await self.inner.handle_async_request(request)
        if "idempotency-key" not in request.headers:
            request.headers["Idempotency-Key"] = uuid.uuid4().hex
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        if response.status_code != 202:
            return response
        await response.aread()
        operation = json.loads(response.content).get("operationId")
        if not operation:
            return response
        await self._until_resolved(request, operation)
        self.followed += 1
        again = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        return await self.inner.handle_async_request(again)

    async def _until_resolved(self, request: httpx.Request, operation: str) -> None:
        url = request.url.copy_with(path=f"/api/v1/operations/{operation}", query=None)
        headers = {"Authorization": request.headers.get("authorization", "")}
        deadline = asyncio.get_running_loop().time() + RESOLVE_WITHIN_S
        while True:
            answer = await self.inner.handle_async_request(httpx.Request("GET", url, headers=headers))
            await answer.aread()
            if answer.status_code != 200:
                raise Unresolved(f"operation {operation} of {request.method} {request.url.path} "
                                 f"answered {answer.status_code}: {answer.text}")
            if json.loads(answer.content).get("status") != "pending":
                return
            if asyncio.get_running_loop().time() > deadline:
                raise Unresolved(f"operation {operation} of {request.method} {request.url.path} "
                                 f"still pending after {RESOLVE_WITHIN_S} s")
            await asyncio.sleep(0.02)


def transport_for(app: object, wait_s: float) -> httpx.AsyncBaseTransport:
    """The test client's transport: following 202s when the gateway answers past no wait."""
    inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    return FollowingTransport(inner) if wait_s == 0 else inner
