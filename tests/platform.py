"""The platform under test: the gateway (Litestar test client) and the services (FastStream
apps), in this process but talking only through real Redis and MongoDB-wire servers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from gateway.app import create_app
from gateway.auth import issue_token
from services.annotation.bootstrap import build as build_annotation
from services.task.bootstrap import build as build_task
from services.workflow.bootstrap import build as build_workflow
from shared.platform.settings import Settings
from tests.slow_path import transport_for

RECIPE = {
    "title": "Clothes",
    "ontology": {
        "roots": [
            {"value": {"tag": "men's clothes", "color": "#1f77b4"},
             "children": [{"value": {"tag": "polo shirts", "color": "#ff7f0e"}},
                          {"value": {"tag": "jeans", "color": "#2ca02c"}}]},
            {"value": {"tag": "women's clothes", "color": "#d62728"},
             "children": [{"value": {"tag": "dresses", "color": "#9467bd"}}]},
        ],
        "attributes": [
            {"key": "condition", "title": "Condition", "type": "options", "values": ["new", "used"]},
            {"key": "sizes", "title": "Sizes", "type": "options", "multi": True,
             "values": ["S", "M", "L"], "scope": ["men's clothes"]},
            {"key": "quality", "title": "Quality", "type": "range",
             "range": {"min": 0, "max": 10, "step": 1}},
            {"key": "branded", "title": "Branded", "type": "boolean"},
            {"key": "note", "title": "Note", "type": "freeText"},
        ],
    },
}


@dataclass
class Platform:
    client: httpx.AsyncClient
    settings: Settings
    gateway: Any
    catalog: Any
    token: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    app: Any = None  # the Litestar application (its routes, for the access matrix)

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def new_user(self, email: str, scopes: tuple[str, ...] = ("read", "write")) -> str:
        user = await self.catalog.ensure_user(email)
        secret, _ = await issue_token(self.catalog, user, scopes=scopes)
        return secret

    async def add_member(self, email: str, role: str, project: str | None = None) -> str:
        """A user made a member of the seeded project (or `project`) with `role` by the
        owner, through the API; the new member's token."""
        secret = await self.new_user(email)
        project = project or self.ids["project"]
        r = await self.post(f"/api/v1/projects/{project}/members", {"email": email, "role": role})
        assert r.status_code == 201, r.text
        return secret

    async def request(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        return await self.client.request(method, path, headers=self.auth(token) | kw.pop("headers", {}),
                                         **kw)

    async def post(self, path: str, body: Any = None, token: str | None = None, **kw: Any) -> Any:
        return await self.client.post(path, json=body, headers=self.auth(token) | kw.pop("headers", {}), **kw)

    async def get(self, path: str, token: str | None = None, **kw: Any) -> Any:
        return await self.client.get(path, headers=self.auth(token), **kw)

    async def seed(self) -> dict[str, str]:
        """A project with the clothes recipe, a dataset and one registered image item."""
        project = (await self.post("/api/v1/projects", {"name": "shop"})).json()
        recipe = (await self.post(f"/api/v1/projects/{project['id']}/recipes", RECIPE)).json()
        dataset = (await self.post(f"/api/v1/projects/{project['id']}/datasets",
                                   {"name": "catalog", "recipeId": recipe["id"]})).json()
        item = (await self.post(f"/api/v1/datasets/{dataset['id']}/items",
                                {"name": "shirt.jpg", "url": "http://example.com/shirt.jpg",
                                 "mimetype": "image/jpeg"})).json()
        self.ids = {"project": project["id"], "recipe": recipe["id"],
                    "dataset": dataset["id"], "item": item["id"]}
        return self.ids


@contextlib.asynccontextmanager
async def running_platform(settings: Settings, *, services: bool = True) -> AsyncIterator[Platform]:
    app = create_app(settings)
    watchdog: list[asyncio.TimerHandle] = []
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(lambda: [timer.cancel() for timer in watchdog])
        if services:
            await stack.enter_async_context(build_annotation(settings).app)
            await stack.enter_async_context(build_task(settings).app)
            await stack.enter_async_context(build_workflow(settings).app)
        gateway = app.state.gw  # same event loop as the services: no portal thread
        await gateway.start()
        stack.push_async_callback(gateway.stop)
        client = await stack.enter_async_context(httpx.AsyncClient(
            transport=transport_for(app, settings.outcome_wait_s), base_url="http://testserver", timeout=30))
        catalog = gateway.catalog
        platform = Platform(client, settings, app.state.gw, catalog, app=app)
        platform.token = await platform.new_user("owner@example.com")
        try:
            yield platform
        finally:  # the stop begins: watched until its last step (the first callback pushed)
            watchdog.append(asyncio.get_running_loop().call_later(STUCK_AFTER_S, _print_tasks))


STUCK_AFTER_S = 30.0  # a platform that has not stopped by then prints what it waits for


def _print_tasks() -> None:
    """Every task of the event loop with its stack, which pytest-timeout's thread dump does
    not show: a platform stop that hangs says which await it hangs in."""
    print(f"\n--- the platform has not stopped after {STUCK_AFTER_S:.0f} s; its tasks:", file=sys.stderr)
    for task in asyncio.all_tasks():
        task.print_stack(limit=12, file=sys.stderr)


@contextlib.asynccontextmanager
async def gateway_replica(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another gateway process on the same Redis and MongoDB: its own caches, its own app."""
    app = create_app(settings)
    await app.state.gw.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver", timeout=30) as client:
            yield client
    finally:
        await app.state.gw.stop()


@contextlib.asynccontextmanager
async def serving(app: Any, sock: socket.socket) -> AsyncIterator[None]:
    """The app behind a real uvicorn server on `sock`, in this event loop (the gateway is
    already started: no lifespan)."""
    # An open Server-Sent Events stream (a page left on a feed by a failed test) would hold
    # the shutdown forever: connections still open after 3 s are closed.
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning",
                                           access_log=False, timeout_graceful_shutdown=3))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task
