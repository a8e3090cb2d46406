"""The annotation service's runner path alone, in this process, on embedded servers: the
MongoDB commands and Redis round trips one single-command batch costs (a classify, a
started scene, a scene change), in the order sent, and the batch's wall time at
concurrency 1 (no HTTP, no gateway, no stream read).

    python bench/annotation_path.py

Each batch comes with a reply address and, where the runner takes one, its ack (a runner
without one had FastStream's XACK after it, which is added so both pay it). Runs on older
trees too (it finds out whether `run` takes an ack), to compare them.
"""

from __future__ import annotations

import asyncio
import inspect
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis.asyncio.client as redis_client
from bson import ObjectId
from pymongo import monitoring

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from deploy.embedded import embedded_secantus, embedded_valkey
from services.annotation.bootstrap import build
from shared.contracts.commands import Classify
from shared.contracts.envelope import Actor
from shared.contracts.scene_commands import HideFrames, StartScene, Video
from shared.platform.messaging import ensure_groups
from shared.platform.settings import Settings

ACTOR = Actor(user_id="u1", email="ann@example.com", role="annotator")
VIDEO = Video(fps=25, frame_count=3000, duration=120.0)
SENT: dict[str, list[str]] = {"mongo": [], "redis": []}


class _Commands(monitoring.CommandListener):
    def started(self, event: Any) -> None:
        SENT["mongo"].append(event.command_name)

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


def _count_redis() -> None:
    """Every Redis round trip: a command, or a pipeline's commands at once."""
    command, pipeline = redis_client.Redis.execute_command, redis_client.Pipeline.execute

    async def one(self: Any, *args: Any, **kwargs: Any) -> Any:
        SENT["redis"].append(str(args[0]))
        return await command(self, *args, **kwargs)

    async def many(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.command_stack:
            SENT["redis"].append("pipeline[" + ",".join(str(c[0][0]) for c in self.command_stack) + "]")
        return await pipeline(self, *args, **kwargs)

    redis_client.Redis.execute_command, redis_client.Pipeline.execute = one, many


async def main(mongo: str, redis_url: str) -> None:
    settings = Settings(MONGODB_URL=mongo, REDIS_URL=redis_url, PUBLIC_URL="http://bench")
    service = build(settings)
    await ensure_groups(service.redis, settings.namespace)
    takes_ack = "ack" in inspect.signature(service.runner.run).parameters

    class Message:
        committed = None

    async def batch(cmd: Any) -> float:
        SENT["mongo"].clear()
        SENT["redis"].clear()
        started = time.perf_counter()
        if takes_ack:
            from shared.platform.messaging import Ack
            await service.runner.run([cmd], {cmd.id: "bench:reply"}, Ack("bench:in", "g", (), Message()))
        else:
            await service.runner.run([cmd], {cmd.id: "bench:reply"})
            await service.redis.xack("bench:in", "g", "0-1")  # FastStream's, after the subscriber
        return time.perf_counter() - started

    async def measure(name: str, commands: list[Any]) -> None:
        took = [await batch(cmd) for cmd in commands]
        print(f"{name}: MongoDB {SENT['mongo']}, Redis {SENT['redis']}; "
              f"wall p50 {statistics.median(took) * 1000:.2f} ms over {len(took)}", flush=True)

    def classify(i: int) -> Classify:
        return Classify(annotation_id=str(ObjectId()), item_id=f"i{i}", dataset_id="d", project_id="p",
                        label="cat", actor=ACTOR)

    def start(i: int) -> StartScene:
        return StartScene(actor=ACTOR, item_id=f"v{i % 20}", dataset_id="d", project_id="p", video=VIDEO,
                          annotation_id=str(ObjectId()), frame=(i * 7) % 2000, label="run")

    def hide(scene: StartScene) -> HideFrames:
        return HideFrames(actor=ACTOR, item_id=scene.item_id, dataset_id="d", project_id="p", video=VIDEO,
                          annotation_id=scene.annotation_id, first=2100, last=2200)

    makers: list[tuple[str, Callable[[int], Any]]] = [("classify", classify), ("start scene", start)]
    for _, make in makers:  # warm-up
        for i in range(20):
            await batch(make(i))
    await measure("classify", [classify(i) for i in range(200)])
    scenes = [start(i) for i in range(200)]
    await measure("start scene", scenes)
    await measure("scene change", [hide(s) for s in scenes])
    await service.redis.aclose()
    service.mongo.close()


if __name__ == "__main__":
    monitoring.register(_Commands())
    _count_redis()
    with embedded_secantus() as mongo_url, embedded_valkey(Path(tempfile.mkdtemp(prefix="bench-"))) as url:
        asyncio.run(main(mongo_url, url))
