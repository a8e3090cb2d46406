"""A few hundred classifies, plain and in a task, from clients that retry with their
Idempotency-Key, while the annotation, task and workflow services and then the gateway are
SIGKILLed and restarted, one after the other: every command ends resolved (201, a refusal, or
202 whose operation ends succeeded or rejected), none lost, none doubled."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.e2e.processes import Fleet
from tests.e2e.test_bulk_crash import register_many
from tests.e2e.test_tasks import create_task
from tests.platform import running_platform

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"
PLAIN_ITEMS, PLAIN, IN_TASK, OUTSIDE = 30, 150, 140, 10  # 300 commands
CLIENTS = 16
# Killed and restarted in this order, each with traffic before, during and after (load()).
VICTIMS = ("annotation", "task", "workflow", "gateway")
FLOWING, DOWN_QUOTA = 20, 24  # commands sent before each kill, and while the victim is dead
DOWN_S = 2.5  # how long a killed process stays dead: past the gateway's wait (OUTCOME_WAIT_S)
ATTEMPTS = 20  # a client's tries of one request: ~17 s of backoff in all
OUTCOME_WAIT_S = "2"  # the gateway's wait before it answers 202
REPEAT = 8  # one command in REPEAT is sent again after its answer
RESOLVE_S = 8  # after the load, how long 202 operations have to end


@dataclass
class Answer:
    """One request of a command: its tries (status codes or errors) and where it ended."""

    tries: list[Any] = field(default_factory=list)
    response: httpx.Response | None = None
    outcome: str = "no answer"
    annotation: str | None = None
    operation: str | None = None  # of a 202

    def ended(self) -> tuple[str, str | None]:
        return self.outcome, self.annotation

    def path(self) -> str:
        """How it went, e.g. "retried 201 -> succeeded"."""
        retried = "retried " if len(self.tries) > 1 else ""
        replayed = "replayed " if self.response is not None and "idempotent-replayed" in self.response.headers else ""
        status = self.response.status_code if self.response is not None else "-"
        return f"{retried}{replayed}{status} -> {self.outcome}"

    def __str__(self) -> str:
        operation = f" (operation {self.operation})" if self.operation else ""
        return f"tries {self.tries}, then {self.outcome}{operation}"


@dataclass
class Command:
    kind: str  # "plain", "task" or "outside" (in the task's name, on an item not in it)
    key: str
    item: str
    token: str
    body: dict[str, Any]
    repeat: bool  # sent once more with its key after its answer, as by a client that lost it
    first: Answer = field(default_factory=Answer)
    again: Answer | None = None

    @property
    def expected(self) -> str:
        return "rejected" if self.kind == "outside" else "succeeded"

    def paths(self) -> list[str]:
        return [f"{self.kind} {self.first.path()}"] + ([f"{self.kind} repeat {self.again.path()}"]
                                                       if self.again else [])

    def __str__(self) -> str:
        again = f" (repeat: {self.again})" if self.again else ""
        return f"{self.kind} {self.key} on {self.item}: {self.first}{again}"


@pytest.fixture
def fleet(settings) -> Iterator[Fleet]:
    """The processes of the platform; every one of them killed at the end, whatever happened."""
    fleet = Fleet(settings, gateway_env={"OUTCOME_WAIT_SECONDS": OUTCOME_WAIT_S})
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture
async def shop(settings):
    """The seeded project, set up through an in-process gateway (setup, not under test)."""
    async with running_platform(settings, services=False) as p:
        await p.seed()
        yield p


async def plan(shop) -> list[Command]:
    """Plain classifies by the owner and a manager, several on each of a few items; in-task
    ones by the annotator, one per item of a single-class task; a few in the task's name on
    items outside it, which the task service refuses; one in REPEAT sent again after its
    answer. Shuffled together."""
    items = await register_many(shop, PLAIN_ITEMS + IN_TASK + OUTSIDE)
    plain, in_task, outside = items[:PLAIN_ITEMS], items[PLAIN_ITEMS:-OUTSIDE], items[-OUTSIDE:]
    manager = await shop.add_member("manager@example.com", "manager")
    annotator = await shop.add_member("annotator@example.com", "annotator")
    task = await settled(shop, await create_task(
        shop, assignees=["annotator@example.com"], itemIds=in_task, singleClass=True))
    in_it = {"label": POLO, "taskId": task["id"]}
    commands = [Command("plain", f"plain-{i}", plain[i % PLAIN_ITEMS], (shop.token, manager)[i % 2],
                        {"label": POLO}, i % REPEAT == 0) for i in range(PLAIN)]
    commands += [Command("task", f"task-{i}", item, annotator, dict(in_it), i % REPEAT == 0)
                 for i, item in enumerate(in_task)]
    commands += [Command("outside", f"outside-{i}", item, annotator, dict(in_it), i % 2 == 0)
                 for i, item in enumerate(outside)]
    for c in commands:
        c.body["description"] = c.key  # which command an annotation came from
    random.Random(15).shuffle(commands)
    return commands


async def settled(shop, response: httpx.Response) -> dict[str, Any]:
    """The created thing, following the operation when it was answered 202."""
    assert response.status_code in (201, 202), response.text
    if response.status_code == 201:
        return response.json()
    url = f"/api/v1/operations/{response.json()['operationId']}"
    while (op := (await shop.get(url)).json())["status"] == "pending":
        await asyncio.sleep(0.05)
    return op["result"]["task"]


async def post(client: httpx.AsyncClient, cmd: Command) -> Answer:
    """As a real client: the same request with the same key again on a connection error or
    a 5xx, with a growing pause, a bounded number of times."""
    headers, answer = {"Authorization": f"Bearer {cmd.token}", "Idempotency-Key": cmd.key}, Answer()
    for attempt in range(ATTEMPTS):
        try:
            r = await client.post(f"/api/v1/items/{cmd.item}/annotations", json=cmd.body, headers=headers)
        except httpx.TransportError as e:
            answer.tries.append(type(e).__name__)
        else:
            answer.tries.append(r.status_code)
            if r.status_code < 500:
                answer.response = r
                break
        await asyncio.sleep(min(0.05 * 2 ** attempt, 1.0))
    return answer


async def send(client: httpx.AsyncClient, cmd: Command) -> None:
    cmd.first = await post(client, cmd)
    if cmd.repeat:
        cmd.again = await post(client, cmd)


async def load(client: httpx.AsyncClient, commands: list[Command], fleet: Fleet) -> list[str]:
    """CLIENTS clients send the commands as fast as they are answered, as far as the chaos
    allows: for each victim in turn, FLOWING commands, then the kill with CLIENTS more in
    flight, then DOWN_QUOTA while it is dead, then the restart; what happened when."""
    loop, queue, allowed = asyncio.get_running_loop(), iter(commands), asyncio.Semaphore(0)
    start, sent, busy = loop.time(), 0, 0
    timeline: list[str] = []

    def allow(n: int) -> None:
        for _ in range(n):
            allowed.release()

    async def client_loop() -> None:
        nonlocal sent, busy
        for cmd in queue:
            await allowed.acquire()
            sent, busy = sent + 1, busy + 1
            await send(client, cmd)
            busy -= 1

    async def chaos() -> None:
        for name in VICTIMS:
            allow(FLOWING + CLIENTS)
            flowing = sent + FLOWING  # the restarted process (or the first) has taken traffic
            while sent < min(flowing, len(commands)):
                await asyncio.sleep(0.005)
            fleet.kill(name)
            at, in_flight = loop.time() - start, busy
            allow(DOWN_QUOTA)
            await asyncio.sleep(DOWN_S)
            await fleet.start(name)
            timeline.append(f"{name} killed at {at:.1f}s with {in_flight} commands in flight, "
                            f"ready again at {loop.time() - start:.1f}s")
        allow(len(commands))

    await asyncio.gather(chaos(), *(client_loop() for _ in range(CLIENTS)))
    timeline.append(f"load done at {loop.time() - start:.1f}s")
    return timeline


async def resolve(client: httpx.AsyncClient, token: str, answer: Answer, deadline: float,
                  polls: asyncio.Semaphore) -> None:
    """Where a request ended: its answer, or for a 202 its operation's end (by the deadline)."""
    r = answer.response
    if r is None:
        return
    body = r.json() if r.content else {}
    if r.status_code == 201:
        answer.outcome, answer.annotation = "succeeded", body["id"]
    elif r.status_code == 202:
        answer.operation = body["operationId"]
        url = f"/api/v1/operations/{answer.operation}"
        while True:
            async with polls:
                op = await client.get(url, headers={"Authorization": f"Bearer {token}"})
            status = op.json().get("status") if op.status_code == 200 else None
            if status in ("succeeded", "rejected"):
                answer.outcome = status
                if status == "succeeded":
                    answer.annotation = op.json()["result"]["annotation"]["id"]
                return
            if time.monotonic() > deadline:
                answer.outcome = f"operation still answering {op.status_code} {status or ''}".rstrip()
                return
            await asyncio.sleep(0.2)
    elif "reason" in body and "operationId" in body:  # refused within the wait
        answer.outcome = "rejected"
    else:
        answer.outcome = f"answered {r.status_code} {r.text[:200]}"


async def listed(client: httpx.AsyncClient, token: str, items: set[str]) -> Counter[str]:
    """Annotation id -> how many times the items' annotation lists show it (HTTP)."""
    async def of(item: str) -> list[str]:
        r = await client.get(f"/api/v1/items/{item}/annotations", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return [a["id"] for a in r.json()["annotations"]]

    return Counter(a for ids in await asyncio.gather(*(of(i) for i in items)) for a in ids)


def failures(commands: list[Command], stored: list[dict[str, Any]], shown: Counter[str]) -> list[str]:
    """Every way the run broke the contract, one line each (a few examples per kind)."""
    problems: list[str] = []

    def report(what: str, bad: list[Any]) -> None:
        if bad:
            problems.append(f"{len(bad)} {what}: " + "; ".join(map(str, bad[:4])))

    report("commands not resolved as expected",
           [c for c in commands if c.first.outcome != c.expected])
    report("repeats not answered with the first outcome",
           [c for c in commands if c.again and c.again.ended() != c.first.ended()])
    by_key = {c.key: c for c in commands}
    succeeded = {k: c for k, c in by_key.items() if c.first.outcome == "succeeded"}
    per_key = Counter(d["description"] for d in stored)
    report("keys with two or more annotations (doubled)", [(k, n) for k, n in per_key.items() if n > 1])
    report("annotations of commands that did not succeed",
           [by_key.get(k, k) for k in per_key if k not in succeeded])
    report("succeeded commands without their annotation (lost)",
           [c for c in succeeded.values() if per_key[c.key] == 0])
    ids = {d["description"]: d["_id"] for d in stored}
    report("succeeded commands answered with another annotation than the stored one",
           [(c.key, c.first.annotation, ids[c.key]) for c in succeeded.values()
            if c.key in ids and ids[c.key] != c.first.annotation])
    report("succeeded annotations not listed exactly once on their item",
           [(c.key, shown[c.first.annotation]) for c in succeeded.values() if shown[c.first.annotation] != 1])
    if len(stored) != len(succeeded):
        problems.append(f"{len(stored)} annotations stored for {len(succeeded)} succeeded commands")
    return problems


async def test_every_classify_ends_resolved_once_while_each_process_is_killed_and_restarted(shop, fleet):
    began = time.monotonic()
    await asyncio.gather(*(fleet.start(name) for name in VICTIMS))
    commands = await plan(shop)
    async with httpx.AsyncClient(base_url=fleet.gateway_url, timeout=15,
                                 limits=httpx.Limits(max_connections=CLIENTS)) as client:
        timeline = await load(client, commands, fleet)
        deadline, polls = time.monotonic() + RESOLVE_S, asyncio.Semaphore(CLIENTS)
        await asyncio.gather(*(resolve(client, c.token, a, deadline, polls)
                               for c in commands for a in (c.first, c.again) if a is not None))
        stored = [d async for d in shop.catalog.db.annotations.find(
            {"_deleted": {"$exists": False}}, {"description": 1})]
        shown = await listed(client, shop.token, {c.item for c in commands})
    stats = Counter(p for c in commands for p in c.paths())
    summary = "\n".join([*timeline, *(f"{n:4d} {p}" for p, n in sorted(stats.items())),
                         f"took {time.monotonic() - began:.1f}s"])
    print(summary)
    problems = failures(commands, stored, shown)
    assert not problems, "\n".join([*problems, summary])
