"""Past capacity the gateway slows down or sheds load honestly: a few hundred requests at once
on a gateway whose Redis pool holds four connections answer 200/201/202 or 503 with
Retry-After naming the dependency, never 500, and every accepted command resolves. A
dependency down, met anywhere in a request, is such a 503 too."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from pymongo.errors import ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError

from services.annotation.bootstrap import build as build_annotation
from services.task.bootstrap import build as build_task
from services.workflow.bootstrap import build as build_workflow
from tests.platform import Platform, running_platform

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"
ITEMS, CLASSIFIES, READS = 4, 160, 160
RESOLVE_S = 15  # after the burst, how long 202 operations have to end


@contextlib.asynccontextmanager
async def small_gateway(settings):
    """The services as usual; the gateway with a Redis pool of four connections and a short
    wait for one, so a burst exhausts it."""
    small = settings.model_copy(update={"redis_max_connections": 4, "redis_pool_wait_s": 0.3,
                                        "outcome_wait_s": 5.0})
    async with contextlib.AsyncExitStack() as stack:
        for build in (build_annotation, build_task, build_workflow):
            await stack.enter_async_context(build(settings).app)
        platform = await stack.enter_async_context(running_platform(small, services=False))
        await platform.seed()
        yield platform


async def register_items(p: Platform) -> list[str]:
    items = [p.ids["item"]]
    for n in range(ITEMS - 1):
        r = await p.post(f"/api/v1/datasets/{p.ids['dataset']}/items",
                         {"name": f"extra-{n}.jpg", "url": f"http://example.com/{n}.jpg",
                          "mimetype": "image/jpeg"})
        assert r.status_code == 201, r.text
        items.append(r.json()["id"])
    return items


def refused_honestly(r: Any) -> bool:
    return (r.status_code == 503 and r.headers.get("retry-after", "").isdigit()
            and r.json().get("dependency") in ("redis", "mongodb"))


async def resolved(p: Platform, operation: str) -> bool:
    deadline = time.monotonic() + RESOLVE_S
    while time.monotonic() < deadline:
        r = await p.get(f"/api/v1/operations/{operation}")
        if r.status_code == 200 and r.json()["status"] in ("succeeded", "rejected"):
            return True
        await asyncio.sleep(0.2)
    return False


async def test_a_burst_past_the_redis_pool_is_answered_with_503s_never_500s(settings):
    async with small_gateway(settings) as p:
        items = await register_items(p)
        dataset = p.ids["dataset"]

        async def classify(n: int) -> Any:
            return await p.post(f"/api/v1/items/{items[n % ITEMS]}/annotations",
                                {"label": POLO, "attributes": {"condition": "new"}},
                                headers={"Idempotency-Key": uuid.uuid4().hex})

        async def read(n: int) -> Any:
            path = (f"/api/v1/items/{items[n % ITEMS]}/annotations", "/api/v1/users/me",
                    f"/api/v1/datasets/{dataset}/items")[n % 3]
            return await p.get(path)

        # interleaved: the reads are not all queued behind the commands for the pool (a slow
        # machine then refused every read, which says nothing about load shedding)
        started = time.monotonic()
        answers = await asyncio.gather(*(classify(n // 2) if n % 2 == 0 else read(n // 2)
                                         for n in range(CLASSIFIES + READS)))
        statuses = Counter(r.status_code for r in answers)
        print(f"{len(answers)} requests in {time.monotonic() - started:.1f} s: {dict(statuses)}")

        assert set(statuses) <= {200, 201, 202, 503}, statuses
        assert all(refused_honestly(r) for r in answers if r.status_code == 503)
        commands = answers[0::2]
        pending = [r.json()["operationId"] for r in commands if r.status_code == 202]
        assert all(await asyncio.gather(*(resolved(p, op) for op in pending)))
        accepted = sum(r.status_code in (201, 202) for r in commands)
        assert accepted > 0 and statuses[200] > 0

        # an accepted command is done once, a refused one not at all
        stored = 0
        for item in items:
            r = await p.get(f"/api/v1/items/{item}/annotations")
            assert r.status_code == 200, r.text
            stored += r.json()["annotationsCount"]
        assert stored == accepted


async def test_a_dependency_down_anywhere_in_a_request_answers_503_naming_it(settings,
                                                                             monkeypatch):
    async with running_platform(settings, services=False) as p:
        await p.seed()
        fresh = await p.new_user("fresh@example.com")  # its token is not cached yet

        async def mongodb_down(*_: Any, **__: Any) -> None:
            raise ServerSelectionTimeoutError("127.0.0.1:27017: connection refused")

        async def redis_busy(*_: Any, **__: Any) -> None:
            raise RedisConnectionError("No connection available.")

        monkeypatch.setattr(p.gateway.catalog, "token", mongodb_down)  # in the auth middleware
        r = await p.get("/api/v1/users/me", token=fresh)
        assert refused_honestly(r) and r.json()["dependency"] == "mongodb", r.text

        monkeypatch.setattr(p.gateway.bus, "send", redis_busy)  # in a controller
        r = await p.post(f"/api/v1/items/{p.ids['item']}/annotations", {"label": POLO})
        assert refused_honestly(r) and r.json()["dependency"] == "redis", r.text
