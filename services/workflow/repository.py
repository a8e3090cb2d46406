"""The workflow service's data access: its Redis read model (per-annotator queues, settings,
leases; layout shared.contracts.read_model.ReadModel, scripts services.workflow.queue), its own
copy of the task facts the queues are built from (kept from the task service's events; asked
of the task service by request/reply for a task never seen, `TaskOwner`, which also asks it for
an annotator's next batch), and the platform's
`operations` outcome records. The only module of the service that talks to Redis, MongoDB or
the task service.

The copy of task facts, per task in the read model: `facts` (hash: version, meta,
assignments; lua/keep_facts.lua) and `held` (hash: item -> `<ms>|<1 or 0>|<assignment>`, which
items hold a status and since when; lua/keep_statuses.lua)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import bson
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo.errors import BulkWriteError
from redis.asyncio import Redis
from redis.exceptions import WatchError

from services.workflow import queue
from services.workflow.rules import TaskFacts, TaskMeta, WorkflowSettings, heartbeat_every_s
from shared.contracts import queries, streams
from shared.contracts.events import parse_event
from shared.contracts.read_model import ReadModel
from shared.contracts.tasks import PullItems
from shared.platform.mongo import find_in
from shared.platform.queries import CODEC
from shared.platform.scripts import lua

log = logging.getLogger("classifier.workflow")
PROCESSED_TTL_S = 24 * 3600
ASK_NOW_S = 2.0  # a move asks the task service for what changed a moment ago this long at most
PULL_WAIT_S = 2.0  # a move waits this long for its pull's answer before it waits off the lane
PULL_IN_FLIGHT_MS = 5_000
CHUNK = 1_000
DUPLICATE_KEY = 11000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisQueues:
    """Annotators' queues. Every change to one annotator's queue is one script, so readers
    (the gateway) never see half of it."""

    def __init__(self, redis: Redis, namespace: str, ttl_ms: int) -> None:
        self.redis = redis
        self.rm = ReadModel(namespace)
        self.task_events = streams.stream(streams.TASK_EVENTS, namespace)
        self.ttl_ms = ttl_ms
        self.scripts = {name: redis.register_script(text) for name, text in queue.scripts().items()}
        for name in ("keep_facts", "keep_statuses"):
            self.scripts[name] = redis.register_script(lua("services.workflow", name))

    async def _run(self, script: str, task_id: str, email: str, pulling: bool, now_ms: int,
                   *args: Any, extra_keys: Sequence[str] = ()) -> Any:
        keys = queue.annotator_keys(self.rm, task_id, email) + list(extra_keys)
        return await self.scripts[script](keys=keys, args=self._argv(task_id, email, pulling, now_ms, *args))

    def _argv(self, task_id: str, email: str, pulling: bool, now_ms: int, *args: Any) -> list[Any]:
        return [queue.due_member(task_id, email), now_ms, self.ttl_ms, "1" if pulling else "0", *args]

    # tasks --------------------------------------------------------------------------------

    async def meta(self, task_id: str) -> TaskMeta | None:
        found = await self.redis.hgetall(self.rm.task(task_id, "meta"))
        return TaskMeta.of_hash({k.decode(): v.decode() for k, v in found.items()}) if found else None

    async def write_task(self, task_id: str, meta: TaskMeta, who: dict[str, str]) -> dict[str, str]:
        """Store the task's meta and assignment -> annotator map; the map it replaced."""
        key = self.rm.task(task_id, "who")
        before = await self.redis.hgetall(key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.rm.task(task_id, "meta"), mapping=meta.to_hash() | {
                "leaseTtlMs": str(self.ttl_ms),
                "heartbeatEveryMs": str(int(heartbeat_every_s(self.ttl_ms / 1000) * 1000))})
            pipe.delete(key)
            if who:
                pipe.hset(key, mapping=who)
            await pipe.execute()
        return {k.decode(): v.decode() for k, v in before.items()}

    async def annotators(self, task_id: str) -> dict[str, str]:
        """assignment id -> annotator email, for the task's working assignments."""
        found = await self.redis.hgetall(self.rm.task(task_id, "who"))
        return {k.decode(): v.decode() for k, v in found.items()}

    async def annotator_of(self, task_id: str, assignment_id: str) -> str | None:
        found = await self.redis.hget(self.rm.task(task_id, "who"), assignment_id)
        return found.decode() if found else None

    # the copy of task facts ---------------------------------------------------------------

    async def task_facts(self, task_id: str) -> TaskFacts | None:
        """The copy of the task's facts held, or None for a task never seen."""
        version, meta, assignments = await self.redis.hmget(self.rm.task(task_id, "facts"),
                                                            ["version", "meta", "assignments"])
        if version is None or meta is None:
            return None
        return TaskFacts(TaskMeta.of_hash(json.loads(meta)), json.loads(assignments or b"[]"), int(version))

    async def keep_task_facts(self, task_id: str, facts: TaskFacts) -> bool:
        """Keep the facts unless the copy held is newer; True when kept."""
        return bool(await self.scripts["keep_facts"](
            keys=[self.rm.task(task_id, "facts")],
            args=[facts.version, json.dumps(facts.meta.to_hash()), json.dumps(facts.assignments)]))

    async def keep_task_meta(self, task_id: str, meta: TaskMeta) -> bool:
        """New settings of a task whose copy is held (a change that moved no item)."""
        return bool(await self.scripts["keep_facts"](keys=[self.rm.task(task_id, "facts")],
                                                     args=["", json.dumps(meta.to_hash()), ""]))

    async def keep_pulled(self, task_id: str, assignment_id: str, item_ids: Sequence[str], version: int) -> bool:
        """Items an annotator pulled, added to the copy held: True when the copy now holds
        them (applied, or a newer copy held already), False when it cannot tell (no copy,
        an assignment it does not know, or facts between the two versions not seen yet)."""
        key = self.rm.task(task_id, "facts")
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    held, raw = await pipe.hmget(key, ["version", "assignments"])
                    if held is None:
                        return False
                    if int(held) >= version:
                        return True
                    assignments = json.loads(raw or b"[]")
                    mine = next((a for a in assignments if a["_id"] == assignment_id), None)
                    if int(held) != version - 1 or mine is None:
                        return False
                    have = set(mine["itemIds"])
                    mine["itemIds"] += [i for i in item_ids if i not in have]
                    pipe.multi()
                    pipe.hset(key, mapping={"version": version, "assignments": json.dumps(assignments)})
                    await pipe.execute()
                    return True
                except WatchError:  # another replica changed the copy meanwhile: read it again
                    continue

    async def keep_statuses(self, task_id: str, changes: Sequence[tuple[str, bool, int, str]]) -> None:
        """(item, holds a status, when the fact was made in ms, assignment): the newest word
        on each item stays."""
        for start in range(0, len(changes), CHUNK):
            args = [v for item, has, at_ms, assignment in changes[start:start + CHUNK]
                    for v in (item, at_ms, "1" if has else "0", assignment)]
            await self.scripts["keep_statuses"](keys=[self.rm.task(task_id, "held")], args=args)

    async def facts_behind(self) -> bool:
        """Whether task facts are on their way to the copy: entries of the task event stream
        this service's group has not read, or read and not yet handled. False only when the
        copy holds every fact published (a status stored by the task service is published
        before its outcome answers anyone), so a move need not ask the task service."""
        try:
            groups = await self.redis.xinfo_groups(self.task_events)
        except Exception:  # noqa: BLE001 - no stream yet, or the server cannot say: ask
            return True
        mine = next((g for g in groups if _text(g.get("name")) == streams.WORKFLOW_GROUP), None)
        return mine is None or mine.get("lag") is None or int(mine["lag"]) > 0 or int(mine.get("pending", 0)) > 0

    async def done_items(self, task_id: str, item_ids: Iterable[str]) -> set[str]:
        """Those of the task's `item_ids` that hold a status, as the copy says."""
        ids, done = list(item_ids), set()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            found = await self.redis.hmget(self.rm.task(task_id, "held"), chunk)
            done |= {i for i, v in zip(chunk, found, strict=True) if v and v.split(b"|")[1] == b"1"}
        return done

    async def statuses(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """(task, item) -> {status: holds one, assignmentId}, for the items the copy knows."""
        by_task: dict[str, list[str]] = {}
        for task_id, item_id in keys:
            by_task.setdefault(task_id, []).append(item_id)
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for task_id, items in by_task.items():
            values = await self.redis.hmget(self.rm.task(task_id, "held"), items)
            for item_id, value in zip(items, values, strict=True):
                if value:
                    _, has, assignment = value.decode().split("|", 2)
                    found[(task_id, item_id)] = {"status": has == "1", "assignmentId": assignment}
        return found

    # one annotator ------------------------------------------------------------------------

    async def state(self, task_id: str, email: str) -> dict[str, str]:
        found = await self.redis.hgetall(self.rm.annotator(task_id, email, "state"))
        return {k.decode(): v.decode() for k, v in found.items()}

    async def is_open(self, task_id: str, email: str, item_id: str | None) -> bool:
        if not item_id:
            return False
        return await self.redis.zscore(self.rm.annotator(task_id, email, "open"), item_id) is not None

    async def settings(self, task_id: str, email: str) -> WorkflowSettings:
        found = await self.redis.hgetall(self.rm.annotator(task_id, email, "settings"))
        return WorkflowSettings.of_hash({k.decode(): v.decode() for k, v in found.items()})

    async def save_settings(self, task_id: str, email: str, settings: WorkflowSettings,
                            moves_freely: bool) -> None:
        await self.redis.hset(self.rm.annotator(task_id, email, "settings"),
                              mapping=settings.to_hash() | {"movesFreely": "1" if moves_freely else "0"})

    async def sync(self, task_id: str, email: str, assignment_id: str, items: Sequence[str],
                   done: set[str], pulling: bool, now_ms: int, *, version: int | None = None,
                   read_ms: int | None = None) -> queue.Synced:
        """Replace the annotator's queue with the assignment's items in work order, the open
        ones (no status) in the open set, and lease the open ones in a pulling task.
        `version`: the task's allocation version read before the items, and `read_ms`
        when that reading began: a reading older than the queue's last is dropped, and a
        status fact applied since it began is kept (lua/sync.lua)."""
        tag = uuid.uuid4().hex
        fresh = self.rm.annotator(task_id, email, f"fresh:{tag}")
        fresh_order = self.rm.annotator(task_id, email, f"fresh-order:{tag}")
        # Built in keys nobody reads, a chunk per command (a big queue written in one
        # transaction holds Redis, and every request, while it runs), then swapped in at once
        # by the script: a move running meanwhile sees the old order or the new one, never
        # half of one.
        for start in range(0, len(items), CHUNK):
            chunk = {item: n for n, item in enumerate(items[start:start + CHUNK], start)}
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(fresh_order, mapping=chunk)
                if open_part := {i: n for i, n in chunk.items() if i not in done}:
                    pipe.zadd(fresh, open_part)
                pipe.pexpire(fresh, 60_000)
                pipe.pexpire(fresh_order, 60_000)
                await pipe.execute()
        return queue.Synced.of(await self._run(
            "sync", task_id, email, pulling, now_ms, assignment_id,
            "" if version is None else version, "" if read_ms is None else read_ms,
            extra_keys=[fresh, self._seen(task_id, email), fresh_order]))

    async def look(self, task_id: str, email: str, item_id: str | None, ahead: int, now_ms: int) -> queue.Look:
        extra = [self.rm.task(task_id, "meta"), self.rm.annotator(task_id, email, "settings")]
        return queue.Look.of(await self._run("look", task_id, email, False, now_ms, item_id or "", ahead,
                                             extra_keys=extra))

    async def move(self, task_id: str, email: str, from_item: str | None, complete: bool, pulling: bool,
                   now_ms: int, *, to_item: str | None = None, asked_ms: int = 0) -> queue.Move:
        return queue.Move.of(await self._run("move", task_id, email, pulling, now_ms, from_item or "",
                                             "1" if complete else "0", queue.HISTORY_MAX, to_item or "",
                                             asked_ms))

    async def step_back(self, task_id: str, email: str, pulling: bool, now_ms: int) -> queue.Back:
        return queue.Back.of(await self._run("step_back", task_id, email, pulling, now_ms))

    async def apply_statuses(self, task_id: str, email: str,
                             changes: Sequence[tuple[str, str, int | None]],
                             pulling: bool, now_ms: int) -> list[queue.StatusApplied]:
        """Statuses of one annotator's items, in order, in one script call: (item, has, the
        fact's time in ms, or None when `has` was read from the task service's data just now).
        A fact that may not be the item's newest word comes back unapplied (`verify`)."""
        if not changes:
            return []
        args = [v for item_id, has, made in changes for v in (item_id, has, "" if made is None else made)]
        return queue.StatusApplied.each(await self._run("status", task_id, email, pulling, now_ms, *args,
                                                        extra_keys=[self._seen(task_id, email)]))

    def _seen(self, task_id: str, email: str) -> str:
        return self.rm.annotator(task_id, email, "seen")

    async def renew(self, task_id: str, email: str, pulling: bool, now_ms: int, *, force: bool,
                    item_id: str | None = None, back: bool = False) -> queue.Renewal:
        return queue.Renewal.of(await self._run("renew", task_id, email, pulling, now_ms,
                                                "1" if force else "0", item_id or "", "1" if back else "0"))

    async def leave(self, task_id: str, email: str, pulling: bool, now_ms: int) -> queue.Leave:
        return queue.Leave.of(await self._run("leave", task_id, email, pulling, now_ms, email))

    async def expire(self, task_id: str, email: str, now_ms: int) -> queue.Expiry:
        return queue.Expiry.of(await self._run("expire", task_id, email, True, now_ms, email))

    async def start_pull(self, task_id: str, email: str) -> bool:
        """True when no pull for this annotator is in flight (and marks one)."""
        key = self.rm.annotator(task_id, email, "pulling")
        return bool(await self.redis.set(key, "1", nx=True, px=PULL_IN_FLIGHT_MS))

    async def end_pull(self, task_id: str, email: str) -> None:
        await self.redis.delete(self.rm.annotator(task_id, email, "pulling"))

    # leases and returns across tasks ------------------------------------------------------

    async def due_leases(self, now_ms: int, limit: int = 200) -> list[tuple[str, str]]:
        found = await self.redis.zrangebyscore(self.rm.lease_due(), "-inf", now_ms, start=0, num=limit)
        return [tuple(m.decode().split("|", 1)) for m in found]  # type: ignore[misc]

    async def returning(self, task_id: str, email: str) -> list[str]:
        found = await self.redis.hgetall(self.rm.task(task_id, "returning"))
        return [k.decode() for k, v in found.items() if v.decode() == email]

    async def returned(self, task_id: str, item_ids: Iterable[str]) -> None:
        if ids := list(item_ids):
            await self.redis.hdel(self.rm.task(task_id, "returning"), *ids)

    async def retry_return_at(self, task_id: str, email: str, at_ms: int | None) -> None:
        member = queue.due_member(task_id, email)
        if at_ms is None:
            await self.redis.zrem(self.rm.return_due(), member)
        else:
            await self.redis.zadd(self.rm.return_due(), {member: at_ms})

    async def due_returns(self, now_ms: int, limit: int = 200) -> list[tuple[str, str]]:
        found = await self.redis.zrangebyscore(self.rm.return_due(), "-inf", now_ms, start=0, num=limit)
        return [tuple(m.decode().split("|", 1)) for m in found]  # type: ignore[misc]

    # outcomes of commands (shared.platform.runner.OutcomeStore, with MongoTaskData) ---------

    async def processed(self, command_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """command id -> its outcome record, for the commands handled in the last day."""
        if not command_ids:
            return {}
        found = await self.redis.mget([self.rm.processed(c) for c in command_ids])
        return {c: json.loads(v) for c, v in zip(command_ids, found, strict=True) if v}

    async def forget(self, command_ids: Sequence[str]) -> None:
        await self.redis.delete(*[self.rm.processed(c) for c in command_ids])

    async def remember(self, outcomes: Sequence[dict[str, Any]]) -> None:
        """Keep outcome records where `processed` finds them (a day)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for record in outcomes:
                pipe.set(self.rm.processed(record["_id"]), json.dumps(record, default=str), ex=PROCESSED_TTL_S)
            await pipe.execute()

    # moves waiting for a classification's outcome ------------------------------------------

    async def wait_for_outcome(self, command_id: str, move: str) -> None:
        await self.redis.hset(self.rm.waiting_moves(), command_id, move)

    async def waiting_moves(self, limit: int = 500) -> dict[str, str]:
        """Moves waiting for an outcome (at most `limit`): command id -> the MoveOn's JSON."""
        _, found = await self.redis.hscan(self.rm.waiting_moves(), 0, count=limit)
        return {k.decode(): v.decode() for k, v in found.items()}

    async def take_waiting_move(self, command_id: str) -> bool:
        """True for the one caller that takes the move off the waiting list."""
        return bool(await self.redis.hdel(self.rm.waiting_moves(), command_id))

    async def note_auto_completion(self, set_status_id: str, task_id: str, email: str, item_id: str) -> None:
        """What a refusal of auto complete's SetStatus needs to be undone."""
        await self.redis.set(self.rm.auto_completion(set_status_id), f"{task_id}|{email}|{item_id}",
                             ex=PROCESSED_TTL_S)

    async def auto_completion(self, set_status_id: str) -> tuple[str, str, str] | None:
        found = await self.redis.get(self.rm.auto_completion(set_status_id))
        return tuple(found.decode().split("|", 2)) if found else None  # type: ignore[return-value]


class MongoOutcomes:
    """The `operations` outcome records every service keeps for the gateway (the platform's;
    the workflow reads no other service's collection)."""

    def __init__(self, client: AsyncIOMotorClient, database: str) -> None:
        self.client = client
        self.db = client[database]

    async def outcome_statuses(self, command_ids: Sequence[str]) -> dict[str, str]:
        """command id -> "succeeded" or "rejected", for the commands whose outcome is stored."""
        return {d["_id"]: d["status"] for d in await find_in(self.db.operations, "_id", list(command_ids))}

    async def save_outcomes(self, outcomes: list[dict[str, Any]]) -> None:
        if not outcomes:
            return
        try:
            await self.db.operations.insert_many(outcomes, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise

    async def ping(self) -> bool:
        try:
            await self.db.command("ping")
            return True
        except Exception:
            return False

    def close(self) -> None:
        self.client.close()


def connect(url: str, database: str) -> MongoOutcomes:
    client: AsyncIOMotorClient = AsyncIOMotorClient(url, serverSelectionTimeoutMS=3000, tz_aware=True)
    return MongoOutcomes(client, database)


class TaskOwner:
    """Asks the task service for its data (request/reply, shared.platform.queries; the
    owner's side: services.task.queries): a task the workflow has never seen (created before
    it ran, or its facts trimmed from the stream), and statuses given a moment ago whose
    facts may not have arrived yet."""

    def __init__(self, broker: Any, namespace: str, timeout_s: float = 10.0, maxlen: int | None = None) -> None:
        self.broker = broker
        self.list = queries.channel(queries.TASK, namespace)
        self.timeout_s = timeout_s
        self.tasks, self.maxlen = streams.stream(streams.TASKS, namespace), maxlen

    async def pull(self, command: PullItems, timeout_s: float) -> Any:
        """Ask for an annotator's next batch: `command` on the `tasks` stream, where the task
        service enforces the allocation rules and dedups on the command id, and its outcome
        (ItemsPulled or CommandRejected) awaited on a reply channel of this request's own.
        TimeoutError when it does not come within `timeout_s`."""
        reply = await self.broker.request(command.wire(), stream=self.tasks, maxlen=self.maxlen,
                                          correlation_id=command.id, timeout=timeout_s)
        return parse_event(json.loads(reply.body))

    async def _page(self, name: str, args: dict[str, Any], after: Any = None, *,
                    timeout_s: float | None = None) -> tuple[list[Any], Any]:
        body = queries.TaskQuery(query=name, args=args, after=after).model_dump(mode="json")
        reply = await self.broker.request(body, list=self.list, timeout=timeout_s or self.timeout_s)
        answer = bson.decode(reply.body, codec_options=CODEC)
        if answer.get("error"):
            raise RuntimeError(f"the task service could not answer {name}: {answer['error']}")
        return answer.get("docs", []), answer.get("after")

    async def _all(self, name: str, args: dict[str, Any]) -> list[Any]:
        docs, after = await self._page(name, args)
        while after is not None:
            more, after = await self._page(name, args, after)
            docs += more
        return docs

    async def task(self, task_id: str, now_ms: int) -> tuple[TaskFacts, list[tuple[str, bool, int, str]]] | None:
        """The task's facts and its items' statuses as the task service holds them, or None
        when it has no such task. The version is read first, so the assignments read after it
        hold every change up to it; each status is dated `now_ms` (when asking began: a fact
        made before then is in the answer already)."""
        found, _ = await self._page("task", {"taskId": task_id})
        if not found:
            return None
        task = found[0]
        holders = await self._all("browse_holders", {"taskId": task_id})
        statuses = await self._all("browse_statuses", {"taskId": task_id})
        facts = TaskFacts(TaskMeta.of_task(task), TaskFacts.working(holders), int(task.get("allocationVersion", 0)))
        holder = facts.holder()
        return facts, [(d["itemId"], bool(d.get("status")), now_ms, holder.get(d["itemId"], ""))
                       for d in statuses]

    async def assignment(self, task_id: str, assignment_id: str, timeout_s: float) -> tuple[list[str], int] | None:
        """An assignment's items as the task service holds them now, and the task's allocation
        version read before them; None when it has no such working assignment."""
        task, _ = await self._page("task", {"taskId": task_id, "fields": {"allocationVersion": 1}},
                                   timeout_s=timeout_s)
        found, _ = await self._page("assignment", {"assignmentId": assignment_id},
                                    timeout_s=timeout_s)
        if not task or not found or found[0].get("taskId") != task_id or not found[0].get("active", True):
            return None
        return list(found[0].get("itemIds") or []), int(task[0].get("allocationVersion", 0))

    async def statuses(self, task_id: str, item_ids: Sequence[str], timeout_s: float) -> dict[str, bool]:
        """item -> holds a status, for the items the task service has a status record of."""
        docs, _ = await self._page("statuses", {"taskId": task_id, "itemIds": list(item_ids)}, timeout_s=timeout_s)
        return {d["itemId"]: bool(d.get("status")) for d in docs}


class WorkflowRepository(Protocol):
    """What the workflow's handlers and reactions read and write (services.workflow.handlers):
    the read model's queues (RedisQueues' methods), its copy of the task facts they are built
    from, and the outcome records of its commands (shared.platform.runner.OutcomeStore)."""

    # the read model
    async def meta(self, task_id: str) -> TaskMeta | None: ...
    async def write_task(self, task_id: str, meta: TaskMeta, who: dict[str, str]) -> dict[str, str]: ...
    async def annotators(self, task_id: str) -> dict[str, str]: ...
    async def annotator_of(self, task_id: str, assignment_id: str) -> str | None: ...
    async def state(self, task_id: str, email: str) -> dict[str, str]: ...
    async def save_settings(self, task_id: str, email: str, settings: WorkflowSettings,
                            moves_freely: bool) -> None: ...
    async def sync(self, task_id: str, email: str, assignment_id: str, items: Sequence[str],
                   done: set[str], pulling: bool, now_ms: int, *, version: int | None = None,
                   read_ms: int | None = None) -> queue.Synced: ...
    async def look(self, task_id: str, email: str, item_id: str | None, ahead: int, now_ms: int) -> queue.Look: ...
    async def move(self, task_id: str, email: str, from_item: str | None, complete: bool, pulling: bool,
                   now_ms: int, *, to_item: str | None = None, asked_ms: int = 0) -> queue.Move: ...
    async def step_back(self, task_id: str, email: str, pulling: bool, now_ms: int) -> queue.Back: ...
    async def apply_statuses(self, task_id: str, email: str, changes: Sequence[tuple[str, str, int | None]],
                             pulling: bool, now_ms: int) -> list[queue.StatusApplied]: ...
    async def renew(self, task_id: str, email: str, pulling: bool, now_ms: int, *, force: bool,
                    item_id: str | None = None, back: bool = False) -> queue.Renewal: ...
    async def leave(self, task_id: str, email: str, pulling: bool, now_ms: int) -> queue.Leave: ...
    async def expire(self, task_id: str, email: str, now_ms: int) -> queue.Expiry: ...
    async def start_pull(self, task_id: str, email: str) -> bool: ...
    async def end_pull(self, task_id: str, email: str) -> None: ...
    async def due_leases(self, now_ms: int, limit: int = 200) -> list[tuple[str, str]]: ...
    async def returning(self, task_id: str, email: str) -> list[str]: ...
    async def returned(self, task_id: str, item_ids: Iterable[str]) -> None: ...
    async def retry_return_at(self, task_id: str, email: str, at_ms: int | None) -> None: ...
    async def due_returns(self, now_ms: int, limit: int = 200) -> list[tuple[str, str]]: ...
    async def wait_for_outcome(self, command_id: str, move: str) -> None: ...
    async def waiting_moves(self, limit: int = 500) -> dict[str, str]: ...
    async def take_waiting_move(self, command_id: str) -> bool: ...
    async def note_auto_completion(self, set_status_id: str, task_id: str, email: str, item_id: str) -> None: ...
    async def auto_completion(self, set_status_id: str) -> tuple[str, str, str] | None: ...

    # the copy of task facts, and the task service asked for what the copy lacks
    async def task_facts(self, task_id: str) -> TaskFacts | None: ...
    async def keep_task_facts(self, task_id: str, facts: TaskFacts) -> bool: ...
    async def keep_task_meta(self, task_id: str, meta: TaskMeta) -> bool: ...
    async def keep_pulled(self, task_id: str, assignment_id: str, item_ids: Sequence[str], version: int) -> bool: ...
    async def keep_statuses(self, task_id: str, changes: Sequence[tuple[str, bool, int, str]]) -> None: ...
    async def facts_behind(self) -> bool: ...
    async def done_items(self, task_id: str, item_ids: Iterable[str]) -> set[str]: ...
    async def statuses(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]: ...
    async def ask_task(self, task_id: str, now_ms: int) -> tuple[TaskFacts, list[tuple[str, bool, int, str]]] | None: ...
    async def ask_assignment(self, task_id: str, assignment_id: str) -> tuple[list[str], int] | None: ...
    async def ask_statuses(self, task_id: str, item_ids: Sequence[str]) -> dict[str, bool] | None: ...
    async def pull(self, command: PullItems) -> Any: ...

    # outcomes
    async def outcome_statuses(self, command_ids: Sequence[str]) -> dict[str, str]: ...
    async def outcomes(self, command_ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    async def save_outcomes(self, outcomes: list[dict[str, Any]]) -> None: ...


class WorkflowStore(RedisQueues):
    """The workflow repository: the Redis read model and copy of task facts, the task service
    asked for what the copy lacks (`owner`), and outcome records kept twice: in MongoDB's
    `operations`, where the gateway answers `/operations/{id}` from (and a move waiting for a
    classification looks), and in Redis for a day, where the runner looks a redelivered
    command up in one round trip."""

    def __init__(self, redis: Redis, namespace: str, ttl_ms: int, data: MongoOutcomes,
                 owner: TaskOwner | None = None) -> None:
        super().__init__(redis, namespace, ttl_ms)
        self.data = data
        self.owner = owner

    async def ask_task(self, task_id: str, now_ms: int) -> tuple[TaskFacts, list[tuple[str, bool, int, str]]] | None:
        if self.owner is None:
            return None
        return await self.owner.task(task_id, now_ms)

    async def ask_assignment(self, task_id: str, assignment_id: str) -> tuple[list[str], int] | None:
        """The assignment's items as the task service holds them now, or None when it has no
        such assignment or does not answer at once (the copy's word stands then)."""
        if self.owner is None:
            return None
        try:
            return await self.owner.assignment(task_id, assignment_id, ASK_NOW_S)
        except Exception as exc:  # noqa: BLE001 - a late or failed answer leaves the copy's word
            log.warning("assignment %s of task %s not asked: %r", assignment_id, task_id, exc)
            return None

    async def ask_statuses(self, task_id: str, item_ids: Sequence[str]) -> dict[str, bool] | None:
        """The statuses the task service holds now, or None when it does not answer at once
        (the copy's word stands then: a move does not wait for a service that is down)."""
        if self.owner is None or not item_ids:
            return None
        try:
            return await self.owner.statuses(task_id, item_ids, ASK_NOW_S)
        except Exception as exc:  # noqa: BLE001 - a late or failed answer leaves the copy's word
            log.warning("statuses of task %s not asked: %r", task_id, exc)
            return None

    async def pull(self, command: PullItems) -> Any:
        """The outcome of `command` (ItemsPulled or CommandRejected), or None when the task
        service has not answered within PULL_WAIT_S (the pull is on its way: its outcome is
        stored once it is done)."""
        if self.owner is None:
            return None
        try:
            return await self.owner.pull(command, PULL_WAIT_S)
        except TimeoutError:
            log.warning("pull %s not answered within %.1f s", command.id, PULL_WAIT_S)
            return None

    async def outcome_statuses(self, command_ids: Sequence[str]) -> dict[str, str]:
        return await self.data.outcome_statuses(command_ids)

    async def outcomes(self, command_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return await self.processed(list(command_ids))

    async def save_outcomes(self, outcomes: list[dict[str, Any]]) -> None:
        """Both at once (the runner publishes once both are stored). When MongoDB's copy
        fails, the Redis copies go again, so the redelivered batch runs its commands again
        (idempotent) and stores both, rather than replaying a record the gateway lacks."""
        mongo, redis = await asyncio.gather(self.data.save_outcomes(outcomes), self.remember(outcomes),
                                            return_exceptions=True)
        if isinstance(mongo, BaseException):
            await self.forget([r["_id"] for r in outcomes])
            raise mongo
        if isinstance(redis, BaseException):
            raise redis
