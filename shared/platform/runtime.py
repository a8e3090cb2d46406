"""Hosting a service: a FastStream app with liveness and readiness endpoints, run by uvicorn."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.redis import RedisBroker

from shared.platform import observability
from shared.platform.messaging import read_groups, subscribers_running

Check = Callable[[], Awaitable[bool]]
# Each check's bound; they run together, so readiness answers within about this even when
# a dependency is down (a probe that hangs is as bad as one that lies).
CHECK_TIMEOUT_S = 1.0
RETRY_AFTER_S = 1
WHY = {"subscribers": "a stream subscriber has stopped"}


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> AsgiResponse:
    return AsgiResponse(json.dumps(body).encode(), status,
                        {"content-type": "application/json"} | (headers or {}))


async def run_checks(checks: dict[str, Check]) -> dict[str, bool]:
    """Every check at once, each False when it fails or takes over CHECK_TIMEOUT_S."""
    async def one(check: Check) -> bool:
        try:
            return bool(await asyncio.wait_for(check(), CHECK_TIMEOUT_S))
        except Exception:
            return False

    results = await asyncio.gather(*(one(c) for c in checks.values()))
    return dict(zip(checks, results, strict=True))


def readiness(service: str, checks: dict[str, bool]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """The readiness answer (body, status, headers): what is down, said in words too."""
    down = [name for name, ok in checks.items() if not ok]
    body: dict[str, Any] = {"service": service, "ready": not down, "checks": checks}
    if not down:
        return body, 200, {}
    body |= {"down": down, "detail": f"{service} is not ready: "
             + "; ".join(WHY.get(name, f"{name} does not answer") for name in down)}
    return body, 503, {"Retry-After": str(RETRY_AFTER_S)}


def service_app(
    name: str,
    broker: RedisBroker,
    *,
    checks: dict[str, Check],
    on_startup: Sequence[Callable[[], Awaitable[None]]] = (),
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
) -> AsgiFastStream:
    """The service's FastStream app. Readiness fails, within about a second, when Redis or
    MongoDB does not answer or a subscriber has stopped, and says which."""

    async def subscribers() -> bool:
        return subscribers_running(broker)

    all_checks = {"redis": lambda: broker.ping(CHECK_TIMEOUT_S), **checks,
                  "subscribers": subscribers}

    @get(include_in_schema=False)
    async def live(scope: Any) -> AsgiResponse:
        return _json({"service": name, "status": "alive"}, 200)

    @get(include_in_schema=False)
    async def ready(scope: Any) -> AsgiResponse:
        return _json(*readiness(name, await run_checks(all_checks)))

    routes = [("/health/live", live), ("/health/ready", ready)]
    if observability.settings().metrics_enabled:
        routes.append(("/metrics", metrics_route(broker)))
    return AsgiFastStream(
        broker,
        asgi_routes=routes,
        on_startup=list(on_startup),
        after_shutdown=list(on_shutdown),
        logger=logging.getLogger(f"classifier.{name}"),
    )


def metrics_route(broker: RedisBroker) -> Any:
    """/metrics: the process's Prometheus metrics, the stream gauges of the groups it reads
    refreshed first (shared.platform.observability.metrics)."""
    from shared.platform.observability import metrics

    @get(include_in_schema=False)
    async def exposition(scope: Any) -> AsgiResponse:
        redis, groups = read_groups(broker)
        if redis is not None and groups:
            await metrics.refresh_streams(redis, groups)
        return AsgiResponse(metrics.exposition(), 200, {"content-type": metrics.CONTENT_TYPE})

    return exposition


def serve(app: Any, port: int) -> None:
    import gc
    import logging.config

    import uvicorn

    config = observability.logging_config()
    logging.config.dictConfig(config)
    # Everything built so far (modules, models, routes) lives as long as the process: keep
    # it out of the collector's full passes, which otherwise walk it all, pausing the
    # requests in flight (docs/fast-paths.md, Frozen start-up objects).
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host="0.0.0.0", port=port, log_level="warning", lifespan="on", loop="auto",
                http="auto", log_config=config)
