"""Exports: Dataloop item JSON (export layout 1) from the catalog's item and its annotations,
and what an export reads (`Source`: a dataset's items, or a task's), a chunk of items at a
time, into any of the formats (`export_body`). Nothing holds the whole export: the same
bodies answer `GET …/export` as a stream and are written to a stored file by an export job."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from litestar.serialization import encode_json

from gateway.export_formats import coco, image_csv, scene_csv
from gateway.task_reads import with_refs
from shared.contracts.dataloop import ItemExport
from shared.platform.mongo import find_in

EXPORT_CHUNK = 500
Format = Literal["json", "zip", "csv", "scenes", "coco"]
Pairs = AsyncIterator[tuple[dict[str, Any], dict[str, Any]]]

INTERNAL = ("_id", "_projectId", "_deleted", "_lastCommand", "_commandId", "_scene")


def public_annotation(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in INTERNAL}


def item_json(item: dict[str, Any], api: str) -> dict[str, Any]:
    """The item entity as Dataloop writes it (without annotations)."""
    return {
        "id": item["id"],
        "datasetId": item["datasetId"],
        "url": f"{api}/items/{item['id']}",
        "dataset": f"{api}/datasets/{item['datasetId']}",
        "createdAt": item["createdAt"],
        "dir": item["dir"],
        "filename": item["filename"],
        "type": "file",
        "hidden": False,
        "metadata": item["metadata"],
        "name": item["name"],
        "creator": item.get("creator"),
        "stream": item.get("sourceUrl") or f"{api}/items/{item['id']}/stream",
        "thumbnail": f"{api}/items/{item['id']}/thumbnail" if item.get("thumbnailFileId") else None,
    }


def item_export(item: dict[str, Any], annotations: list[dict[str, Any]], api: str) -> dict[str, Any]:
    body = item_json(item, api) | {
        "annotations": [public_annotation(a) for a in annotations],
        "annotationsCount": len(annotations),
        "annotated": bool(annotations),
    }
    return ItemExport.model_validate(body).dump()


def export_path(item: dict[str, Any]) -> str:
    """Export V2 file name: `json/<dir>/<name>.json`, extension kept."""
    return "json" + item["filename"] + ".json"


@dataclass
class Source:
    """The items an export reads: a dataset's (`item_ids` None: every item, in id order) or
    a task's (its items, in id order), with the tasks that hold them (`holders`: item ->
    [(task, assignment)]) for their statuses, and those tasks' names."""

    gw: Any
    dataset: dict[str, Any]
    stem: str  # the download's file name, without the format's suffix
    holders: dict[str, list[tuple[str, str]]]
    task_names: dict[str, str]
    item_ids: list[str] | None = None
    counted: list[int] = field(default_factory=lambda: [0])  # items read so far (a job's progress)

    async def count(self) -> int:
        if self.item_ids is not None:
            return len(self.item_ids)
        return await self.gw.catalog.db.items.count_documents({"datasetId": self.dataset["id"]})

    async def _items(self) -> AsyncIterator[list[dict[str, Any]]]:
        if self.item_ids is not None:
            for k in range(0, len(self.item_ids), EXPORT_CHUNK):
                docs = await find_in(self.gw.catalog.db.items, "_id", self.item_ids[k:k + EXPORT_CHUNK])
                yield sorted(({**d, "id": d.pop("_id")} for d in docs), key=lambda d: d["id"])
            return
        chunk: list[dict[str, Any]] = []
        async for item in self.gw.catalog.iterate("items", {"datasetId": self.dataset["id"]},
                                                  batch_size=EXPORT_CHUNK):  # memory flat
            chunk.append(item)
            if len(chunk) >= EXPORT_CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    async def pairs(self) -> Pairs:
        """(item, its export JSON), EXPORT_CHUNK items read at a time."""
        async for chunk in self._items():
            for pair in await self._export_chunk(chunk):
                self.counted[0] += 1
                yield pair

    async def _export_chunk(self, items: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any]]:
        gw = self.gw
        ids = [i["id"] for i in items]
        annotations = await gw.catalog.annotations_of_items(ids)
        held = {i: self.holders.get(i, []) for i in ids}
        statuses = await gw.tasks.statuses_of_items(held)
        return [(i, item_export(self._named(with_refs(i, held[i["id"]], statuses.get(i["id"], []))),
                                annotations[i["id"]], gw.api)) for i in items]

    def _named(self, item: dict[str, Any]) -> dict[str, Any]:
        """Each task ref with its task's name: an import into another project finds a task of
        the same name there (Dataloop's refs name only the id)."""
        for ref in item["metadata"]["system"]["refs"]:
            if ref["type"] == "task" and ref["id"] in self.task_names:
                ref["name"] = self.task_names[ref["id"]]
        return item


async def dataset_source(gw: Any, dataset: dict[str, Any]) -> Source:
    names = {t["_id"]: t["name"] for t in await gw.tasks.task_names(dataset_id=dataset["id"])}
    return Source(gw, dataset, dataset["name"], await gw.tasks.memberships(dataset_id=dataset["id"]), names)


async def task_source(gw: Any, task: dict[str, Any], dataset: dict[str, Any]) -> Source:
    """The task's items (those of its annotators' assignments and of its queue), each with
    its status in this task."""
    ids, holders = await gw.tasks.task_items(task["_id"])
    return Source(gw, dataset, task["name"], holders, {task["_id"]: task["name"]}, sorted(ids))


def _json(body: dict[str, Any]) -> bytes:
    return encode_json(body)


async def json_list(pairs: Pairs) -> AsyncIterator[bytes]:
    """One JSON list, an item at a time."""
    first = True
    yield b"["
    async for _, body in pairs:
        yield (b"" if first else b",") + _json(body)
        first = False
    yield b"]"


class _Sink(io.RawIOBase):
    """What zipfile writes, drained after each entry (not seekable: zipfile then writes data
    descriptors, so nothing has to be rewritten at the start)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


class _OneEntry:
    """What `ZipFile._write_end_record` reads, for one entry: it writes that entry's central
    directory record, then a 22-byte end record (no comment, never ZIP64 for one entry)."""

    def __init__(self, info: zipfile.ZipInfo) -> None:
        self.filelist, self.fp, self.start_dir = [info], io.BytesIO(), 0
        self._allowZip64, self._comment, self.mode = True, b"", "w"

    def record(self) -> bytes:
        zipfile.ZipFile._write_end_record(self)  # type: ignore[arg-type]
        return self.fp.getvalue()[:-22]


class _Counted(list):  # type: ignore[type-arg]
    """As many entries as the archive holds, to the end record; none to iterate over."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def __len__(self) -> int:
        return self.n


class _CompactZip(zipfile.ZipFile):
    """A zip written forward that keeps each entry's central directory record as its packed
    bytes instead of a `ZipInfo` (and its name in `NameToInfo`): the directory names every
    entry and comes last, so it grows with the export, and packed it takes a fraction of the
    memory (docs/fast-paths.md, Zip exports)."""

    def __init__(self, sink: io.RawIOBase) -> None:
        super().__init__(sink, "w", zipfile.ZIP_DEFLATED)
        self._directory, self._entries = bytearray(), 0
        self._when = time.localtime()[:6]

    def add(self, name: str, data: str) -> None:
        info = zipfile.ZipInfo(name, self._when)
        info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o600 << 16  # as writestr(name)
        self.writestr(info, data)
        self.filelist.pop()
        self.NameToInfo.pop(info.filename, None)
        self._directory += _OneEntry(info).record()
        self._entries += 1

    def _write_end_record(self) -> None:
        self.fp.write(bytes(self._directory))  # type: ignore[union-attr]
        self._directory = bytearray()
        self.filelist = _Counted(self._entries)
        super()._write_end_record()  # type: ignore[misc]


async def zipped(pairs: Pairs) -> AsyncIterator[bytes]:
    """A zip with one `json/<dir>/<name>.json` per item, an entry at a time."""
    sink = _Sink()
    with _CompactZip(sink) as archive:
        async for item, body in pairs:
            archive.add(export_path(item), json.dumps(body, indent=2))
            yield sink.drain()
    yield sink.drain()


@dataclass
class Body:
    chunks: AsyncIterator[bytes]
    media_type: str
    filename: str
    passes: int = 1  # how many times the export reads its items (COCO: twice)


async def export_body(source: Source, format: Format) -> Body:
    """The export in `format`, as chunks of bytes."""
    stem = source.stem.replace('"', "").replace("/", "-")
    if format == "json":
        return Body(json_list(source.pairs()), "application/json", f"{stem}-export.json")
    if format == "zip":
        return Body(zipped(source.pairs()), "application/zip", f"{stem}-export.zip")
    if format == "coco":
        gw, dataset = source.gw, source.dataset
        labels = list((await gw.access.ontology(dataset["recipeId"])).labels())
        used = await gw.catalog.labels_of_dataset(dataset["id"])
        labels += sorted(set(used) - set(labels))  # labels since removed from the recipe
        return Body(coco(labels, source.pairs), "application/json", f"{stem}-coco.json", passes=2)
    rows = image_csv(source.pairs()) if format == "csv" else scene_csv(source.pairs())
    return Body(rows, "text/csv; charset=utf-8", f"{stem}-{format}.csv")
