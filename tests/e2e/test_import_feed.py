"""Issue 22: an import's progress on its live feed (Server-Sent Events), read from another
gateway replica than the one running the import: progress while it waits for the annotation
service, then the completed job with its report."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.app import create_app
from services.annotation.bootstrap import build as build_annotation
from tests.e2e.test_bulk_crash import register_many
from tests.platform import running_platform, serving

pytestmark = pytest.mark.e2e

N = 1_200
POLO = "men's clothes.polo shirts"


async def sse(response: httpx.Response) -> AsyncIterator[tuple[str, dict]]:
    event, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data += line.removeprefix("data:").strip()
        elif not line and data:
            yield event, json.loads(data)
            event, data = "message", ""


async def test_an_imports_progress_streams_on_its_feed_from_another_replica(settings):
    async with running_platform(settings, services=False) as p:  # no annotation service yet
        await p.seed()
        await register_many(p, N)
        body = "filename,label\n/shirt.jpg,\"{0}\"\n".format(POLO) + \
            "".join(f'/img{i:05d}.jpg,"{POLO}"\n' for i in range(1, N))
        r = await p.client.post(f"/api/v1/datasets/{p.ids['dataset']}/import",
                                files={"file": ("labels.csv", body.encode())}, headers=p.auth())
        assert r.status_code == 202, r.text
        feed = r.json()["feed"].removeprefix("http://testserver")
        replica = create_app(settings)
        await replica.state.gw.start()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        try:
            async with serving(replica, sock), httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=60) as client, \
                    client.stream("GET", feed, headers=p.auth()) as answer:
                assert answer.headers["content-type"].startswith("text/event-stream")
                events = sse(answer)
                kind, first = await anext(events)
                while first.get("total") is None:  # the job reads the upload and the dataset first
                    kind, first = await anext(events)
                assert kind == "progress" and (first["status"], first["total"], first["processed"]) == \
                    ("running", N, 0)
                async with build_annotation(settings).app:  # the service comes: the job goes on
                    seen = [(kind, first)] + [e async for e in events]
        finally:
            await replica.state.gw.stop()
    kind, job = seen[-1]
    assert kind == "completed" and job["imported"] == N and job["files"][0]["imported"] == N
    done = [b["processed"] for k, b in seen if k == "progress"]
    assert done == sorted(done) and all(0 <= n <= N for n in done)
