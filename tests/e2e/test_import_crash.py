"""Issue 22: an import whose annotation service is killed (SIGKILL) midway still finishes
after it restarts, every annotation exactly once; running the import again adds nothing.
An import whose gateway is killed is taken over by another gateway and finishes once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import pytest

from deploy.embedded import free_port
from tests.e2e.processes import kill, service, spawn, wait_ready
from tests.e2e.test_bulk_crash import kill_midway, register_many
from tests.platform import running_platform

pytestmark = pytest.mark.e2e

N = 2_000
POLO = "men's clothes.polo shirts"


@pytest.fixture
async def bare_platform(settings):
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


async def test_an_import_whose_gateway_is_killed_is_taken_over_by_another_and_finishes_once(settings):
    """The job's lease runs out when its gateway dies (SIGKILL); another gateway takes the
    job over and runs it again from its stored upload: every annotation once, the report
    counting what the first run stored as imported."""
    settings = settings.model_copy(update={"job_lease_s": 1.0})
    n = 3_000
    async with running_platform(settings) as p:  # the services, and the gateway that takes over
        await p.seed()
        db = p.catalog.db
        await register_many(p, n)
        names = ["/shirt.jpg"] + [f"/img{i:05d}.jpg" for i in range(1, n)]
        body = ("filename,label\n" + "".join(f'{x},"{POLO}"\n' for x in names)).encode()
        port = free_port()
        doomed = spawn("gateway", settings, port, JOB_LEASE_SECONDS="1")
        try:
            await asyncio.to_thread(wait_ready, doomed, port, "gateway")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                r = await client.post(f"/api/v1/datasets/{p.ids['dataset']}/import",
                                      files={"file": ("labels.csv", body)}, headers=p.auth())
            assert r.status_code == 202, r.text
            then = await kill_midway(doomed, lambda: db.annotations.count_documents({}), "annotation")
        finally:
            kill(doomed)
        assert 0 < then < n, "the gateway was not killed midway"
        job = await _job(p, f"/api/v1/datasets/{p.ids['dataset']}/imports/{r.json()['id']}")
        for _ in range(100):  # the upload, kept for a takeover, is dropped once the job has ended
            uploads = await db["files.files"].count_documents({"filename": "labels.csv"})
            if uploads == 0:
                break
            await asyncio.sleep(0.05)
        stored = await db.imports.find_one({"_id": job["id"]})
        live = Counter([a["itemId"] async for a in db.annotations.find(
            {"_deleted": {"$exists": False}}, {"itemId": 1})])
    assert job["status"] == "completed" and job["attempts"] == 2, job
    assert (job["imported"], job["duplicates"], job["refused"]) == (n, 0, 0)
    assert len(live) == n and set(live.values()) == {1}
    assert "fileId" not in stored and uploads == 0
