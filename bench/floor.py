"""The floor of the classify-and-advance loop on this machine: what each mechanism the fixed
shape puts on an item's path costs here, measured alone and one use at a time, as the loop
uses them (the loop is one annotator: each item waits for the one before).

    python bench/floor.py                    # embedded Valkey and MongoDB-wire servers
    REDIS_URL=... MONGODB_URL=... python bench/floor.py

Measured, CPU per use summed over every process involved (this one, the server processes,
the helper process), and latency:
- a stream hop: a FastStream process reading as every service does (`shared.platform.messaging.attach`:
  batch read in a group, parse the contract, handle, acknowledge) takes one `SetStatus` and
  publishes one onward (`publish_all`); this process adds the entries and reads the far end;
- a MongoDB round trip through motor: insert, find by `_id`, update by `_id`;
- an HTTP round trip: aiohttp to a Litestar route with a pydantic body under uvicorn, as the
  gateway is served.

Then the sum of the fewest of each that an item needs in this shape (printed with the reason
for each count), against the two cores' 2,000 ms per second; and the bare skeleton: the
gateway and the three services as processes that do those uses and nothing else (no rules,
read models, lookups or outcomes), driven by one annotator without think time, as
`bench/autonext.py` drives the platform. Its items/s bound what the platform can reach here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentiles
from shared.contracts.envelope import Actor
from shared.contracts.tasks import SetStatus

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) of a process so far, in ms."""
    if pid == os.getpid():
        t = os.times()
        return (t.user + t.system) * 1000
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_MS


def pid_listening(port: int) -> int | None:
    """The process listening on a loopback port (the server to charge), if this machine says
    (`ss`, from iproute2; a server it cannot name is left out of the figures)."""
    try:
        out = subprocess.run(["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True,
                             check=False).stdout
    except FileNotFoundError:
        return None
    for part in out.split("pid=")[1:]:
        return int(part.split(",")[0])
    return None


class Body(BaseModel):
    """A classify's body, as the API takes it."""

    label: str
    taskId: str | None = None  # the API's field name


def classified(annotation_id: str, item_id: str, data: Body) -> dict[str, Any]:
    """A classify's answer: a Dataloop-sized class annotation and the next item."""
    return {"annotation": {"id": annotation_id, "itemId": item_id, "type": "class", "label": data.label,
                           "coordinates": [], "metadata": {"system": {"taskId": data.taskId}},
                           "attributes": {}, "createdAt": "2026-12-02T00:00:00.000Z"},
            "nextItem": {"id": "b" * 24, "name": "next.jpg", "dir": "/bench"}}


def message(n: int) -> SetStatus:
    return SetStatus(actor=Actor(user_id="u" * 24, email="annotator@example.com", role="annotator"),
                     task_id="t" * 24, project_id="p" * 24, item_id=f"{n:024d}", status="completed",
                     if_open=True)


# the helper processes -------------------------------------------------------------------------

def http_server(port: int) -> None:
    """A Litestar route with a pydantic body, answering a Dataloop-sized class annotation."""
    from litestar import Litestar, post

    from shared.platform.runtime import serve

    @post("/api/v1/items/{item_id:str}/annotations")
    async def classify(item_id: str, data: Body) -> dict[str, Any]:
        return classified("a" * 24, item_id, data)

    serve(Litestar([classify]), port)


# the relay (one hop alone) and the bare skeleton: the shape's processes doing nothing but
# their hops and writes -----------------------------------------------------------------------

SK = {"in": "floor.in", "out": "floor.out", "check": "sk.check", "classify": "sk.classify",
      "answer": "sk.answer", "move": "sk.move", "status": "sk.status", "fact": "sk.fact"}
SK_GROUPS = {"in": "relay", "check": "task", "classify": "annotation", "move": "workflow",
             "status": "task", "fact": "workflow", "answer": "workflow"}


async def empty_streams(redis_url: str) -> None:
    """Every stream here anew, with its group at 0, as the platform makes them."""
    from redis.asyncio import Redis

    r = Redis.from_url(redis_url)
    await r.delete(*SK.values())
    for key, group in SK_GROUPS.items():
        await r.xgroup_create(SK[key], group, id="0", mkstream=True)
    await r.aclose()


def skeleton_service(role: str, redis_url: str, mongo_url: str, port: int, hops: int) -> None:
    """One of the three services, each reading as they all read (`attach`) and doing only
    the hop or the write an item needs of it. With 5 hops the workflow service moves on
    when it reads the annotation service's event, instead of on a command from the gateway.
    The role `relay` is one hop alone: each entry of `in` published onto `out`."""
    from motor.motor_asyncio import AsyncIOMotorClient

    from shared.platform.messaging import (
        Consumer,
        DeadLetters,
        attach,
        make_broker,
        make_redis,
        publish_all,
    )
    from shared.platform.runtime import serve, service_app
    from shared.platform.settings import Settings

    settings = Settings(REDIS_URL=redis_url, STREAM_NAMESPACE="")
    broker, redis = make_broker(settings), make_redis(settings)
    db = AsyncIOMotorClient(mongo_url)["floor"] if role in ("task", "annotation") else None  # writers
    out = {k: broker.publisher(stream=v) for k, v in SK.items()}

    def reader(key: str, handle: Any) -> None:
        attach(broker, Consumer(SK[key], SK_GROUPS[key], SetStatus.model_validate, handle, key, key),
               settings=settings, service=f"floor-{role}", dead_letters=DeadLetters(redis, ""))

    async def relay(cmds: list[SetStatus]) -> None:
        await publish_all(redis, out["out"], cmds)

    async def forward_to_annotation(cmds: list[SetStatus]) -> None:  # the allocation check
        await publish_all(redis, out["classify"], cmds)

    async def store_class(cmds: list[SetStatus]) -> None:
        await db.annotations.insert_many([{"_id": c.id, "itemId": c.item_id, "type": "class",
                                           "label": "men's clothes.polo shirts", "coordinates": []}
                                          for c in cmds])
        await publish_all(redis, out["answer"], cmds)

    async def complete(cmds: list[SetStatus]) -> None:  # auto complete's status
        await publish_all(redis, out["status"], [c.model_copy(update={"id": c.id + "s"}) for c in cmds])

    async def store_status(cmds: list[SetStatus]) -> None:
        await db.item_statuses.insert_many([{"_id": c.id, "itemId": c.item_id, "status": c.status}
                                            for c in cmds])
        await db.task_progress.update_one({"_id": "t"}, {"$inc": {"completed": len(cmds)}}, upsert=True)
        await publish_all(redis, out["fact"], cmds)

    async def apply_fact(cmds: list[SetStatus]) -> None:
        pass

    if role == "relay":
        reader("in", relay)
    elif role == "task":
        reader("check", forward_to_annotation)
        reader("status", store_status)
    elif role == "annotation":
        reader("classify", store_class)
    else:
        reader("move" if hops == 6 else "answer", complete)
        reader("fact", apply_fact)
    serve(service_app(f"floor-{role}", broker, checks={}), port)


def skeleton_gateway(redis_url: str, port: int, hops: int) -> None:
    """The gateway's part: a Litestar route that publishes the classify (with its pending
    marker, in one round trip), waits for its event (read without a group, as the gateway
    reads), sends the move and answers."""
    from litestar import Litestar, post

    from gateway.outcomes import OutcomeHub, correlation_of
    from shared.platform.messaging import batch_reader, make_broker, make_redis
    from shared.platform.runtime import serve
    from shared.platform.settings import Settings

    settings = Settings(REDIS_URL=redis_url, STREAM_NAMESPACE="")
    broker, hub, box = make_broker(settings), OutcomeHub(), {}
    out = {k: broker.publisher(stream=v) for k, v in SK.items()}

    @broker.subscriber(**batch_reader(SK["answer"], max_records=500))
    async def answers(bodies: list[Any]) -> None:
        for raw in bodies:
            if (future := hub.waiting.get(correlation_of(raw))) is not None and not future.done():
                future.set_result(True)

    @post("/api/v1/items/{item_id:str}/annotations")
    async def classify(item_id: str, data: Body) -> dict[str, Any]:
        command_id = f"{item_id}-{time.time_ns()}"
        cmd = message(0).model_copy(update={"item_id": item_id, "id": command_id, "correlation_id": command_id})
        future = hub.expect(cmd.id)
        try:
            async with box["redis"].pipeline(transaction=False) as pipe:
                pipe.set(f"floor:op:{cmd.id}", "{}", ex=60)
                await out["check"].publish(cmd.wire(), correlation_id=cmd.id, pipeline=pipe)
                await pipe.execute()
            await asyncio.wait_for(asyncio.shield(future), 5)
        finally:
            hub.forget(cmd.id)
        if hops == 6:
            move = cmd.model_copy(update={"id": cmd.id + "m"})
            await out["move"].publish(move.wire(), correlation_id=move.id)
        return classified(cmd.id, item_id, data)

    async def start() -> None:
        box["redis"] = make_redis(settings)
        await broker.start()

    serve(Litestar([classify], on_startup=[start], on_shutdown=[broker.stop]), port)


def spawn(*args: str) -> subprocess.Popen:
    log = open(Path(os.environ.get("FLOOR_LOG", os.devnull)), "a")  # noqa: SIM115 - the child's
    return subprocess.Popen([sys.executable, __file__, *args], cwd=ROOT, stdout=log, stderr=log,
                            start_new_session=True)


async def ready(port: int, path: str = "/health/ready") -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"http://127.0.0.1:{port}{path}") as r:
                    if r.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"nothing answered on port {port}")


# the measurements -----------------------------------------------------------------------------

class Meter:
    """CPU of a set of processes and latency of each use, over `n` uses."""

    def __init__(self, name: str, pids: dict[str, int | None]) -> None:
        self.name, self.latencies = name, []
        self.pids = {"this": os.getpid()} | {k: p for k, p in pids.items() if p is not None}

    def __enter__(self) -> Self:
        self.cpu0 = {k: cpu_ms(p) for k, p in self.pids.items()}
        return self

    def __exit__(self, *_: object) -> None:
        self.cpu = {k: cpu_ms(p) - self.cpu0[k] for k, p in self.pids.items()}

    def per_use(self) -> float:
        return sum(self.cpu.values()) / len(self.latencies)

    def line(self) -> str:
        p, n = percentiles(self.latencies), len(self.latencies)
        parts = "  ".join(f"{k} {v / n:.3f}" for k, v in self.cpu.items())
        return (f"{self.name:26s} CPU {self.per_use():.3f} ms per use ({parts}); "
                f"latency ms p50 {p['p50']:.3f}  p99 {p['p99']:.3f}")


async def hop(redis_url: str, relay_pid: int, valkey_pid: int | None, n: int) -> Meter:
    from faststream.redis import RedisBroker
    from redis.asyncio import Redis

    from shared.platform.messaging import prepare_all

    redis = Redis.from_url(redis_url)
    publisher = RedisBroker(redis_url).publisher(stream=SK["in"])
    last = "$"
    for warm in (True, False):
        meter = Meter("stream hop (FastStream)", {"helper": relay_pid, "valkey": valkey_pid})
        with meter:
            for i in range(200 if warm else n):
                entry = (await prepare_all(publisher, [message(i)])).entries[0]
                t = time.perf_counter()
                await redis.xadd(SK["in"], {"__data__": entry})
                got = await redis.xread({SK["out"]: last}, count=1, block=5000)
                meter.latencies.append(time.perf_counter() - t)
                last = got[0][1][-1][0]
    await redis.aclose()
    return meter


async def mongo(mongo_url: str, mongo_pid: int | None, n: int) -> list[Meter]:
    from motor.motor_asyncio import AsyncIOMotorClient

    client = AsyncIOMotorClient(mongo_url)
    coll = client["floor"]["item_statuses"]
    await coll.drop()
    doc = message(0).model_dump(mode="json")
    meters = []
    for name, op in (("mongo insert (motor)", lambda i: coll.insert_one(doc | {"_id": f"x{i}"})),
                     ("mongo find by _id", lambda i: coll.find_one({"_id": f"x{i}"})),
                     ("mongo update by _id", lambda i: coll.update_one({"_id": f"x{i}"},
                                                                       {"$set": {"status": "discard"}}))):
        for i in range(100):  # warm the client and the server, outside the figures
            await op(n + i)
        meter = Meter(name, {"mongo": mongo_pid})
        with meter:
            for i in range(n):
                t = time.perf_counter()
                await op(i)
                meter.latencies.append(time.perf_counter() - t)
        meters.append(meter)
    await client["floor"].command("dropDatabase")
    client.close()
    return meters


async def http(port: int, server_pid: int, n: int) -> Meter:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}",
                                     headers={"Authorization": "Bearer clf_x"}) as session:
        body = {"label": "men's clothes.polo shirts", "taskId": "t" * 24}
        for warm in (True, False):
            meter = Meter("HTTP round trip (Litestar)", {"helper": server_pid})
            with meter:
                for i in range(200 if warm else n):
                    t = time.perf_counter()
                    async with session.post(f"/api/v1/items/{i:024d}/annotations", json=body) as r:
                        await r.read()
                    meter.latencies.append(time.perf_counter() - t)
    return meter


async def skeleton_loop(port: int, pids: dict[str, int | None], n: int, hops: int) -> tuple[Meter, float]:
    """One annotator without think time through the bare skeleton: items/s and CPU per item."""
    body = {"label": "men's clothes.polo shirts", "taskId": "t" * 24}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
        for warm in (True, False):
            meter = Meter(f"bare skeleton, {hops} hops", pids)
            with meter:
                start = time.perf_counter()
                for i in range(300 if warm else n):
                    t = time.perf_counter()
                    async with session.post(f"/api/v1/items/{i:024d}/annotations", json=body) as r:
                        await r.read()
                        assert r.status == 201, r.status
                    meter.latencies.append(time.perf_counter() - t)
                seconds = time.perf_counter() - start
            await asyncio.sleep(1)  # the last items' auto complete, inside the CPU figures
    return meter, len(meter.latencies) / seconds


# the loop's counts: the fewest uses of each mechanism per item in this shape ------------------

HOPS = [
    "the gateway's classify to the task service (it enforces the allocation rules)",
    "the task service's accepted classify to the annotation service",
    "the annotation service's event back to the gateway (the classify's answer)",
    "the move to the workflow service, which owns the queues",
    "auto complete's status to the task service (through the status stream)",
    "the task service's status event to the workflow service's queue",
]
WRITES = [
    "the class annotation",
    "the item's status",
    "the task's progress count",
]


async def skeleton(redis_url: str, mongo_url: str, valkey_pid: int | None, mongo_pid: int | None,
                   hops: int, n: int) -> tuple[Meter, float]:
    """The four processes of the bare skeleton, started on empty streams, driven and stopped."""
    from deploy.embedded import free_port

    await empty_streams(redis_url)

    ports = {k: free_port() for k in ("gateway", "task", "annotation", "workflow")}
    roles = {"gateway": spawn("--skeleton-gateway", redis_url, str(ports["gateway"]), str(hops))} | {
        role: spawn("--skeleton", role, redis_url, mongo_url, str(ports[role]), str(hops))
        for role in ("task", "annotation", "workflow")}
    try:
        await ready(ports["gateway"], "/schema")
        for role in ("task", "annotation", "workflow"):
            await ready(ports[role])
        pids = {k: p.pid for k, p in roles.items()} | {"valkey": valkey_pid, "mongo": mongo_pid}
        return await skeleton_loop(ports["gateway"], pids, n, hops)
    finally:
        for p in roles.values():
            p.terminate()
            p.wait(10)


async def main(args: argparse.Namespace) -> None:
    from deploy.embedded import embedded_secantus, embedded_valkey, free_port

    with ExitStack() as stack:
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(embedded_valkey())
        mongo_url = os.environ.get("MONGODB_URL") or stack.enter_context(embedded_secantus())
        valkey_pid = pid_listening(urlsplit(redis_url).port or 6379)
        mongo_pid = pid_listening(urlsplit(mongo_url).port or 27017)
        await empty_streams(redis_url)
        ports = {k: free_port() for k in ("relay", "http")}
        helpers = {"relay": spawn("--skeleton", "relay", redis_url, mongo_url, str(ports["relay"]), "1"),
                   "http": spawn("--http-server", str(ports["http"]))}
        try:
            await ready(ports["relay"])
            await ready(ports["http"], "/schema")
            figures = [await hop(redis_url, helpers["relay"].pid, valkey_pid, args.n),
                       *await mongo(mongo_url, mongo_pid, args.n),
                       await http(ports["http"], helpers["http"].pid, args.n)]
        finally:
            for p in helpers.values():
                p.terminate()
                p.wait(10)
        skeletons = [await skeleton(redis_url, mongo_url, valkey_pid, mongo_pid, hops, args.n)
                     for hops in (6, 5)]

    for f in figures:
        print(f.line())
    # A hop is what the helper and the server spend: this process's add and read stand for
    # the neighbouring hops' ends.
    hop_ms = (figures[0].cpu["helper"] + figures[0].cpu.get("valkey", 0)) / len(figures[0].latencies)
    write_ms, http_ms = min(figures[1].per_use(), figures[3].per_use()), figures[4].per_use()
    floor = http_ms + len(HOPS) * hop_ms + len(WRITES) * write_ms
    print("\nThe fewest uses per item in this shape:")
    print("  1 HTTP round trip: the classify, answered with the next item")
    for h in HOPS:
        print(f"  1 stream hop: {h}")
    for w in WRITES:
        print(f"  1 MongoDB write: {w}")
    print("  (not counted: the class lookup a single-class task replaces, the statuses read for the counts,")
    print("   outcomes kept for idempotency, the gateway's reading of the events it does not wait for)")
    print(f"sum of the mechanisms per item: {floor:.2f} ms of CPU = {http_ms:.2f} + {len(HOPS)} x {hop_ms:.2f} "
          f"+ {len(WRITES)} x {write_ms:.2f}; at 200 items/s that is {floor * 200 / 20:.0f}% of the two cores")
    print()
    for (meter, rate), what in zip(skeletons, (
            "the move a command from the gateway, as the platform does",
            "the workflow service moving on when it reads the classification's event"), strict=True):
        print(meter.line())
        print(f"bare skeleton, {what} (those uses only, in the shape's processes, one annotator "
              f"without think time): {rate:,.0f} items/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000, help="uses of each mechanism")
    parser.add_argument("--http-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--skeleton", nargs=5, metavar=("ROLE", "REDIS_URL", "MONGODB_URL", "PORT", "HOPS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--skeleton-gateway", nargs=3, metavar=("REDIS_URL", "PORT", "HOPS"),
                        help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.skeleton:
        skeleton_service(*arguments.skeleton[:3], int(arguments.skeleton[3]), int(arguments.skeleton[4]))
    elif arguments.skeleton_gateway:
        skeleton_gateway(arguments.skeleton_gateway[0], *map(int, arguments.skeleton_gateway[1:]))
    elif arguments.http_server:
        http_server(arguments.http_server)
    else:
        asyncio.run(main(arguments))
