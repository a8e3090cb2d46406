"""Where a command's time goes between the processes: each hop's time from the streams'
entry ids (an XADD's id is the server's clock in ms), at concurrency 1, after an idle gap and
back to back.

    python bench/hops.py                    # starts the platform with the embedded servers

For a classify in a task (the capacity bench's request, without Auto next): client ->
the `tasks` stream (the gateway's work before publishing), -> the `classify` stream (the task
service's check), -> the outcome event on `events.annotation` (the annotation service's
write), -> the answer at the client (the reply, the gateway's answer, HTTP). For a status
set/clear: client -> `status` -> the event on `events.task` -> the answer. Medians in ms
(the entry ids' resolution is 1 ms).
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import api_session, arguments, created_task, platform
from shared.contracts import streams
from shared.platform.settings import Settings

LABEL = "men's clothes.polo shirts"
ROUNDS = 40
GAP_S = 0.3  # the idle gap before each request of the first run


def stream_times(rds: redis.Redis, name: str) -> dict[str, float]:
    """Message id and `c:<correlation id>` -> the time its first entry was added (s)."""
    times: dict[str, float] = {}
    for entry_id, fields in rds.xrange(streams.stream(name, Settings().namespace), "-", "+"):
        data = next(iter(fields.values()))
        at = int(entry_id.decode().split("-")[0]) / 1000
        if m := re.search(rb'"id": ?"([^"]+)"', data):
            times.setdefault(m.group(1).decode(), at)
        if (c := re.search(rb'"correlationId": ?"([^"]*)"', data)) and c.group(1):
            times.setdefault("c:" + c.group(1).decode(), at)
    return times


def report(name: str, rows: list[tuple[float, float, str]], hops: list[tuple[str, dict[str, float], str]]) -> None:
    """Each hop's median: `hops` are (label, entry times, key prefix) in path order."""
    parts: dict[str, list[float]] = {label: [] for label, _, _ in hops} | {"-> answer": [], "total": []}
    for sent, answered, op in rows:
        marks = [times.get(prefix + op) for _, times, prefix in hops]
        if any(m is None for m in marks):
            continue
        at = sent
        for (label, _, _), mark in zip(hops, marks, strict=True):
            parts[label].append(mark - at)  # type: ignore[operator]
            at = mark  # type: ignore[assignment]
        parts["-> answer"].append(answered - at)
        parts["total"].append(answered - sent)
    print(f"{name} (n={len(parts['total'])}): " + ", ".join(
        f"{label} {statistics.median(v) * 1000:.1f}" for label, v in parts.items() if v), flush=True)


async def main() -> None:
    arguments(__doc__).parse_args()  # --help; it always starts its own platform
    found: dict[str, str] = {}
    with platform(None, None, found) as (url, token):
        rds = redis.Redis.from_url(found["redis"])
        async with api_session(url, token) as http:
            project = (await (await http.get("/api/v1/projects")).json())["items"][0]["id"]
            me = (await (await http.get("/api/v1/users/me")).json())["email"]
            dataset = (await (await http.get(f"/api/v1/projects/{project}/datasets")).json())["items"][0]["id"]
            items = []
            for i in range(2 * ROUNDS):
                body = {"name": f"hop{i}.jpg", "url": f"http://example.com/hop{i}.jpg", "dir": "/hops",
                        "mimetype": "image/jpeg"}
                async with http.post(f"/api/v1/datasets/{dataset}/items", json=body) as r:
                    items.append((await r.json())["id"])
            task, _ = await created_task(http, project, {"name": "hops", "datasetId": dataset, "assignees": [me],
                                                         "filter": {"dir": "/hops"}})

            async def timed(gap: float, call: Any) -> list[tuple[float, float, str]]:
                rows = []
                for i in range(ROUNDS):
                    await asyncio.sleep(gap)
                    sent = time.time()
                    async with call(i) as r:
                        await r.read()
                        assert r.status < 300, (r.status, await r.text())
                        rows.append((sent, time.time(), r.headers.get("Operation-Id", "")))
                return rows

            def classify(base: int) -> Any:
                return lambda i: http.post(f"/api/v1/items/{items[base + i]}/annotations",
                                           json={"label": LABEL, "taskId": task["id"]})

            def status(i: int) -> aiohttp.client._RequestContextManager:
                path = f"/api/v1/tasks/{task['id']}/items/{items[i // 2]}/status"
                return http.put(path, json={"status": "completed"}) if i % 2 == 0 else http.delete(path)

            runs = {}
            for gap, base in ((GAP_S, 0), (0.0, ROUNDS)):
                runs[f"classify in a task, {gap:g} s apart"] = await timed(gap, classify(base))
            for gap in (GAP_S, 0.0):
                runs[f"status set/clear, {gap:g} s apart"] = await timed(gap, status)
            await asyncio.sleep(0.5)  # the last events written
            tasks, classified, annotated = (stream_times(rds, s) for s in (
                streams.TASKS, streams.CLASSIFY, streams.ANNOTATION_EVENTS))
            statuses, task_events = stream_times(rds, streams.STATUS), stream_times(rds, streams.TASK_EVENTS)
            for name, rows in runs.items():
                if name.startswith("classify"):
                    report(name, rows, [("-> tasks", tasks, ""), ("-> classify", classified, ""),
                                        ("-> event", annotated, "c:")])
                else:
                    report(name, rows, [("-> status", statuses, ""), ("-> event", task_events, "c:")])


if __name__ == "__main__":
    asyncio.run(main())
