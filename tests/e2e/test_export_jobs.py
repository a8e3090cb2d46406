"""Issue 22 and 21, export: a dataset's or a task's items exported as a job (202 with its
progress URL, the file written to the file store, downloaded when done), taken over when its
gateway is gone; a task's items exported streamed like a dataset's; a large export streamed
in chunks (no whole export in one piece)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import socket
import zipfile
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gateway.repository import new_id
from tests.e2e.test_bulk_crash import register_many
from tests.e2e.test_export_formats import POLO, _world
from tests.platform import serving

pytestmark = pytest.mark.e2e


async def finished(p, url: str) -> dict:
    url = url.removeprefix("http://testserver")
    for _ in range(600):
        job = (await p.get(url)).json()
        if job["status"] != "running":
            return job
        await asyncio.sleep(0.025)
    raise AssertionError(f"export still running: {job}")


def entries(archive: bytes) -> dict[str, dict]:
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return {name: json.loads(z.read(name)) for name in z.namelist()}


async def test_a_dataset_and_a_task_export_as_jobs_with_progress_and_a_download(platform):
    p = platform
    ids = await _world(p)
    r = await p.post(f"/api/v1/datasets/{p.ids['dataset']}/exports", {"format": "zip"})
    assert r.status_code == 202 and r.headers["location"] == r.json()["url"], r.text
    job = await finished(p, r.json()["url"])
    assert (job["status"], job["processed"], job["total"]) == ("completed", 3, 3), job
    events = (await p.get(job["feed"].removeprefix("http://testserver"))).text
    assert events.startswith("event: completed") and job["download"] in events
    got = await p.get(job["download"].removeprefix("http://testserver"))
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    streamed = (await p.get(f"/api/v1/datasets/{p.ids['dataset']}/export?format=zip")).content
    assert entries(got.content) == entries(streamed)

    task = (await p.get(f"/api/v1/projects/{p.ids['project']}/tasks")).json()["items"][0]["id"]
    r = await p.post(f"/api/v1/tasks/{task}/exports", {"format": "csv"})
    job = await finished(p, r.json()["url"])
    rows = list(csv.DictReader(io.StringIO((await p.get(job["download"].removeprefix("http://testserver"))).text)))
    assert [(row["filename"], row["status"]) for row in rows] == [("/shirt.jpg", "completed")] * 2
    streamed = await p.get(f"/api/v1/tasks/{task}/export?format=json")
    assert streamed.headers["x-item-count"] == "1" and [i["id"] for i in streamed.json()] == [ids["shirt"]]

    r = await p.post(f"/api/v1/datasets/{p.ids['dataset']}/exports", {"format": "pdf"})
    assert r.status_code == 422 and "format" in r.text
    r = await p.post(f"/api/v1/datasets/{p.ids['dataset']}/exports", {"format": "zip", "extra": 1})
    assert r.status_code == 422 and "extra" in r.text
    assert await p.catalog.db.exports.count_documents({}) == 2  # the refused ones made nothing


async def test_an_export_whose_gateway_is_gone_is_taken_over_and_written_once(platform):
    """A job left running with its lease run out (its gateway died midway, a part of its file
    written) is taken over by a live gateway's sweep and written again from the start."""
    p = platform
    await _world(p)
    file_id = new_id()
    job = {"_id": new_id(), "datasetId": p.ids["dataset"], "projectId": p.ids["project"], "format": "json",
           "status": "running", "processed": 1, "total": 3, "fileId": file_id, "creator": "owner@example.com",
           "owner": "a dead gateway", "leaseUntil": datetime.now(UTC) - timedelta(seconds=1), "attempts": 1}
    await p.catalog.db.exports.insert_one(job)
    from bson import ObjectId
    await p.catalog.db["files.chunks"].insert_one({"files_id": ObjectId(file_id), "n": 0, "data": b"[{half"})
    assert await p.gateway.jobs.sweep() == 1
    done = await finished(p, f"/api/v1/datasets/{p.ids['dataset']}/exports/{job['_id']}")
    assert (done["status"], done["attempts"]) == ("completed", 2), done
    body = (await p.get(done["download"].removeprefix("http://testserver"))).json()
    assert len(body) == 3


async def test_a_large_export_arrives_in_chunks_as_it_is_written(platform):
    """Through a real HTTP server: the answer is chunked (no Content-Length: nothing waits
    for the whole export), many chunks arrive, and together they hold every item."""
    p = platform
    n = 2_000
    await register_many(p, n)
    await p.post(f"/api/v1/items/{p.ids['item']}/annotations", {"label": POLO})
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    async with serving(p.app, sock), httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=60) as client, \
            client.stream("GET", f"/api/v1/datasets/{p.ids['dataset']}/export?format=json",
                          headers=p.auth()) as r:
        assert r.headers.get("transfer-encoding") == "chunked" and "content-length" not in r.headers
        assert r.headers["x-item-count"] == str(n)
        chunks = [c async for c in r.aiter_raw()]
    assert len(chunks) > 10
    items = json.loads(b"".join(chunks))
    shirt = next(i for i in items if i["id"] == p.ids["item"])
    assert len(items) == n and [a["label"] for a in shirt["annotations"]] == [POLO]
