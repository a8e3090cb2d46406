"""An import as a job: entries matched to items (items in the upload created when missing),
checked against the recipe, duplicates skipped, the rest sent as the same `Classify`
commands the studio sends, many in flight at once; item statuses as `SetStatus`
(gateway/import_statuses.py). Progress (running totals after each batch) and the per-file
report are kept in the `imports` collection, which `GET /datasets/{id}/imports/{importId}`
and its `/feed` read; the job runs under a lease (gateway/jobs.py).

Re-running an import doubles nothing: an annotation's id is derived from the dataset, item,
label and frames, and an entry whose label (and frames) the item already has is skipped as
a duplicate; a run cut short (a service or the gateway killed) is finished by running the
same import again, which a gateway does by itself when the job's lease runs out. Command ids
are derived from the job, so a second run of one job tells what its first run stored
(counted as imported, not as duplicates) and the services deduplicate a resent command."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from gateway.controllers.common import now_iso
from gateway.import_formats import Entry, Upload, read_upload
from gateway.import_scenes import scene_refusal, send_scene, start_id
from gateway.import_statuses import plan_statuses, send_statuses
from gateway.media import UnsupportedMedia, probe
from gateway.unavailable import DependencyUnavailable
from shared.contracts import streams
from shared.contracts.commands import Classify
from shared.contracts.dataloop import Ontology
from shared.contracts.envelope import Actor, derived_id
from shared.contracts.events import CommandRejected
from shared.rules.labels import check_classification

log = logging.getLogger(__name__)
BATCH = 500  # commands published in one round trip; progress is written after each
BATCHES_IN_FLIGHT = 4
OUTCOME_WAIT_S = 60.0  # a batch waits this long for the annotation service (restarting, say)
SEEN_WAIT_S = 600.0  # the plan waits this long for the annotation service to run, then the job fails
SEEN_RETRY_S = 0.5


def annotation_id(dataset_id: str, item_id: str, entry: Entry) -> str:
    key = f"{dataset_id}|{item_id}|{entry.label}|{entry.frame}|{entry.end_frame}"
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def _split(filename: str) -> tuple[str, str]:
    directory, _, name = ("/" + filename.lstrip("/")).rpartition("/")
    return directory or "/", name


async def _items(gw: Any, dataset: dict[str, Any], upload: Upload, creator: str,
                 wanted: set[str]) -> dict[str, dict]:
    """Item key (filename or bare name) -> item; items only in the upload are created when
    an entry that fits the recipe (`wanted`) names them."""
    keys = {e.item for f in upload.files for e in f.entries}
    found: dict[str, dict] = {}
    # one scan of the dataset, matched here: a 10,000-name `$in` is slow on some servers
    fields = {"filename": 1, "name": 1, "metadata": 1}
    async for item in gw.catalog.db.items.find({"datasetId": dataset["id"]}, fields):
        item["id"] = item["_id"]
        found.setdefault(item["filename"], item)
        found.setdefault(item["name"], item)
    for key in keys:
        path = key if key.startswith("/") else "/" + key
        if key not in found and path in found:
            found[key] = found[path]
        if key not in found and path in upload.contents and key in wanted:
            found[key] = await _store(gw, dataset, path, upload.contents[path], creator)
    return found


async def _store(gw: Any, dataset: dict[str, Any], path: str, content: bytes, creator: str) -> dict:
    from gateway.controllers.items import _item_doc  # the upload's item document

    directory, name = _split(path)
    try:
        facts = probe(name, content, None)
    except UnsupportedMedia:
        facts = None
    mimetype = facts.mimetype if facts else "application/octet-stream"
    file_id = await gw.catalog.put_file(name, content, mimetype)
    system = {"mimetype": mimetype, "originalname": name, "size": len(content), "isBinary": True}
    if facts:
        system |= {k: v for k, v in (("width", facts.width), ("height", facts.height)) if v}
    return await gw.catalog.insert("items", _item_doc(dataset, name, directory, system, creator,
                                                      fileId=file_id))


async def run_import(gw: Any, job_id: str, dataset: dict[str, Any], actor: Actor, upload: Upload,
                     ontology: Ontology, task_id: str | None = None) -> None:
    jobs = gw.catalog.db.imports
    try:
        await _run(gw, job_id, dataset, actor, upload, ontology, task_id)
    except asyncio.CancelledError:
        raise  # this gateway stops or lost the lease: the job stays running for a takeover
    except Exception as exc:  # reported on the job, not lost in a background task
        log.exception("import %s failed", job_id)
        await jobs.update_one({"_id": job_id}, {"$set": {"status": "failed", "error": str(exc),
                                                         "updatedAt": now_iso()}})
    await _drop_upload(gw, job_id)


async def _drop_upload(gw: Any, job_id: str) -> None:
    """The stored upload, once its job has ended: kept only for a takeover."""
    doc = await gw.catalog.db.imports.find_one_and_update({"_id": job_id}, {"$unset": {"fileId": ""}})
    if doc and doc.get("fileId"):
        await gw.catalog.discard_file(doc["fileId"])


async def resume_import(gw: Any, job: dict[str, Any]) -> None:
    """Run a job again from its stored upload (its gateway died midway)."""
    dataset = await gw.catalog.get("datasets", job["datasetId"])
    stored = await gw.catalog.open_file(job["fileId"]) if job.get("fileId") else None
    if dataset is None or stored is None:
        await gw.catalog.db.imports.update_one({"_id": job["_id"]}, {"$set": {
            "status": "failed", "error": "its dataset or its stored upload is gone", "updatedAt": now_iso()}})
        return
    content = b"".join([part async for part in stored.read(0, stored.length)])
    ontology = await gw.access.ontology(dataset["recipeId"])
    upload = await asyncio.to_thread(read_upload, job["file"], content, ontology)
    await run_import(gw, job["_id"], dataset, Actor.model_validate(job["actor"]), upload, ontology,
                     job.get("taskId"))


class _Report:
    """Per-file counts and refusals, and the running totals the job shows as it goes."""

    def __init__(self, files: list[Any]) -> None:
        self.files = [{"file": f.name, "imported": 0, "duplicates": 0, "refused": list(f.refusals),
                       "statuses": 0, "skipped": [], **({"error": f.refused} if f.refused else {})}
                      for f in files]

    def totals(self) -> dict[str, int]:
        return {"imported": sum(r["imported"] for r in self.files),
                "duplicates": sum(r["duplicates"] for r in self.files),
                "refused": sum(len(r["refused"]) for r in self.files),
                "statuses": sum(r["statuses"] for r in self.files),
                "skipped": sum(len(r["skipped"]) for r in self.files)}


async def _seen(gw: Any, dataset_id: str) -> dict[tuple, str]:
    """(item, label, frame, end frame) -> the command id that made it, of the dataset's
    live annotations, asked of the annotation service page by page."""
    seen = {}
    fields = {"itemId": 1, "label": 1, "metadata.system.frame": 1, "metadata.system.endFrame": 1,
              "_commandId": 1}
    async for page in gw.catalog.annotations.pages("of_dataset", datasetId=dataset_id, fields=fields):
        for a in page:
            system = a["metadata"]["system"]
            seen[(a["itemId"], a["label"], system.get("frame"), system.get("endFrame"))] = a.get("_commandId", "")
    return seen


async def _seen_when_answered(gw: Any, job_id: str, dataset_id: str,
                              at_most: Callable[[], int]) -> dict[tuple, str]:
    """`_seen`, waiting for the annotation service while it does not run (an import may be
    started before it, and goes on when it comes). Meanwhile the job shows `at_most` as its
    total, what it plans to send before the duplicates are known, and no progress."""
    deadline = asyncio.get_running_loop().time() + SEEN_WAIT_S
    shown = False
    while True:
        try:
            return await _seen(gw, dataset_id)
        except DependencyUnavailable:
            if asyncio.get_running_loop().time() > deadline:
                raise
            if not shown:
                await gw.catalog.db.imports.update_one({"_id": job_id}, {"$set": {
                    "total": at_most(), "processed": 0, "updatedAt": now_iso()}})
                shown = True
            await asyncio.sleep(SEEN_RETRY_S)


async def _run(gw: Any, job_id: str, dataset: dict[str, Any], actor: Actor, upload: Upload,
               ontology: Ontology, task_id: str | None) -> None:
    jobs = gw.catalog.db.imports
    fits = _Fits(ontology)
    wanted = {e.item for f in upload.files for e in f.entries if fits(e) is None}
    items = await _items(gw, dataset, upload, actor.email or actor.user_id, wanted)
    seen = await _seen_when_answered(gw, job_id, dataset["id"], lambda: sum(
        _refusal(e, items.get(e.item), fits) is None for f in upload.files for e in f.entries)
        + sum(len(f.statuses) for f in upload.files))
    report = _Report(upload.files)
    reports = report.files
    todo: list[tuple[int, Classify]] = []
    scenes: list[tuple[int, dict, Entry]] = []
    for n, f in enumerate(upload.files):
        for entry in f.entries:
            item = items.get(entry.item)
            reason = _refusal(entry, item, fits)
            if reason:
                reports[n]["refused"].append({"item": entry.item, "label": entry.label, "reason": reason})
                continue
            key = (item["id"], entry.label, entry.frame, entry.end_frame)
            made = annotation_id(dataset["id"], item["id"], entry)
            mine = {derived_id(job_id, made), start_id(job_id, made)}  # a run of this job stored it
            if key in seen and seen[key] not in mine:
                reports[n]["duplicates"] += 1
                continue
            if key in seen and entry.frame is None:
                reports[n]["imported"] += 1
                continue
            seen[key] = ""
            if entry.frame is not None:
                scenes.append((n, item, entry))
                continue
            todo.append((n, Classify(
                id=derived_id(job_id, made), actor=actor, annotation_id=made,
                item_id=item["id"], dataset_id=dataset["id"], project_id=dataset["projectId"],
                recipe_id=dataset["recipeId"], label=entry.label, attributes=entry.attributes,
                source="import")))
    statuses = [(n, s) for n, f in enumerate(upload.files) for s in f.statuses]
    plan = await plan_statuses(gw, job_id, dataset, actor, statuses, items, task_id)
    for n, why in plan.skipped:
        reports[n]["skipped"].append(why)
    for n in plan.duplicates:
        reports[n]["duplicates"] += 1
    for n in plan.already:
        reports[n]["statuses"] += 1
    known = ontology.labels()
    unknown = sorted({e.label for f in upload.files for e in f.entries if e.label not in known})
    total = len(todo) + len(scenes) + len(plan.commands)
    await jobs.update_one({"_id": job_id}, {"$set": {"total": total, "processed": 0, "files": reports,
                                                     "labelsNotInRecipe": unknown} | report.totals()})
    gate, done = asyncio.Semaphore(BATCHES_IN_FLIGHT), 0

    async def progressed(k: int) -> None:
        nonlocal done
        done += k
        await jobs.update_one({"_id": job_id}, {"$set": {"processed": done, "updatedAt": now_iso()}
                                                | report.totals()})

    async def send(batch: list[tuple[int, Classify]]) -> None:
        async with gate:
            outcomes = await gw.bus.send_many(streams.CLASSIFY, [c for _, c in batch], wait_s=OUTCOME_WAIT_S)
        for (n, command), outcome in zip(batch, outcomes, strict=True):
            if outcome is None:
                outcome = await gw.bus.await_existing(command.id)
            if isinstance(outcome, CommandRejected):
                reports[n]["refused"].append({"item": command.item_id, "label": command.label,
                                              "reason": outcome.message})
            elif outcome is None:
                reports[n].setdefault("pending", []).append(command.id)
            else:
                reports[n]["imported"] += 1
        await progressed(len(batch))

    await asyncio.gather(*(send(todo[k:k + BATCH]) for k in range(0, len(todo), BATCH)))
    for k, (n, item, entry) in enumerate(scenes, start=1):
        reason = await send_scene(gw, actor, dataset, item, entry,
                                  annotation_id(dataset["id"], item["id"], entry), job_id)
        if reason:
            reports[n]["refused"].append({"item": entry.item, "label": entry.label, "reason": reason})
        else:
            reports[n]["imported"] += 1
        if k % 10 == 0 or k == len(scenes):
            await progressed(10 if k % 10 == 0 else k % 10)
    for (n, command), (_, why) in zip(plan.commands, await send_statuses(gw, plan), strict=True):
        if why:
            reports[n]["skipped"].append({"item": command.item_id, "task": command.task_id,
                                          "status": command.status, "reason": why})
        else:
            reports[n]["statuses"] += 1
    await jobs.update_one({"_id": job_id}, {"$set": {
        "status": "completed", "processed": total, "files": reports, "updatedAt": now_iso()}
        | report.totals()})


class _Fits:
    """`check_classification` once per distinct label and attributes (an import repeats them)."""

    def __init__(self, ontology: Ontology) -> None:
        self.ontology = ontology
        self.seen: dict[str, str | None] = {}

    def __call__(self, entry: Entry) -> str | None:
        key = entry.label + "\0" + json.dumps(entry.attributes, sort_keys=True, default=str)
        if key not in self.seen:
            problems = check_classification(self.ontology, entry.label, entry.attributes)
            self.seen[key] = "; ".join(f"{p.field}: {p.rule}" for p in problems) or None
        return self.seen[key]


def _refusal(entry: Entry, item: dict | None, fits: _Fits) -> str | None:
    if item is None:
        return f"no item {entry.item!r} in the dataset (nor its file in the upload)"
    if entry.frame is not None:
        return fits(entry) or scene_refusal(entry, item)
    if not item["metadata"]["system"].get("mimetype", "").startswith("image/"):
        return "a class on a non-image item needs frames (a video's scenes)"
    return fits(entry)

