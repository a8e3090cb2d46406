"""Issue 22: a user's dtlpy script runs unchanged against the platform (the real `dtlpy`
package, in its own process, over HTTP on a loopback port), and what it wrote is there."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.platform import RECIPE, Platform, running_platform
from tests.platform import serving as served

SCRIPT = Path(__file__).with_name("dtlpy_script.py")
TASKS_SCRIPT = Path(__file__).with_name("dtlpy_tasks_script.py")
POLO = "men's clothes.polo shirts"


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """The started app behind uvicorn on a free loopback port; its origin."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    async with served(app, sock):
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def demo_shop(p: Platform, items: int) -> list[str]:
    project = (await p.post("/api/v1/projects", {"name": "Demo shop"})).json()
    recipe = (await p.post(f"/api/v1/projects/{project['id']}/recipes", RECIPE)).json()
    dataset = (await p.post(f"/api/v1/projects/{project['id']}/datasets",
                            {"name": "Catalogue photos", "recipeId": recipe["id"]})).json()
    ids = []
    for k in range(items):
        r = await p.post(f"/api/v1/datasets/{dataset['id']}/items",
                         {"name": f"photo{k}.jpg", "url": f"http://example.com/{k}.jpg",
                          "mimetype": "image/jpeg"})
        ids.append(r.json()["id"])
    return ids


async def run_script(base: str, token: str, home: Path, script: Path = SCRIPT) -> tuple[int, str, str]:
    env = os.environ | {"CLF_BASE": base, "CLF_TOKEN": token, "DATALOOP_PATH": str(home),
                        "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_the_issues_dtlpy_script_classifies_every_item_and_reads_it_back(settings, tmp_path):
    async with running_platform(settings) as p:
        await p.seed()  # another project the script must not see
        items = await demo_shop(p, 3)
        async with serving(p.app) as origin:
            code, out, err = await run_script(origin + "/dtlpy", p.token, tmp_path)
            assert code == 0, err[-3000:]
            assert out.count(str([POLO])) == 3, out  # one line per item (a progress bar between)
            for item_id in items:  # read back through the native API: the same annotations
                body = (await p.get(f"/api/v1/items/{item_id}/annotations")).json()
                assert [(a["label"], a["type"]) for a in body["annotations"]] == [(POLO, "class")]
            # then tasks and statuses: `dataset.tasks.list()` and `item.update_status(...)`
            dataset_id = (await p.get(f"/api/v1/items/{items[0]}")).json()["datasetId"]
            project_id = (await p.get(f"/api/v1/datasets/{dataset_id}")).json()["projectId"]
            r = await p.post(f"/api/v1/projects/{project_id}/tasks",
                             {"name": "Check photos", "datasetId": dataset_id, "itemIds": items,
                              "assignees": ["owner@example.com"]})
            assert r.status_code in (200, 201), r.text
            code, out, err = await run_script(origin + "/dtlpy", p.token, tmp_path, TASKS_SCRIPT)
        assert code == 0, err[-3000:]
        assert "task: Check photos 3" in out and "status: 3" in out, out
        for item_id in items:
            refs = (await p.get(f"/api/v1/items/{item_id}")).json()["metadata"]["system"]["refs"]
            assert {r["metadata"].get("status") for r in refs} == {"completed"}


async def test_tokens_are_jwt_shaped_for_dtlpy_and_still_revocable(platform):
    import jwt

    created = (await platform.post("/api/v1/users/me/tokens", {"name": "sdk"})).json()
    claims = jwt.decode(created["token"], options={"verify_signature": False})
    assert claims["email"] == "owner@example.com" and claims["jti"] == created["id"]
    assert claims["exp"] > 4_000_000_000  # no end: dtlpy still needs an `exp` to read
    stored = await platform.catalog.db.tokens.find_one({"tokenId": created["id"]})
    assert created["token"] not in str(stored)  # only the digest is kept
    me = "/dtlpy/api/v1/users/me"
    assert (await platform.get(me, token=created["token"])).json()["email"] == "owner@example.com"
    await platform.request("DELETE", f"/api/v1/users/me/tokens/{created['id']}")
    assert (await platform.get(me, token=created["token"])).status_code == 401


async def test_what_the_compatibility_router_does_not_understand_is_a_422_naming_it(platform):
    dataset, item = platform.ids["dataset"], platform.ids["item"]
    r = await platform.post(f"/dtlpy/api/v1/datasets/{dataset}/query",
                            {"filter": {"$and": [{"metadata.user.x": 1}]}, "resource": "items"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "filter.metadata.user.x"
    r = await platform.post(f"/dtlpy/api/v1/items/{item}/annotations",
                            [{"type": "box", "label": "x", "coordinates": []}])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "[0].type"
    r = await platform.post(f"/dtlpy/api/v1/items/{item}/annotations",
                            [{"type": "class", "label": "no such label"}])
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("[0].")
