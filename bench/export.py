"""Export figure: a 100,000-item dataset exported streamed, the gateway's memory watched.

    python bench/export.py            # starts the platform with the embedded servers
    python bench/export.py --url http://127.0.0.1:8000 --token <an API token> \\
        --mongodb-url mongodb://127.0.0.1:27017 --mongodb-db classifier [--gateway-pid PID]

Builds the world fast: N image items inserted into the catalog directly (motor bulk inserts),
each with one class annotation (copies of one made over HTTP, so they have the annotation
service's shape). Then downloads `GET /datasets/{id}/export` as JSON, zip and CSV, reading
each answer as it streams in and dropping it (only its bytes are counted), while the gateway's
resident memory (VmRSS from /proc, the process listening on the platform's port) is sampled
every 20 ms: per format the time, the size, and RSS before, at its peak during, and after.
Flat means the peak during a 100,000-item export is about the peak of a 1,000-item one (the
first export, warming up), not growing with the export's size. With `--jobs json,zip`, those
formats also as export jobs (`POST …/exports`, polled until completed, the file downloaded).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp
from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import api_session, arguments, path_of, platform  # noqa: E402

LABEL = "bench.exported"
SAMPLE_S = 0.02


def listening_pid(port: int) -> int:
    """The process listening on `port` (this machine), from /proc: its socket's inode among
    the processes' open files."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                    inodes.add(fields[9])
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = str(fd.readlink())
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    raise RuntimeError(f"no process of this machine listens on port {port} (give --gateway-pid)")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Watch:
    """The gateway's RSS sampled every SAMPLE_S while a block runs: before, peak, after."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0.0

    async def __aenter__(self) -> Watch:
        self.before = self.peak = rss_mb(self.pid)
        self.sampler = asyncio.create_task(self._sample())
        return self

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb(self.pid))
            await asyncio.sleep(SAMPLE_S)

    async def __aexit__(self, *_: Any) -> None:
        self.sampler.cancel()
        self.peak = max(self.peak, rss_mb(self.pid))
        await asyncio.sleep(1.0)  # what the gateway keeps once the answer is gone
        self.after = rss_mb(self.pid)

    def __str__(self) -> str:
        return f"RSS MB before {self.before:.0f}, peak during {self.peak:.0f}, after {self.after:.0f}"


async def world(http: aiohttp.ClientSession, db: Any, n: int) -> str:
    """A dataset of `n` images, each with one class; its id."""
    project = (await (await http.get("/api/v1/projects")).json())["items"][0]
    recipe = await (await http.post(f"/api/v1/projects/{project['id']}/recipes", json={
        "title": "bench", "ontology": {"roots": [{"value": {"tag": "bench"},
                                                  "children": [{"value": {"tag": "exported"}}]}]}})).json()
    dataset = await (await http.post(f"/api/v1/projects/{project['id']}/datasets",
                                     json={"name": f"export {time.time():.0f}", "recipeId": recipe["id"]})).json()
    t = time.perf_counter()
    r = await http.post(f"/api/v1/datasets/{dataset['id']}/items", json={
        "name": "bench-000000.jpg", "url": "http://example.com/0.jpg", "mimetype": "image/jpeg", "dir": "/bench"})
    first = (await r.json())["id"]
    r = await http.post(f"/api/v1/items/{first}/annotations", json={"label": LABEL})
    assert r.status in (200, 201), await r.text()
    item = await db.items.find_one({"_id": first})
    annotation = await db.annotations.find_one({"itemId": first})
    for at in range(1, n, 10_000):
        ids = [str(ObjectId()) for _ in range(at, min(n, at + 10_000))]
        await db.items.insert_many([item | {"_id": i, "name": f"bench-{at + k:06d}.jpg",
                                            "filename": f"/bench/bench-{at + k:06d}.jpg"}
                                    for k, i in enumerate(ids)], ordered=False)
        await db.annotations.insert_many([_retargeted(annotation, first, i) for i in ids], ordered=False)
    print(f"setup: {n:,} items with a class each inserted in {time.perf_counter() - t:.1f} s", flush=True)
    return dataset["id"]


def _retargeted(doc: Any, old: str, new: str) -> Any:
    """A copy of the annotation for item `new` (a fresh id; `old`, the item's id, replaced)."""
    if isinstance(doc, dict):
        out = {k: _retargeted(v, old, new) for k, v in doc.items()}
        if "_id" in out and "itemId" in out:
            out["_id"] = str(ObjectId())
        return out
    if isinstance(doc, list):
        return [_retargeted(v, old, new) for v in doc]
    return new if doc == old else doc


async def streamed(http: aiohttp.ClientSession, pid: int, dataset: str, format: str) -> None:
    t = time.perf_counter()
    size = chunks = 0
    async with Watch(pid) as watch:
        async with http.get(f"/api/v1/datasets/{dataset}/export", params={"format": format}) as r:
            assert r.status == 200, await r.text()
            items = int(r.headers["X-Item-Count"])
            async for data in r.content.iter_any():
                size += len(data)
                chunks += 1
        took = time.perf_counter() - t
    print(f"  {format:5s} {items:>7,} items, {size / 1e6:6.1f} MB in {chunks:,} chunks, {took:6.1f} s "
          f"({items / took:,.0f} items/s); {watch}", flush=True)


async def as_job(http: aiohttp.ClientSession, pid: int, dataset: str, format: str) -> None:
    t = time.perf_counter()
    async with Watch(pid) as writing:
        async with http.post(f"/api/v1/datasets/{dataset}/exports", json={"format": format}) as r:
            job = await r.json()
            assert r.status == 202, job
        while job["status"] == "running":
            await asyncio.sleep(0.2)
            job = await (await http.get(path_of(job["url"]))).json()
        assert job["status"] == "completed", job
        written = time.perf_counter() - t
    size = 0
    async with Watch(pid) as reading, http.get(path_of(job["download"])) as r:
        async for data in r.content.iter_any():
            size += len(data)
    print(f"  {format:5s} job: {job['total']:,} items written in {written:.1f} s, {writing}; "
          f"{size / 1e6:.1f} MB downloaded, {reading}", flush=True)


async def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("-n", type=int, default=100_000, help="items in the dataset")
    parser.add_argument("--mongodb-url", help="the platform's MongoDB (with --url)")
    parser.add_argument("--mongodb-db", default="classifier")
    parser.add_argument("--gateway-pid", type=int, help="default: the process listening on the URL's port")
    parser.add_argument("--formats", default="json,zip,csv", help="streamed exports")
    parser.add_argument("--jobs", default="", help="formats also exported as jobs (written to GridFS)")
    args = parser.parse_args()
    found: dict[str, str] = {}
    with platform(args.url, args.token, found) as (url, token):
        pid = args.gateway_pid or listening_pid(urlparse(url).port or 80)
        mongo = AsyncIOMotorClient(args.mongodb_url or found["mongodb"], tz_aware=True)
        async with api_session(url, token) as http:
            small = await world(http, mongo[args.mongodb_db], 1_000)
            large = await world(http, mongo[args.mongodb_db], args.n)
            print(f"gateway pid {pid}: RSS {rss_mb(pid):.0f} MB", flush=True)
            for name, dataset in (("1,000 items (warm-up)", small), (f"{args.n:,} items", large)):
                print(f"{name}, streamed:", flush=True)
                for format in args.formats.split(","):
                    await streamed(http, pid, dataset, format)
            if args.jobs:
                print(f"{args.n:,} items, as export jobs:", flush=True)
                for format in args.jobs.split(","):
                    await as_job(http, pid, large, format)
        mongo.close()


if __name__ == "__main__":
    asyncio.run(main())
