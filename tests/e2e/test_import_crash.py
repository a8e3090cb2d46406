"""Issue 22: an import whose annotation service is killed (SIGKILL) midway still finishes
after it restarts, every annotation exactly once; running the import again adds nothing."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from tests.e2e.processes import service
from tests.e2e.test_bulk_crash import kill_midway, register_many

pytestmark = pytest.mark.e2e

N = 2_000
POLO = "men's clothes.polo shirts"


@pytest.fixture
async def bare_platform(settings):
    from tests.platform import running_platform

    async with running_platform(settings, services=False) as p:
        await p.seed()
        yield p


async def _job(platform, url: str, deadline_s: float = 120) -> dict:
    deadline = time.monotonic() + deadline_s
    while (job := (await platform.get(url)).json())["status"] == "running":
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.1)
    return job


async def test_an_import_finishes_once_per_annotation_after_the_annotation_service_is_killed(
        bare_platform, settings):
    platform, db = bare_platform, bare_platform.catalog.db
    await register_many(platform, N)
    names = ["/shirt.jpg"] + [f"/img{i:05d}.jpg" for i in range(1, N)]
    body = ("filename,label\n" + "".join(f'{n},"{POLO}"\n' for n in names)).encode()
    path = f"/api/v1/datasets/{platform.ids['dataset']}/import"
    with service("annotation", settings, 1) as annotation:
        r = await platform.client.post(path, files={"file": ("labels.csv", body)}, headers=platform.auth())
        assert r.status_code == 202, r.text
        url = r.json()["url"].removeprefix("http://testserver")
        then = await kill_midway(annotation, lambda: db.annotations.count_documents({}), "annotation")
    assert 0 < then < N, "the service was not killed midway"
    with service("annotation", settings, 2):
        job = await _job(platform, url)
        assert job["status"] == "completed" and job["refused"] == 0, job
        live = Counter([a["itemId"] async for a in db.annotations.find(
            {"_deleted": {"$exists": False}}, {"itemId": 1})])
        assert len(live) == N and set(live.values()) == {1}
        r = await platform.client.post(path, files={"file": ("labels.csv", body)}, headers=platform.auth())
        again = await _job(platform, r.json()["url"].removeprefix("http://testserver"))
    assert (again["imported"], again["duplicates"]) == (0, N)
    assert await db.annotations.count_documents({}) == N
