"""Shared bench plumbing: reach (or start) a running platform, fire requests, print figures."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


def arguments(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--url", default=os.environ.get("BASE_URL"),
                   help="a running platform (default: start one with the embedded servers)")
    p.add_argument("--token", default=os.environ.get("TOKEN"), help="API token for --url")
    return p


@contextmanager
def platform(url: str | None, token: str | None,
             found: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """Use the given platform, or start `deploy.dev` on fresh data and stop it afterwards
    (its MongoDB URL, for scripts that write their world directly, its Redis URL and the dev
    runner's pid go in `found`)."""
    if url and token:
        yield url.rstrip("/"), token
        return
    data = tempfile.mkdtemp(prefix="bench-")
    # The platform's output (a JSON log line per request and per command) goes to a file:
    # a pipe read only until the token would fill up and block the processes writing to it,
    # and reading it here would take CPU from the measuring client.
    output = Path(data) / "platform.log"
    with output.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "deploy.dev"], cwd=ROOT, text=True,
                                stdout=sink, stderr=subprocess.STDOUT,
                                env=os.environ | {"DATA_DIR": data, "GATEWAY_PORT": "8780"})
    if found is not None:
        found["pid"] = str(proc.pid)
    try:
        token = found_url = None
        deadline = time.monotonic() + 180
        with output.open() as lines:
            while time.monotonic() < deadline and not (token and found_url):
                start = lines.tell()
                line = lines.readline()
                if not line.endswith("\n"):  # nothing new, or a line still being written
                    lines.seek(start)
                    if proc.poll() is not None:
                        raise RuntimeError(f"the platform did not start (its output: {output})")
                    time.sleep(0.05)
                    continue
                if m := re.search(r"export TOKEN=(\S+)", line):
                    token = m.group(1)
                if m := re.search(r"running at (\S+)", line):
                    found_url = m.group(1)
                if (m := re.search(r"\[dev\] MongoDB: (\S+)", line)) and found is not None:
                    found["mongodb"] = m.group(1)
                if (m := re.search(r"\[dev\] Redis: (\S+)", line)) and found is not None:
                    found["redis"] = m.group(1)
        if not token or not found_url:
            raise RuntimeError("the platform did not print its token in time")
        print(f"(the platform's log: {output})", flush=True)
        yield found_url, token
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def api_session(url: str, token: str, **kwargs: Any) -> aiohttp.ClientSession:
    """A client session on the platform with the token, for setup and measured runs."""
    return aiohttp.ClientSession(url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=aiohttp.ClientTimeout(total=600), **kwargs)


LABELS = ["men's clothes.polo shirts", "men's clothes.jeans", "women's clothes.dresses"]


async def demo_classify(http: aiohttp.ClientSession) -> Request:
    """A classify request over the seeded demo dataset's items, the label cycling through
    LABELS: what bench/classify.py and bench/observability.py measure."""
    project = (await (await http.get("/api/v1/projects")).json())["items"][0]["id"]
    datasets = await (await http.get(f"/api/v1/projects/{project}/datasets")).json()
    items = (await (await http.get(f"/api/v1/datasets/{datasets['items'][0]['id']}/items")).json())["items"]
    paths = [f"/api/v1/items/{i['id']}/annotations" for i in items]

    async def classify(session: aiohttp.ClientSession, i: int) -> int:
        body = {"label": LABELS[i % len(LABELS)], "attributes": {"condition": "new"}}
        async with session.post(paths[i % len(paths)], json=body) as r:
            await r.read()
            return r.status

    return classify


def path_of(url: str) -> str:
    """The path of an absolute URL the API answered with (an operation, a bulk)."""
    return "/" + url.split("/", 3)[3]


async def created_task(http: aiohttp.ClientSession, project_id: str, body: dict[str, Any]
                       ) -> tuple[dict[str, Any], int]:
    """Create a task; past the gateway's wait (202) follow its operation. The task and the
    first answer's HTTP status."""
    async with http.post(f"/api/v1/projects/{project_id}/tasks", json=body) as r:
        task, status = await r.json(), r.status
    assert status in (201, 202), task
    if status == 202:
        while (op := await (await http.get(path_of(task["url"]))).json())["status"] == "pending":
            await asyncio.sleep(0.05)
        task = op["result"]["task"]
    return task, status


def percentiles(latencies_s: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in latencies_s)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98], "max": ms[-1]}


def report(name: str, n: int, seconds: float, latencies: list[float], errors: dict[int, int]) -> None:
    p = percentiles(latencies)
    print(f"{name}: {n} requests in {seconds:.2f} s = {n / seconds:,.0f} req/s; "
          f"latency ms p50 {p['p50']:.1f}  p95 {p['p95']:.1f}  p99 {p['p99']:.1f}  max {p['max']:.1f}; "
          f"status {dict(sorted(errors.items()))}", flush=True)


Request = Callable[[aiohttp.ClientSession, int], Awaitable[int]]


async def closed_loop(session: aiohttp.ClientSession, request: Request, n: int,
                      concurrency: int) -> tuple[float, list[float], dict[int, int]]:
    """`concurrency` workers, each sending its next request as soon as the last answered."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            t = time.perf_counter()
            status = await request(session, i)
            latencies.append(time.perf_counter() - t)
            statuses[status] = statuses.get(status, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies, statuses


async def open_loop(session: aiohttp.ClientSession, request: Request, rate: float,
                    seconds: float) -> tuple[float, list[float], dict[int, int]]:
    """A steady `rate` of requests per second, whatever the answers take (no coordinated
    omission: each request's latency is measured from its scheduled start)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    n = int(rate * seconds)
    start = time.perf_counter()

    async def one(i: int) -> None:
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        status = await request(session, i)
        latencies.append(time.perf_counter() - scheduled)
        statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - start, latencies, statuses
