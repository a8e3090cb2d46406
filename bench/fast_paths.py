"""The platform kit's fast paths, each against the plain way it replaces, on the servers
themselves (no platform running): the figures of docs/fast-paths.md.

    python bench/fast_paths.py                 # embedded Valkey and MongoDB-wire servers
    REDIS_URL=... MONGODB_URL=... python bench/fast_paths.py
    python bench/fast_paths.py publish         # or: in-slices, token-check, holder

- publish: 10,000 events onto a stream by `publish_all` (encoded by `prepare_all`, then one
  call of lua/xadd_many.lua per 1,000), by a pipeline of one XADD each, and by FastStream's
  `publisher.publish` per message in a pipeline;
- in-slices: documents read and updated by one `$in` over the whole list, and by
  `shared.platform.mongo.find_in` / `update_in` in slices;
- token-check: a request's admission by gateway/lua/rate_check.lua, and by the same
  commands in a pipeline;
- holder: who holds an item of a 100,000-item task (four assignments of 25,000): the
  task service's allocation document read by `_id`, against the query on the assignments'
  item lists it replaced and an in-memory map (the item -> holder cache it replaced), and
  what writing the task's allocation documents costs.
Each is run several times; the first round (warm-up) is left out. Wall time and this
process's CPU time per round; the servers' CPU is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faststream.redis.message import DATA_KEY  # noqa: E402

from shared.contracts.envelope import Actor  # noqa: E402
from shared.contracts.events import ItemClassified  # noqa: E402
from shared.platform.messaging import (  # noqa: E402
    make_broker,
    make_redis,
    prepare_all,
    publish_all,
    stream_publisher,
)
from shared.platform.mongo import find_in, update_in  # noqa: E402
from shared.platform.scripts import lua  # noqa: E402
from shared.platform.settings import Settings  # noqa: E402

ROUNDS = 4


def cpu_ms() -> float:
    t = os.times()
    return (t.user + t.system) * 1000


class Rounds:
    """Wall and CPU ms of each round of each way, printed as ranges (warm-up left out)."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[float, float]]] = {}

    async def time(self, way: str, work) -> None:
        wall, cpu = time.perf_counter(), cpu_ms()
        await work
        self.seen.setdefault(way, []).append(((time.perf_counter() - wall) * 1000, cpu_ms() - cpu))

    def print(self, what: str) -> None:
        print(what)
        for way, rounds in self.seen.items():
            walls, cpus = [w for w, _ in rounds[1:]], [c for _, c in rounds[1:]]
            print(f"  {way:40s} wall {min(walls):8.1f}-{max(walls):8.1f} ms   "
                  f"CPU here {min(cpus):8.1f}-{max(cpus):8.1f} ms")


def event(n: int) -> ItemClassified:
    return ItemClassified(id=f"e-{n}", correlation_id=f"c-{n}", actor=Actor(user_id="u1", email="a@example.com"),
                          item_id=f"item-{n}", dataset_id="d1", project_id="p1",
                          annotation={"id": f"a{n}", "label": "cat"})


async def publish(redis_url: str, n: int = 10_000) -> None:
    settings = Settings(REDIS_URL=redis_url, STREAM_NAMESPACE="bench-fast")
    broker, redis = make_broker(settings), make_redis(settings)
    await broker.connect()
    publisher = stream_publisher(broker, settings, "publish", schema=ItemClassified, description="bench")
    stream, messages, rounds = publisher.stream, [event(k) for k in range(n)], Rounds()

    async def pipeline_of_xadds(entries: list[bytes]) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            for entry in entries:
                pipe.xadd(stream.name, {DATA_KEY: entry}, maxlen=stream.maxlen)
            await pipe.execute()

    async def publisher_publish() -> None:
        async with redis.pipeline(transaction=False) as pipe:
            for m in messages:
                await publisher.publish(m.wire(), correlation_id=m.id, pipeline=pipe)
            await pipe.execute()

    for _ in range(ROUNDS):
        prepared = await prepare_all(publisher, messages)
        await rounds.time("prepare_all (encoding, either way)", prepare_all(publisher, messages))
        await rounds.time("publish_all of prepared (xadd_many.lua)", publish_all(redis, publisher, prepared))
        await rounds.time("pipeline of one XADD each, prepared", pipeline_of_xadds(prepared.entries))
        await rounds.time("publisher.publish each (encodes too)", publisher_publish())
        await redis.delete(stream.name)
    rounds.print(f"publish: {n:,} events onto one stream")
    await broker.stop()
    await redis.aclose()


async def in_slices(mongo_url: str) -> None:
    from motor.motor_asyncio import AsyncIOMotorClient

    client = AsyncIOMotorClient(mongo_url)
    statuses = client["bench_fast_paths"]["item_statuses"]
    await statuses.drop()
    await statuses.insert_many([{"_id": f"t:{k}", "taskId": "t", "itemId": str(k), "status": "completed"}
                                for k in range(10_000)])

    async def one_query(ids: list[str]) -> list[dict]:
        return [d async for d in statuses.find({"_id": {"$in": ids}})]

    for label, ids in (("1,000 ids, all found", [f"t:{k}" for k in range(1_000)]),
                       ("2,000 ids, all found", [f"t:{k}" for k in range(2_000)]),
                       ("10,000 ids, none found", [f"x:{k}" for k in range(10_000)])):
        rounds = Rounds()
        for _ in range(3):
            await rounds.time("one $in", one_query(ids))
            await rounds.time("find_in (slices)", find_in(statuses, "_id", ids))
        rounds.print(f"in-slices: read {label}")
    rounds, ids = Rounds(), [f"t:{k}" for k in range(1_000)]
    for k in range(3):
        await rounds.time("one $in", statuses.update_many({"_id": {"$in": ids}}, {"$set": {"n": k}}))
        await rounds.time("update_in (slices)", update_in(statuses, "_id", ids, {"$set": {"m": k}}))
    rounds.print("in-slices: update 1,000 ids")
    await client.drop_database("bench_fast_paths")
    client.close()


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    at = {q: ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] for q in (50, 95, 99)}
    return "  ".join(f"p{q} {v:7.2f} ms" for q, v in at.items())


async def holder(mongo_url: str, items: int = 100_000, lookups: int = 300) -> None:
    import random

    from motor.motor_asyncio import AsyncIOMotorClient
    from pymongo import ASCENDING

    client = AsyncIOMotorClient(mongo_url)
    db = client["bench_fast_paths"]
    await client.drop_database("bench_fast_paths")
    await db.assignments.create_index([("itemIds", ASCENDING)])
    ids = [f"i{k:06d}" for k in range(items)]
    held = {f"a{n}": ids[n::4] for n in range(4)}
    await db.assignments.insert_many([{"_id": a, "taskId": "t", "annotator": f"{a}@example.com", "itemIds": share,
                                       "active": True, "removed": False, "locked": False, "queue": False}
                                      for a, share in held.items()])
    from services.task.repository import MongoTaskRepository

    repo = MongoTaskRepository(client, "bench_fast_paths")
    assignments = await db.assignments.find({"taskId": "t"}).to_list(None)
    wall = time.perf_counter()
    await repo._insert_allocation("t", assignments)
    print(f"holder: writing {items:,} allocation entries in their buckets (the repository's way): "
          f"{(time.perf_counter() - wall) * 1000:,.0f} ms")
    docs = [{"_id": f"t:{i}", "taskId": "t", "itemId": i, "holder": {"_id": a, "annotator": f"{a}@example.com"}}
            for a, share in held.items() for i in share]
    wall = time.perf_counter()
    for n in range(0, len(docs), 10_000):
        await db.allocations_per_item.insert_many(docs[n:n + 10_000], ordered=False)
    print(f"holder: writing {items:,} allocation documents, one per item (before): "
          f"{(time.perf_counter() - wall) * 1000:,.0f} ms")
    wall = time.perf_counter()
    cache = {i: {"_id": a["_id"]} async for a in db.assignments.find({"taskId": "t"}) for i in a["itemIds"]}
    print(f"holder: building the item -> holder map from the assignments: {(time.perf_counter() - wall) * 1000:,.0f} ms")
    picks = random.Random(7).choices(ids, k=lookups)

    async def timed(lookup) -> list[float]:
        spent = []
        for i in picks:
            at = time.perf_counter()
            assert await lookup(i) is not None
            spent.append((time.perf_counter() - at) * 1000)
        return spent

    task = {"_id": "t"}

    async def by_bucket(i: str) -> dict | None:
        return await repo.holding(task, i)

    async def by_id(i: str) -> dict | None:
        return await db.allocations_per_item.find_one({"_id": f"t:{i}"})

    async def by_query(i: str) -> dict | None:
        return await db.assignments.find_one({"taskId": "t", "itemIds": i, "active": True, "queue": {"$ne": True}},
                                             {"itemIds": 0})

    async def in_memory(i: str) -> dict | None:
        return cache.get(i)

    moved = held["a0"]
    wall = time.perf_counter()
    await repo.allocate("t", moved, {"_id": "a9", "taskId": "t", "annotator": "a9@example.com"})
    print(f"holder: moving {len(moved):,} items to another assignment (the repository's way): "
          f"{(time.perf_counter() - wall) * 1000:,.0f} ms")
    wall = time.perf_counter()
    for n in range(0, len(moved), 10_000):
        await db.allocations_per_item.update_many({"_id": {"$in": [f"t:{i}" for i in moved[n:n + 10_000]]}},
                                                  {"$set": {"holder": {"_id": "a9"}}})
    print(f"holder: moving them, one document per item (before): {(time.perf_counter() - wall) * 1000:,.0f} ms")
    held["a9"], held["a0"] = moved, []
    await timed(by_bucket)  # warm-up
    for way, lookup in (("entry in its bucket (repository)", by_bucket), ("document per item by _id", by_id),
                        ("query on the item lists", by_query),
                        ("in-memory map (the cache)", in_memory)):
        print(f"  {way:32s} {percentiles(await timed(lookup))}  ({lookups} lookups)")
    await client.drop_database("bench_fast_paths")
    client.close()


async def token_check(redis_url: str, n: int = 2_000) -> None:
    redis = make_redis(Settings(REDIS_URL=redis_url))
    check = redis.register_script(lua("gateway", "rate_check"))
    keys = ["bench-fast:revoked:tok", "bench-fast:ratelimit:tok"]

    async def scripted() -> None:
        for _ in range(n):
            await check(keys=keys, args=[1_000_000, 120])

    async def pipelined() -> None:
        for _ in range(n):
            async with redis.pipeline(transaction=False) as pipe:
                pipe.exists(keys[0])
                pipe.incr(keys[1])
                pipe.expire(keys[1], 120, nx=True)
                await pipe.execute()

    rounds = Rounds()
    for _ in range(ROUNDS):
        await rounds.time("rate_check.lua, one call each", scripted())
        await rounds.time("EXISTS + INCR + EXPIRE NX pipelined", pipelined())
    rounds.print(f"token-check: {n:,} requests' admissions, one after the other")
    await redis.delete(*keys)
    await redis.aclose()


async def main(which: str) -> None:
    from deploy.embedded import embedded_secantus, embedded_valkey

    with ExitStack() as stack:
        if which in ("all", "publish", "token-check"):
            redis_url = os.environ.get("REDIS_URL") or stack.enter_context(embedded_valkey())
        if which in ("all", "publish"):
            await publish(redis_url)
        if which in ("all", "token-check"):
            await token_check(redis_url)
        if which in ("all", "in-slices", "holder"):
            mongo_url = os.environ.get("MONGODB_URL") or stack.enter_context(embedded_secantus())
        if which in ("all", "in-slices"):
            await in_slices(mongo_url)
        if which in ("all", "holder"):
            await holder(mongo_url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="?", default="all", choices=["all", "publish", "in-slices", "token-check", "holder"])
    asyncio.run(main(parser.parse_args().which))
