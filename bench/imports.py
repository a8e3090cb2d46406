"""Import figure over HTTP against the running platform.

    python bench/imports.py                  # starts the platform with the embedded servers
    python bench/imports.py --url http://127.0.0.1:8000 --token ... -n 10000

Registers N image items, then imports a CSV classifying each of them (one row per item)
and prints the time from the upload to the job's report saying completed (every
annotation stored by the annotation service). Target: 10,000 in under 10 s. Then the same
file again: every row a duplicate, nothing doubled.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import api_session, arguments, platform  # noqa: E402
from bench.tasks import register  # noqa: E402

LABEL = "bench.imported"


async def setup(http: aiohttp.ClientSession, n: int) -> str:
    project = (await (await http.get("/api/v1/projects")).json())["items"][0]
    recipe = await (await http.post(f"/api/v1/projects/{project['id']}/recipes", json={
        "title": "bench", "ontology": {"roots": [{"value": {"tag": "bench"},
                                                  "children": [{"value": {"tag": "imported"}}]}]}})).json()
    dataset = await (await http.post(f"/api/v1/projects/{project['id']}/datasets",
                                     json={"name": f"import {time.time():.0f}", "recipeId": recipe["id"]})).json()
    t = time.perf_counter()
    await register(http, dataset["id"], n)
    print(f"setup: {n:,} items registered in {time.perf_counter() - t:.1f} s", flush=True)
    return dataset["id"]


async def timed_import(http: aiohttp.ClientSession, dataset: str, body: bytes) -> tuple[float, dict]:
    t = time.perf_counter()
    form = aiohttp.FormData()
    form.add_field("file", body, filename="labels.csv", content_type="text/csv")
    async with http.post(f"/api/v1/datasets/{dataset}/import", data=form) as r:
        assert r.status == 202, await r.text()
        url = (await r.json())["url"]
    path = url[url.index("/api/v1/"):]
    while True:
        job = await (await http.get(path)).json()
        if job["status"] != "running":
            return time.perf_counter() - t, job
        await asyncio.sleep(0.05)


async def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("-n", type=int, default=10_000, help="image annotations to import")
    args = parser.parse_args()
    with platform(args.url, args.token) as (url, token):
        async with api_session(url, token) as http:
            dataset = await setup(http, args.n)
            rows = "".join(f"/bench/bench-{i:06d}.jpg,{LABEL}\n" for i in range(args.n))
            body = ("filename,label\n" + rows).encode()
            took, job = await timed_import(http, dataset, body)
            print(f"import: {job['imported']:,} annotations in {took:.2f} s "
                  f"({job['status']}; {job['refused']} refused)", flush=True)
            took, job = await timed_import(http, dataset, body)
            print(f"again: {job['imported']} imported, {job['duplicates']:,} duplicates in {took:.2f} s",
                  flush=True)


if __name__ == "__main__":
    asyncio.run(main())
