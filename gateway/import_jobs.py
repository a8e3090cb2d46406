"""An import as a job: entries matched to items (items in the upload created when missing),
checked against the recipe, duplicates skipped, the rest sent as the same `Classify`
commands the studio sends, many in flight at once. Progress and the per-file report are
kept in the `imports` collection, which `GET /datasets/{id}/imports/{importId}` reads.

Re-running an import doubles nothing: an annotation's id is derived from the dataset, item,
label and frames, and an entry whose label (and frames) the item already has is skipped as
a duplicate; a run cut short (a service or the gateway killed) is finished by running the
same import again."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

from gateway.controllers.common import now_iso
from gateway.import_formats import Entry, Upload
from gateway.import_scenes import scene_refusal, send_scene
from gateway.media import UnsupportedMedia, probe
from gateway.repository import NOT_DELETED
from shared import streams
from shared.commands import Classify
from shared.dataloop import Ontology
from shared.envelope import Actor
from shared.events import CommandRejected
from shared.labels import check_classification

log = logging.getLogger(__name__)
BATCH = 500  # commands published in one round trip; progress is written after each
BATCHES_IN_FLIGHT = 4
OUTCOME_WAIT_S = 60.0  # a batch waits this long for the annotation service (restarting, say)


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
                     ontology: Ontology) -> None:
    jobs = gw.catalog.db.imports
    try:
        await _run(gw, job_id, dataset, actor, upload, ontology)
    except Exception as exc:  # reported on the job, not lost in a background task
        log.exception("import %s failed", job_id)
        await jobs.update_one({"_id": job_id}, {"$set": {"status": "failed", "error": str(exc),
                                                         "updatedAt": now_iso()}})


async def _run(gw: Any, job_id: str, dataset: dict[str, Any], actor: Actor, upload: Upload,
               ontology: Ontology) -> None:
    jobs = gw.catalog.db.imports
    fits = _Fits(ontology)
    wanted = {e.item for f in upload.files for e in f.entries if fits(e) is None}
    items = await _items(gw, dataset, upload, actor.email or actor.user_id, wanted)
    seen = set()
    fields = {"itemId": 1, "label": 1, "metadata.system.frame": 1, "metadata.system.endFrame": 1}
    async for a in gw.catalog.db.annotations.find({"datasetId": dataset["id"]} | NOT_DELETED, fields):
        system = a["metadata"]["system"]
        seen.add((a["itemId"], a["label"], system.get("frame"), system.get("endFrame")))
    reports = [{"file": f.name, "imported": 0, "duplicates": 0, "refused": list(f.refusals),
                **({"error": f.refused} if f.refused else {})} for f in upload.files]
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
            if key in seen:
                reports[n]["duplicates"] += 1
                continue
            seen.add(key)
            if entry.frame is not None:
                scenes.append((n, item, entry))
                continue
            todo.append((n, Classify(
                actor=actor, annotation_id=annotation_id(dataset["id"], item["id"], entry),
                item_id=item["id"], dataset_id=dataset["id"], project_id=dataset["projectId"],
                recipe_id=dataset["recipeId"], label=entry.label, attributes=entry.attributes,
                source="import")))
    known = ontology.labels()
    unknown = sorted({e.label for f in upload.files for e in f.entries if e.label not in known})
    await jobs.update_one({"_id": job_id}, {"$set": {"total": len(todo) + len(scenes), "files": reports,
                                                     "labelsNotInRecipe": unknown}})
    gate, done = asyncio.Semaphore(BATCHES_IN_FLIGHT), 0

    async def send(batch: list[tuple[int, Classify]]) -> None:
        nonlocal done
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
        done += len(batch)
        await jobs.update_one({"_id": job_id}, {"$set": {"processed": done, "updatedAt": now_iso()}})

    await asyncio.gather(*(send(todo[k:k + BATCH]) for k in range(0, len(todo), BATCH)))
    for n, item, entry in scenes:
        reason = await send_scene(gw, actor, dataset, item, entry,
                                  annotation_id(dataset["id"], item["id"], entry))
        if reason:
            reports[n]["refused"].append({"item": entry.item, "label": entry.label, "reason": reason})
        else:
            reports[n]["imported"] += 1
    await jobs.update_one({"_id": job_id}, {"$set": {
        "status": "completed", "processed": done + len(scenes), "files": reports, "updatedAt": now_iso(),
        "imported": sum(r["imported"] for r in reports),
        "duplicates": sum(r["duplicates"] for r in reports),
        "refused": sum(len(r["refused"]) for r in reports)}})


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

