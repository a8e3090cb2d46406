"""How many annotators one machine serves: N annotators at a human pace, open loop.

    python bench/capacity.py                       # starts the platform with the embedded servers
    python bench/capacity.py --levels 50,100 --seconds 20
    python bench/capacity.py --url http://127.0.0.1:8000 --token <an owner's API token> --pid <deploy.dev's pid>

Each annotator is a real member: invited by the project's owner (POST .../members), who
accepts the invitation (choosing a password: a browser session), and issues a personal API
token in that session. Per level N, one single-class allocation task over N x `per` fresh
items shares them between the N annotators; each turns Auto next item and Auto complete on
and classifies with `taskId`, at exponential think times of mean `--think` s. The schedule
is open loop: the k-th classification is due at the (k-1)-th's due time plus a think time,
whatever the answers took, and its latency counts from when it was due (a late answer
delays the next one: queueing shows).

Prints per N: p50/p95/p99 of classify -> next item answered, items/s achieved against
offered, errors, CPU ms per item summed over the platform's processes (from /proc, the dev
runner's process tree: gateway, services and the embedded servers) and each process's
share, the platform's resident memory; and at the end the capacity: the largest N with p99
at most 50 ms and no errors. Levels stop at the first one that breaks.

The client runs on the same machine and takes CPU from the platform: its own CPU per item
is printed too.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import api_session, arguments, created_task, path_of, percentiles, platform
from bench.observability import processes
from bench.tasks import register

LABEL = "men's clothes.polo shirts"
PASSWORD = "capacity bench password"
P99_BUDGET_MS = 50.0
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# the platform's processes, from /proc -------------------------------------------------------

def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20
    except OSError:
        return 0.0


def snapshot(root: int) -> dict[int, tuple[str, float]]:
    return {pid: (name, cpu_s(pid)) for pid, name in processes(root).items()}


def client_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# the annotators ------------------------------------------------------------------------------

@dataclass
class Annotator:
    email: str
    token: str


async def answered(call: Any) -> tuple[int, dict[str, Any]]:
    async with call as r:
        body = await r.json(content_type=None) if r.status != 204 else {}
        return r.status, body


async def invite(owner: aiohttp.ClientSession, project: str, email: str) -> str:
    """The owner adds the email as an annotator: the invitation's secret."""
    while True:
        status, added = await answered(owner.post(f"/api/v1/projects/{project}/members",
                                                  json={"email": email, "role": "annotator"}))
        if status != 409:  # 409: another change of the members came first (compare-and-set)
            assert status == 201, (status, added)
            return added["invitation"]["url"].rstrip("/").rsplit("/", 1)[1]


async def member(base: str, email: str, secret: str, i: int) -> Annotator:
    """The invited annotator accepts (choosing a password: a session) and issues a token."""
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post(f"/api/v1/invitations/{secret}/accept",
                                json={"displayName": f"Annotator {i}", "password": PASSWORD}) as r:
            assert r.status == 200, await r.text()
            csrf = r.headers["X-CSRF-Token"]
        async with browser.post("/api/v1/users/me/tokens", json={"name": "capacity bench"},
                                headers={"X-CSRF-Token": csrf}) as r:
            assert r.status in (200, 201), await r.text()
            token = (await r.json())["token"]
    return Annotator(email, token)


async def members(owner: aiohttp.ClientSession, base: str, project: str, n: int) -> list[Annotator]:
    run = f"{time.time():.0f}"
    sem = asyncio.Semaphore(8)  # a password hash each: the gateway's CPU, not the bench's
    t = time.perf_counter()
    emails = [f"annotator{i:04d}.{run}@capacity.example" for i in range(n)]
    secrets = [await invite(owner, project, email) for email in emails]  # one members change at a time

    async def one(i: int) -> Annotator:
        async with sem:
            return await member(base, emails[i], secrets[i], i)

    found = await asyncio.gather(*(one(i) for i in range(n)))
    print(f"setup: {n} annotators invited, accepted and given tokens in {time.perf_counter() - t:.1f} s",
          flush=True)
    return list(found)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    pending: int = 0  # answered 202: followed to the end (latency counted until then)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def level_setup(owner: aiohttp.ClientSession, project: str, recipe: str,
                      annotators: list[Annotator], per: int) -> str:
    """A dataset of N x `per` items and a single-class allocation task sharing them."""
    n = len(annotators)
    _, dataset = await answered(owner.post(f"/api/v1/projects/{project}/datasets",
                                           json={"name": f"capacity {n} {time.time():.0f}", "recipeId": recipe}))
    t = time.perf_counter()
    await register(owner, dataset["id"], n * per)
    task, _ = await created_task(owner, project, {
        "name": f"capacity {n}", "datasetId": dataset["id"], "assignees": [a.email for a in annotators],
        "filter": {"dir": "/bench"}, "allocation": "distribution", "singleClass": True})
    print(f"setup N={n}: {n * per:,} items and the task in {time.perf_counter() - t:.1f} s", flush=True)
    return task["id"]


async def first_item(http: aiohttp.ClientSession, annotator: Annotator, task_id: str) -> str | None:
    headers = {"Authorization": f"Bearer {annotator.token}"}
    status, body = await answered(http.put(f"/api/v1/tasks/{task_id}/workflow-settings", headers=headers,
                                           json={"autoNext": True, "autoComplete": True}))
    assert status == 200, (status, body)
    status, moved = await answered(http.post(f"/api/v1/tasks/{task_id}/next-item", headers=headers))
    assert status == 200, (status, moved)
    return (moved.get("nextItem") or {}).get("id")


async def follow(http: aiohttp.ClientSession, headers: dict[str, str], url: str) -> tuple[str, dict[str, Any]]:
    """A 202's operation, polled to its end: its status and result."""
    while True:
        _, op = await answered(http.get(path_of(url), headers=headers))
        if op.get("status") != "pending":
            return op.get("status", "?"), op.get("result") or {}
        await asyncio.sleep(0.02)


async def annotate(http: aiohttp.ClientSession, annotator: Annotator, task_id: str, item: str | None,
                   start: float, seconds: float, think: float, rng: random.Random, tally: Tally) -> int:
    """One annotator's open-loop session; the items classified."""
    headers = {"Authorization": f"Bearer {annotator.token}"}
    due, done = start + rng.expovariate(1 / think), 0
    while item and due < start + seconds:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        status, body = await answered(http.post(f"/api/v1/items/{item}/annotations", headers=headers,
                                                json={"label": LABEL, "taskId": task_id}))
        if status == 202:
            tally.pending += 1
            outcome, body = await follow(http, headers, body["url"])
            if outcome != "succeeded":
                tally.error(f"202 then {outcome}")
                return done
            _, body = await answered(http.post(f"/api/v1/tasks/{task_id}/next-item", headers=headers,
                                               json={"itemId": item}))
        elif status >= 300:
            tally.error(str(status))
            return done
        tally.latencies.append(time.perf_counter() - due)
        done += 1
        if "nextItem" not in body:
            tally.error("no nextItem in the answer")
            return done
        item = (body["nextItem"] or {}).get("id")
        due += rng.expovariate(1 / think)
    return done


@dataclass
class Level:
    n: int
    p: dict[str, float]
    achieved: float
    offered: float
    errors: dict[str, int]
    cpu_ms_per_item: float
    shares: dict[str, float]
    rss_mib: float

    @property
    def holds(self) -> bool:
        return not self.errors and self.p["p99"] <= P99_BUDGET_MS


async def run_level(owner: aiohttp.ClientSession, base: str, project: str, recipe: str, root: int,
                    annotators: list[Annotator], seconds: float, think: float) -> Level:
    n = len(annotators)
    per = int(seconds / think * 2) + 10
    task_id = await level_setup(owner, project, recipe, annotators, per)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=120)) as http:
        firsts = await asyncio.gather(*(first_item(http, a, task_id) for a in annotators))
        tally, rng = Tally(), random.Random(n)
        before, client_before = snapshot(root), client_cpu_s()
        start = time.perf_counter()
        done = await asyncio.gather(*(annotate(http, a, task_id, item, start, seconds, think,
                                               random.Random(rng.random()), tally)
                                      for a, item in zip(annotators, firsts, strict=True)))
        elapsed = time.perf_counter() - start
        after, client_after = snapshot(root), client_cpu_s()
    items = sum(done)
    by_name: dict[str, float] = {}
    for pid, (name, cpu) in after.items():
        by_name[name] = by_name.get(name, 0.0) + cpu - before.get(pid, (name, 0.0))[1]
    total = sum(by_name.values())
    shares = {k: v / total for k, v in sorted(by_name.items(), key=lambda kv: -kv[1]) if total and v > 0}
    rss = sum(rss_mib(pid) for pid in processes(root))
    p = percentiles(tally.latencies) if len(tally.latencies) > 1 else {"p50": 0, "p95": 0, "p99": 0, "max": 0}
    level = Level(n, p, items / elapsed, n / think, tally.errors, 1000 * total / max(items, 1), shares, rss)
    print(f"N={n}: {items:,} items in {elapsed:.1f} s = {level.achieved:,.1f} items/s of {level.offered:,.0f} "
          f"offered; classify -> next item ms p50 {p['p50']:.1f}  p95 {p['p95']:.1f}  p99 {p['p99']:.1f}  "
          f"max {p['max']:.1f}; 202s {tally.pending}; errors {tally.errors or 0}", flush=True)
    print(f"      CPU {level.cpu_ms_per_item:.2f} ms/item summed over the platform "
          f"({', '.join(f'{k} {v:.0%}' for k, v in shares.items())}); platform RSS {rss:,.0f} MiB; "
          f"the bench client {1000 * (client_after - client_before) / max(items, 1):.2f} ms/item", flush=True)
    return level


async def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--pid", type=int, help="the platform's root process (with --url): whose tree /proc measures")
    parser.add_argument("--levels", default="50,100,200,400,800", help="annotator counts, in order")
    parser.add_argument("--seconds", type=float, default=30, help="length of each level's run")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time, s")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    found: dict[str, str] = {}
    with platform(args.url, args.token, found) as (url, token):
        root = int(found.get("pid") or args.pid or 0)
        if not root:
            raise SystemExit("--pid is needed with --url: the platform's root process, for /proc")
        async with api_session(url, token) as owner:
            _, projects = await answered(owner.get("/api/v1/projects"))
            project = projects["items"][0]["id"]
            _, datasets = await answered(owner.get(f"/api/v1/projects/{project}/datasets"))
            recipe = datasets["items"][0]["recipeId"]
            annotators = await members(owner, url, project, max(levels))
            results: list[Level] = []
            for n in levels:
                results.append(await run_level(owner, url, project, recipe, root, annotators[:n],
                                               args.seconds, args.think))
                if not results[-1].holds:
                    break
        held = [r.n for r in results if r.holds]
        print(f"capacity: {max(held) if held else 0} annotators (p99 <= {P99_BUDGET_MS:.0f} ms, no errors)"
              + ("" if results[-1].holds else f"; N={results[-1].n} broke it"), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
