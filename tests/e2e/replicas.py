"""Two replicas of a service, as deployed (its own process each, one consumer group), on the
tests' real servers, under load, each SIGKILLed and restarted in turn: the scenarios behind
tests/e2e/test_replicas.py (small counts) and bench/replicas.py (the full counts, with
figures). Each returns its figures and a list of what broke (empty when nothing did)."""

from __future__ import annotations

import asyncio
import random
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from deploy.embedded import free_port
from services.task.repository import recount
from shared.contracts import streams
from shared.platform.settings import Settings
from shared.rules.progress import progress_counts
from tests.e2e.processes import kill, spawn, wait_ready
from tests.e2e.test_bulk_crash import register_many
from tests.e2e.test_tasks import add_member, create_task
from tests.platform import running_platform

SETTLE_S = 60.0  # after the load, how long every command has to reach its outcome


@dataclass
class Replicas:
    """Two processes of one service, `a` and `b`, each with a consumer name of its own (a new
    one at each restart, as a new pod gets)."""

    service: str
    settings: Settings
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    starts: Counter[str] = field(default_factory=Counter)

    async def start(self, which: str) -> None:
        self.starts[which] += 1
        port = free_port()
        proc = spawn(f"services.{self.service}", self.settings, port,
                     CONSUMER_NAME=f"{self.service}-{which}-{self.starts[which]}")
        self.procs[which] = proc
        await asyncio.to_thread(wait_ready, proc, port, f"{self.service} replica {which}")

    async def start_both(self) -> None:
        await asyncio.gather(self.start("a"), self.start("b"))

    async def restart(self, which: str) -> None:
        kill(self.procs[which])
        await self.start(which)

    def stop(self) -> None:
        for proc in self.procs.values():
            kill(proc)


async def kill_in_turn(replicas: Replicas, progress: Callable[[], float], timeline: list[str]) -> None:
    """SIGKILL replica a once a third of the load is sent, replica b at two thirds (and not
    before a is back: one replica always serves); each is restarted at once, as a new
    consumer, so what it held pending is reclaimed by the other."""
    began = time.monotonic()
    for which, at in (("a", 1 / 3), ("b", 2 / 3)):
        while progress() < at:
            await asyncio.sleep(0.01)
        killed_at, killed_s = progress(), time.monotonic() - began
        await replicas.restart(which)
        timeline.append(f"{replicas.service} replica {which} killed at {killed_at:.0%} of the load "
                        f"({killed_s:.1f}s in), a new one ready {time.monotonic() - began:.1f}s in")


class Pace:
    """At most `rate` requests a second, all clients together (None: as fast as they go), so
    that a short test's load lasts long enough for each replica to be killed in turn."""

    def __init__(self, rate: float | None) -> None:
        self.rate, self.began, self.n = rate, time.monotonic(), 0

    async def wait(self) -> None:
        if self.rate:
            self.n += 1
            await asyncio.sleep(max(0.0, self.began + self.n / self.rate - time.monotonic()))


async def settled(check: Callable[[], Awaitable[bool]], timeout: float = SETTLE_S) -> bool:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def dead_letters(redis: Any, settings: Settings, *names: str) -> int:
    return sum([await redis.xlen(streams.stream(n, settings.namespace) + streams.DLQ_SUFFIX) for n in names])


# --- per-item order of status commands across two task-service replicas ----------------------


def status_plan(items: list[str], rounds: int) -> dict[str, list[str | None]]:
    """Per item, the statuses to send in order: `rounds` set-then-clear pairs spread over the
    items, and one more set on every other item, so the last word is not always a clear."""
    plan: dict[str, list[str | None]] = {i: [] for i in items}
    for n in range(rounds):
        plan[items[n % len(items)]] += ["completed", None]
    for item in items[::2]:
        plan[item].append("completed")
    return plan


async def status_order(settings: Settings, *, rounds: int, items: int = 100, clients: int = 16,
                       chaos: bool = True, rate: float | None = None) -> tuple[dict[str, Any], list[str]]:
    """`rounds` set-then-clear pairs of one item's status, over `items` items, sent by
    `clients` concurrent clients through the gateway whose wait is zero (each command is
    answered 202 once it is in the stream, and the client sends the item's next command at
    once), to two task-service replicas; each killed in turn when `chaos`; at most `rate`
    commands a second. Every command must end succeeded, once, every item with the status
    its last command said, the task's counts right."""
    settings = settings.model_copy(update={"outcome_wait_s": 0.0})
    replicas, timeline, problems = Replicas("task", settings), [], []
    try:
        await replicas.start_both()
        async with running_platform(settings, services=False) as p:
            await p.seed()
            ids = await register_many(p, items)
            await add_member(p, "ann@example.com", "annotator")
            task = await _created(p, await create_task(p, assignees=["ann@example.com"], itemIds=ids))
            plan = status_plan(ids, rounds)
            total = sum(len(v) for v in plan.values())
            sent: list[str] = []
            began = time.monotonic()
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=p.app), base_url="http://testserver",
                                         headers=p.auth(), timeout=30) as http:
                queue = list(plan.items())
                random.Random(23).shuffle(queue)
                pace = Pace(rate)

                async def client() -> None:
                    while queue:
                        item, statuses = queue.pop()
                        url = f"/api/v1/tasks/{task['id']}/items/{item}/status"
                        for status in statuses:
                            await pace.wait()
                            r = await (http.put(url, json={"status": status}) if status else http.delete(url))
                            assert r.status_code in (200, 202), r.text
                            sent.append(r.headers["operation-id"])

                load = asyncio.gather(*(client() for _ in range(clients)))
                if chaos:
                    await asyncio.gather(load, kill_in_turn(replicas, lambda: len(sent) / total, timeline))
                else:
                    await load
            sent_s = time.monotonic() - began
            ops = p.catalog.db.operations

            async def all_ended() -> bool:
                return await ops.count_documents({"_id": {"$in": sent}}) == len(sent)

            if not await settled(all_ended):
                problems.append(f"{len(sent) - await ops.count_documents({'_id': {'$in': sent}})} "
                                f"of {len(sent)} commands without an outcome after {SETTLE_S:.0f}s (lost)")
            ended_s = time.monotonic() - began
            outcomes = Counter([d["status"] async for d in ops.find({"_id": {"$in": sent}}, {"status": 1})])
            if set(outcomes) - {"succeeded"}:
                problems.append(f"outcomes other than succeeded: {dict(outcomes)}")
            if len(set(sent)) != len(sent):
                problems.append(f"{len(sent) - len(set(sent))} operation ids answered twice")
            superseded = await ops.count_documents({"_id": {"$in": sent}, "superseded": True})
            db = p.catalog.db
            stored = {d["itemId"]: d.get("status") async for d in db.item_statuses.find({"taskId": task["id"]})}
            wrong = [(i, stored.get(i), s[-1]) for i, s in plan.items() if stored.get(i) != s[-1]]
            if wrong:
                problems.append(f"{len(wrong)} items not as their last command said (item, is, said): {wrong[:5]}")
            truth = {k: n for k, n in (await recount(db, task["id"])).items() if n and k[1] is not None}
            kept = progress_counts(await db.task_progress.find_one({"_id": task["id"]}) or {})
            if kept != truth:
                problems.append(f"the task's counts say {kept} but its statuses {truth}")
            if n := await dead_letters(p.gateway.redis, settings, streams.STATUS):
                problems.append(f"{n} status commands dead-lettered")
    finally:
        replicas.stop()
    figures = {"commands": total, "items": items, "set-then-clear rounds": rounds,
               "sent in s": round(sent_s, 1), "all ended in s": round(ended_s, 1),
               "commands/s": round(total / ended_s), "superseded (a later command won)": superseded,
               "timeline": timeline}
    return figures, problems


async def _created(p: Any, response: httpx.Response) -> dict[str, Any]:
    from tests.e2e.test_chaos import settled as followed

    return await followed(p, response)


# --- two workflow-service replicas serving one task --------------------------------------------


async def workflow_moves(settings: Settings, *, moves: int, annotators: int = 20, chaos: bool = True,
                         rate: float | None = None, task_replicas: int = 1) -> tuple[dict[str, Any], list[str]]:
    """`moves` moves on (Auto next and Auto complete on) by `annotators` annotators at once, in
    one pulling task (batches of 3, at most 5 open), served by two workflow-service
    replicas, each killed in turn when `chaos`; at most `rate` moves a second. The task
    service runs as `task_replicas` more processes (1 or 2), not killed. No item may be handed twice (to two annotators, or
    to one again), every move must end answered once, and afterwards every annotator's
    queue (the read model) must hold exactly the open items of their assignment (the task
    service's data), every item moved on from must be completed, the counts right."""
    settings = settings.model_copy(update={"outcome_wait_s": 10.0})
    replicas, timeline, problems = Replicas("workflow", settings), [], []
    task_service = Replicas("task", settings)
    try:
        await asyncio.gather(replicas.start_both(), *(task_service.start(w) for w in "ab"[:task_replicas]))
        async with running_platform(settings, services=False) as p:
            await p.seed()
            emails = [f"ann{n:02d}@example.com" for n in range(annotators)]
            tokens = dict(zip(emails, await asyncio.gather(*(add_member(p, e, "annotator") for e in emails)),
                              strict=True))
            await register_many(p, moves + annotators * 8)
            r = await create_task(p, assignees=emails, allocation="pulling", batchSize=3, maxBatchWorkload=5)
            task = await _created(p, r)
            api = f"/api/v1/tasks/{task['id']}"
            for email in emails:
                r = await p.client.put(f"{api}/workflow-settings", headers=p.auth(tokens[email]),
                                       json={"autoNext": True, "autoComplete": True})
                assert r.status_code == 200, r.text
            handed: dict[str, list[str]] = {e: [] for e in emails}
            left: dict[str, list[str]] = {e: [] for e in emails}  # moved on from: completed
            answers: Counter[str] = Counter()
            done = 0
            pace = Pace(rate)
            began = time.monotonic()

            async def annotator(email: str) -> None:
                nonlocal done
                in_hand: str | None = None
                while len(handed[email]) < moves // annotators:
                    await pace.wait()
                    moved = await _move_on(p, api, tokens[email], in_hand, answers)
                    if moved is None:  # refused: counted in `answers`, and tried again
                        await asyncio.sleep(0.05)
                        continue
                    if moved.get("completedItemId"):
                        left[email].append(moved["completedItemId"])
                    item = moved.get("itemId")
                    if item is None:  # the next batch is on its way
                        in_hand = None if moved.get("completedItemId") == in_hand else in_hand
                        await asyncio.sleep(0.05)
                        continue
                    handed[email].append(item)
                    in_hand = item
                    done += 1

            load = asyncio.gather(*(annotator(e) for e in emails))
            if chaos:
                await asyncio.gather(load, kill_in_turn(replicas, lambda: done / moves, timeline))
            else:
                await load
            moved_s = time.monotonic() - began

            everything = Counter(i for items in handed.values() for i in items)
            if twice := [i for i, n in everything.items() if n > 1]:
                owners = {i: [e for e, items in handed.items() if i in items] for i in twice[:5]}
                problems.append(f"{len(twice)} items handed more than once: {owners}")
            db = p.catalog.db
            by = {a["annotator"]: a for a in await db.assignments.find({"taskId": task["id"]}).to_list(None)}
            held = Counter(i for a in by.values() if not a.get("queue") for i in a["itemIds"])
            if shared := [i for i, n in held.items() if n > 1]:
                problems.append(f"{len(shared)} items in two assignments: {shared[:5]}")
            for email in emails:
                if stray := set(handed[email]) - set(by[email]["itemIds"]):
                    problems.append(f"{email} was handed {len(stray)} items not in their assignment")
            completed = {i for items in left.values() for i in items}

            async def statuses_landed() -> bool:
                found = {d["itemId"]: d.get("status") async for d in db.item_statuses.find(
                    {"taskId": task["id"]}, {"itemId": 1, "status": 1})}
                return all(found.get(i) == "completed" for i in completed)

            if not await settled(statuses_landed):
                problems.append("items moved on from (Auto complete) without the status completed")

            async def queues_agree() -> list[str]:
                """Every annotator's read model against the task service's data, both read now."""
                found = {d["itemId"]: d.get("status") async for d in db.item_statuses.find(
                    {"taskId": task["id"]}, {"itemId": 1, "status": 1})}
                now = {a["annotator"]: a for a in await db.assignments.find({"taskId": task["id"]}).to_list(None)}
                wrong = []
                for email in emails:
                    state = (await p.get(f"{api}/queue-state?annotator={email}")).json()
                    items = set(now[email]["itemIds"])
                    mine = {i for i in items if not found.get(i)}
                    if extra := set(state["open"]) - mine:
                        wrong.append(f"{email}: queue holds {sorted(extra)}, not open in their assignment "
                                     f"({[(i, i in items, found.get(i)) for i in sorted(extra)]})")
                    if missing := mine - set(state["open"]):
                        wrong.append(f"{email}: queue lacks {sorted(missing)}, open in their assignment")
                    if stray := {lease["itemId"] for lease in state["leases"]} - items:
                        wrong.append(f"{email}: leases on items not theirs: {sorted(stray)}")
                return wrong

            corrupted: list[str] = []

            async def agree() -> bool:
                corrupted[:] = await queues_agree()
                return not corrupted

            if not await settled(agree, 15):
                problems += corrupted[:5]
            settled_s = time.monotonic() - began
            truth = {k: n for k, n in (await recount(db, task["id"])).items() if n and k[1] is not None}
            kept = progress_counts(await db.task_progress.find_one({"_id": task["id"]}) or {})
            if kept != truth:
                problems.append(f"the task's counts say {kept} but its statuses {truth}")
            if set(answers) - {"200"}:
                problems.append(f"moves answered other than 200: {dict(answers)}")
            if n := await dead_letters(p.gateway.redis, settings, streams.WORKFLOW, streams.STATUS, streams.TASKS):
                problems.append(f"{n} commands dead-lettered")
            ops = db.operations
            move_outcomes = Counter([d["status"] async for d in ops.find({"commandType": "MoveOn"}, {"status": 1})])
    finally:
        replicas.stop()
        task_service.stop()
    figures = {"moves": sum(len(v) for v in handed.values()), "annotators": annotators,
               "task-service replicas": task_replicas,
               "answers": dict(answers), "MoveOn outcomes": dict(move_outcomes),
               "moved in s": round(moved_s, 1), "moves/s": round(done / moved_s),
               "settled in s": round(settled_s, 1), "timeline": timeline}
    return figures, problems


async def _move_on(p: Any, api: str, token: str, from_item: str | None, answers: Counter[str]
                   ) -> dict[str, Any] | None:
    """One move on, as the studio makes it, followed to its end when answered past the wait:
    the move (from_item, itemId the item reached, completedItemId), None when refused."""
    r = await p.client.post(f"{api}/next-item", headers=p.auth(token),
                            json={"itemId": from_item} if from_item else None)
    answers[str(r.status_code)] += 1
    if r.status_code == 202:
        url = f"/api/v1/operations/{r.json()['operationId']}"
        while (op := (await p.get(url, token=token)).json())["status"] == "pending":
            await asyncio.sleep(0.05)
        event = (op.get("result") or {}) | (op.get("event") or {})
        answers[f"202 then {op['status']}"] += 1
        if op["status"] != "succeeded":
            return None
        return {"itemId": event.get("itemId"), "completedItemId": event.get("completedItemId")}
    if r.status_code != 200 or "nextItem" not in r.json():
        answers[f"refused: {r.text[:120]}"] += 1
        return None
    body = r.json()
    return {"itemId": body["nextItemId"], "completedItemId": body.get("completedItemId")}
