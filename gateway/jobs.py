"""The gateway's background jobs (imports, exports), each held by a lease.

A job is a document in its kind's collection (`imports`, `exports`) with `status`
running, completed or failed. The gateway running it is its `owner` and renews
`leaseUntil` while it runs; a gateway that dies stops renewing. Every gateway, at start
and then every half lease, takes over the running jobs of other gateways whose lease ran
out (one gateway wins each, by a conditional update; its own are alive, only late) and runs them again from their stored input: both
kinds are idempotent, so a second run doubles nothing. A job taken over too often is
failed rather than retried forever. Progress lives on the job document, so any replica
answers for it (`job_feed` streams it as Server-Sent Events)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from litestar.params import QueryParameter
from litestar.response import ServerSentEventMessage

from gateway.repository import new_id

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5  # runs of one job (its first and the takeovers) before it is failed
FEED_POLL_S = 0.25  # how often a feed looks at the stored job
FEED_KEEP_ALIVE_S = 15.0

# A job feed's `?seconds=`: closed after this long, like the other feeds (None: when the job ends)
FeedSeconds = Annotated[float | None, QueryParameter(gt=0, le=86_400, description="close after this long")]
Resume = Callable[[Any, dict[str, Any]], Awaitable[None]]


def _now() -> datetime:
    return datetime.now(UTC)


class Jobs:
    """Runs jobs under this gateway's leases and takes over those whose lease ran out."""

    def __init__(self, gw: Any, lease_s: float) -> None:
        self.gw, self.lease_s, self.owner = gw, lease_s, new_id()
        self.kinds: dict[str, Resume] = {}  # collection -> how to run one of its jobs again
        self.running: dict[str, asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def kind(self, collection: str, resume: Resume) -> None:
        self.kinds[collection] = resume

    def lease(self) -> dict[str, Any]:
        """The fields that make this gateway a new job's holder."""
        return {"owner": self.owner, "leaseUntil": _now() + timedelta(seconds=self.lease_s), "attempts": 1}

    def run(self, collection: str, job_id: str, work: Awaitable[None]) -> None:
        """Run `work` (the job) in the background, renewing its lease until it ends."""
        task = asyncio.create_task(self._held(collection, job_id, work))
        self.running[job_id] = task
        task.add_done_callback(lambda _: self.running.pop(job_id, None))

    async def _held(self, collection: str, job_id: str, work: Awaitable[None]) -> None:
        job = asyncio.ensure_future(work)
        renewing = asyncio.create_task(self._renew(collection, job_id, job))
        try:
            await job
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _renew(self, collection: str, job_id: str, job: asyncio.Future[None]) -> None:
        jobs = self.gw.catalog.db[collection]
        while True:
            await asyncio.sleep(self.lease_s / 3)
            found = await jobs.update_one(  # not on status: a job that has just ended may still be
                {"_id": job_id, "owner": self.owner},  # tidying up (an import drops its upload)
                {"$set": {"leaseUntil": _now() + timedelta(seconds=self.lease_s)}})
            if found.matched_count == 0:  # another gateway took it over (we were too slow)
                job.cancel()
                return

    async def sweep(self) -> int:
        """Take over every running job whose lease ran out; how many were taken."""
        taken = 0
        for collection, resume in self.kinds.items():
            jobs = self.gw.catalog.db[collection]
            while True:
                doc = await jobs.find_one_and_update(  # not its own: this gateway is alive, only late
                    {"status": "running", "leaseUntil": {"$lt": _now()}, "owner": {"$ne": self.owner}},
                    {"$set": {"owner": self.owner, "leaseUntil": _now() + timedelta(seconds=self.lease_s)},
                     "$inc": {"attempts": 1}}, return_document=True)
                if doc is None:
                    break
                taken += 1
                if doc.get("attempts", 1) > MAX_ATTEMPTS:
                    await jobs.update_one({"_id": doc["_id"]}, {"$set": {
                        "status": "failed", "error": f"taken over {MAX_ATTEMPTS} times without finishing",
                        "updatedAt": _now().isoformat()}})
                    continue
                log.warning("%s job %s: lease ran out; run again here", collection, doc["_id"])
                self.run(collection, doc["_id"], resume(self.gw, doc))
        return taken

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # MongoDB away for a moment: look again next round
                log.exception("job sweep failed")
            await asyncio.sleep(self.lease_s / 2)

    async def stop(self) -> None:
        """Stop sweeping and running; this gateway's running jobs are let go at once, so
        another gateway takes them over without waiting for their leases."""
        tasks = [t for t in (self._sweeper, *self.running.values()) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for collection in self.kinds:
            with contextlib.suppress(Exception):
                await self.gw.catalog.db[collection].update_many(
                    {"owner": self.owner, "status": "running"}, {"$set": {"leaseUntil": _now()}})


def progress_of(doc: dict[str, Any]) -> dict[str, Any]:
    """What a feed shows of a job: its state and counts, not its per-file report."""
    keys = ("status", "processed", "total", "imported", "duplicates", "refused", "skipped",
            "statuses", "attempts", "error")
    return {"id": doc["_id"]} | {k: doc[k] for k in keys if k in doc}


async def job_feed(collection: Any, job_id: str, render: Callable[[dict[str, Any]], dict[str, Any]],
                   seconds: float | None = None, poll_s: float = FEED_POLL_S) -> AsyncIterator[ServerSentEventMessage]:
    """`progress` events while the job runs (each change of its stored counts), then
    `completed` or `failed` with the whole job, and the stream ends (or after `seconds`, as
    the other feeds: a client reconnects for the rest). Read from the stored job, so it works
    on any gateway replica, whichever runs the job."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds if seconds else None
    shown, quiet = None, 0.0
    while deadline is None or loop.time() < deadline:
        doc = await collection.find_one({"_id": job_id})
        if doc is None:
            return
        if doc["status"] != "running":
            yield ServerSentEventMessage(event=doc["status"], data=json.dumps(render(doc), default=str))
            return
        now = progress_of(doc)
        if now != shown:
            shown, quiet = now, 0.0
            yield ServerSentEventMessage(event="progress", data=json.dumps(now, default=str))
        elif quiet >= FEED_KEEP_ALIVE_S:
            quiet = 0.0
            yield ServerSentEventMessage(comment="keep-alive")
        await asyncio.sleep(poll_s)
        quiet += poll_s
