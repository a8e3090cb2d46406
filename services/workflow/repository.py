"""The workflow service's data access: its Redis read model (per-annotator queues, settings,
leases; layout shared.contracts.read_model.ReadModel, scripts services.workflow.queue) and read-only
reads of the task service's MongoDB collections it is seeded from. The only module of the
service that talks to Redis or MongoDB."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from motor.motor_asyncio import AsyncIOMotorClient
from pymongo.errors import BulkWriteError
from redis.asyncio import Redis

from services.workflow import queue
from services.workflow.rules import TaskMeta, WorkflowSettings, heartbeat_every_s
from shared.contracts.read_model import ReadModel
from shared.platform.mongo import find_in

PROCESSED_TTL_S = 24 * 3600
PULL_IN_FLIGHT_MS = 5_000
CHUNK = 1_000
DUPLICATE_KEY = 11000


class RedisQueues:
    """Annotators' queues. Every change to one annotator's queue is one script, so readers
    (the gateway) never see half of it."""

    def __init__(self, redis: Redis, namespace: str, ttl_ms: int) -> None:
        self.redis = redis
        self.rm = ReadModel(namespace)
        self.ttl_ms = ttl_ms
        self.scripts = {name: redis.register_script(text) for name, text in queue.scripts().items()}

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


class MongoTaskData:
    """Read-only views of the task service's collections (the workflow never writes them),
    and the `operations` outcomes every service records for the gateway."""

    def __init__(self, client: AsyncIOMotorClient, database: str) -> None:
        self.client = client
        self.db = client[database]

    async def task(self, task_id: str) -> dict[str, Any] | None:
        return await self.db.tasks.find_one({"_id": task_id})

    async def assignments(self, task_id: str) -> list[dict[str, Any]]:
        """The task's working assignments (not the hidden queue, not removed), items in order."""
        cursor = self.db.assignments.find({"taskId": task_id, "queue": {"$ne": True},
                                           "removed": {"$ne": True}, "active": True})
        return [d async for d in cursor if d.get("annotator")]

    async def assignment(self, assignment_id: str) -> dict[str, Any] | None:
        return await self.db.assignments.find_one({"_id": assignment_id})

    async def allocation_version(self, task_id: str) -> int:
        """How many times the task service changed who holds what in the task (read before
        an assignment, it dates the reading: lua/sync.lua)."""
        task = await self.db.tasks.find_one({"_id": task_id}, {"allocationVersion": 1})
        return int((task or {}).get("allocationVersion", 0))

    async def done_items(self, task_id: str, item_ids: Iterable[str]) -> set[str]:
        """Those of the task's `item_ids` that hold a status (read by `_id`, the only index
        of `item_statuses`). A task whose counts show no status (a new one) is not read:
        a big task's creation would look up every one of its ids for nothing."""
        progress = await self.db.task_progress.find_one({"_id": task_id}, {"counts": 1})
        if progress is not None and not any(n for by in progress.get("counts", {}).values()
                                            for n in by.values()):
            return set()
        ids = [f"{task_id}:{i}" for i in item_ids]
        docs = await find_in(self.db.item_statuses, "_id", ids, {"status": {"$ne": None}}, {"itemId": 1})
        return {d["itemId"] for d in docs}

    async def statuses(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """(task, item) -> the item's status document, for the pairs that have one."""
        ids = [f"{t}:{i}" for t, i in keys]
        return {(d["taskId"], d["itemId"]): d for d in await find_in(self.db.item_statuses, "_id", ids)}

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


def connect(url: str, database: str) -> MongoTaskData:
    client: AsyncIOMotorClient = AsyncIOMotorClient(url, serverSelectionTimeoutMS=3000, tz_aware=True)
    return MongoTaskData(client, database)


class WorkflowRepository(Protocol):
    """What the workflow's handlers and reactions read and write (services.workflow.handlers):
    the read model's queues (RedisQueues' methods), the task service's data it is seeded
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

    # the task service's data
    async def task(self, task_id: str) -> dict[str, Any] | None: ...
    async def assignments(self, task_id: str) -> list[dict[str, Any]]: ...
    async def assignment(self, assignment_id: str) -> dict[str, Any] | None: ...
    async def allocation_version(self, task_id: str) -> int: ...
    async def done_items(self, task_id: str, item_ids: Iterable[str]) -> set[str]: ...
    async def statuses(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]: ...

    # outcomes
    async def outcome_statuses(self, command_ids: Sequence[str]) -> dict[str, str]: ...
    async def outcomes(self, command_ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    async def save_outcomes(self, outcomes: list[dict[str, Any]]) -> None: ...


class WorkflowStore(RedisQueues):
    """The workflow repository: the Redis read model, the task service's data (`data`), and
    outcome records kept twice: in MongoDB's `operations`, where the gateway answers
    `/operations/{id}` from (and a move waiting for a classification looks), and in Redis for
    a day, where the runner looks a redelivered command up in one round trip."""

    def __init__(self, redis: Redis, namespace: str, ttl_ms: int, data: MongoTaskData) -> None:
        super().__init__(redis, namespace, ttl_ms)
        self.data = data

    async def task(self, task_id: str) -> dict[str, Any] | None:
        return await self.data.task(task_id)

    async def assignments(self, task_id: str) -> list[dict[str, Any]]:
        return await self.data.assignments(task_id)

    async def assignment(self, assignment_id: str) -> dict[str, Any] | None:
        return await self.data.assignment(assignment_id)

    async def allocation_version(self, task_id: str) -> int:
        return await self.data.allocation_version(task_id)

    async def done_items(self, task_id: str, item_ids: Iterable[str]) -> set[str]:
        return await self.data.done_items(task_id, item_ids)

    async def statuses(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        return await self.data.statuses(keys)

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
