"""Hosting a service: a FastStream app with liveness and readiness endpoints, run by uvicorn."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.redis import RedisBroker

from shared.messaging import subscribers_running

Check = Callable[[], Awaitable[bool]]


def _json(body: dict[str, Any], status: int) -> AsgiResponse:
    return AsgiResponse(json.dumps(body).encode(), status, {"content-type": "application/json"})


async def _run_checks(checks: dict[str, Check]) -> dict[str, bool]:
    async def one(check: Check) -> bool:
        try:
            return bool(await asyncio.wait_for(check(), 2.0))
        except Exception:
            return False

    results = await asyncio.gather(*(one(c) for c in checks.values()))
    return dict(zip(checks, results, strict=True))


def service_app(
    name: str,
    broker: RedisBroker,
    *,
    checks: dict[str, Check],
    on_startup: Sequence[Callable[[], Awaitable[None]]] = (),
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
) -> AsgiFastStream:
    """The service's FastStream app. Readiness fails when Redis or MongoDB does not answer
    or a subscriber has stopped."""

    async def subscribers() -> bool:
        return subscribers_running(broker)

    all_checks = {"redis": lambda: broker.ping(2.0), **checks, "subscribers": subscribers}

    @get(include_in_schema=False)
    async def live(scope: Any) -> AsgiResponse:
        return _json({"service": name, "status": "alive"}, 200)

    @get(include_in_schema=False)
    async def ready(scope: Any) -> AsgiResponse:
        results = await _run_checks(all_checks)
        ok = all(results.values())
        return _json({"service": name, "ready": ok, "checks": results}, 200 if ok else 503)

    return AsgiFastStream(
        broker,
        asgi_routes=[("/health/live", live), ("/health/ready", ready)],
        on_startup=list(on_startup),
        after_shutdown=list(on_shutdown),
        logger=logging.getLogger(f"classifier.{name}"),
    )


def serve(app: Any, port: int) -> None:
    import gc

    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Everything built so far (modules, models, routes) lives as long as the process: keep
    # it out of the collector's full passes, which otherwise walk it all (~30 ms each, a
    # request's latency tail).
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host="0.0.0.0", port=port, log_level="warning", lifespan="on", loop="auto",
                http="auto")
