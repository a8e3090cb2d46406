"""An export as a job: the same streamed body as `GET …/export`, written a chunk at a time to
the gateway's file store (GridFS, where uploads go) instead of to one waiting client; its
progress (items read of the total) on the job, in the `exports` collection, read by
`GET /datasets/{id}/exports/{exportId}` and its `/feed`; the file downloadable when done.

Run under a lease (gateway/jobs.py): a gateway that dies midway leaves a part-written file,
which the gateway taking the job over drops and writes again from the start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from gateway.controllers.common import now_iso
from gateway.exports import EXPORT_CHUNK, Format, Source, dataset_source, export_body, task_source

log = logging.getLogger(__name__)


async def run_export(gw: Any, job_id: str, source: Source, format: Format) -> None:
    jobs = gw.catalog.db.exports
    try:
        body = await export_body(source, format)
        total = await source.count() * body.passes
        await jobs.update_one({"_id": job_id}, {"$set": {"total": total, "processed": 0,
                                                         "filename": body.filename, "updatedAt": now_iso()}})
        job = await jobs.find_one({"_id": job_id}, {"fileId": 1})
        size = await gw.catalog.write_file(job["fileId"], body.filename,
                                           _progressing(jobs, job_id, source, body.chunks), body.media_type)
        await jobs.update_one({"_id": job_id}, {"$set": {
            "status": "completed", "processed": total, "size": size, "mediaType": body.media_type,
            "updatedAt": now_iso()}})
    except asyncio.CancelledError:
        raise  # this gateway stops or lost the lease: the job stays running for a takeover
    except Exception as exc:
        log.exception("export %s failed", job_id)
        await jobs.update_one({"_id": job_id}, {"$set": {"status": "failed", "error": str(exc),
                                                         "updatedAt": now_iso()}})


async def _progressing(jobs: Any, job_id: str, source: Source,
                       chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks, with the job's `processed` written each EXPORT_CHUNK items read."""
    shown = 0
    async for data in chunks:
        yield data
        if source.counted[0] - shown >= EXPORT_CHUNK:
            shown = source.counted[0]
            await jobs.update_one({"_id": job_id}, {"$set": {"processed": shown, "updatedAt": now_iso()}})


async def resume_export(gw: Any, job: dict[str, Any]) -> None:
    """Run a job again from the start (its gateway died midway)."""
    dataset = await gw.catalog.get("datasets", job["datasetId"])
    task = await gw.tasks.fresh_task(job["taskId"]) if job.get("taskId") else None
    if dataset is None or (job.get("taskId") and task is None):
        await gw.catalog.db.exports.update_one({"_id": job["_id"]}, {"$set": {
            "status": "failed", "error": "its dataset or task is gone", "updatedAt": now_iso()}})
        return
    source = await task_source(gw, task, dataset) if task else await dataset_source(gw, dataset)
    await run_export(gw, job["_id"], source, job["format"])
