"""What an import file holds, read into entries: one class (or class scene) for one item.
Pure, no I/O. Read: Dataloop JSON (one item's export with its `annotations`, or a list of
annotations for the item the file is named after; 2021 and current layouts, `_id` or `id`,
unknown fields ignored), a zip of them (`json/…`, with the item files under `items/…`),
CSV (`filename,label[,status][,attribute columns]`) and a zip of class folders
(`<label>/<image>`, ImageNet style). Item statuses come from an item export's
`metadata.system.refs` (a task ref with a status) or a CSV's `status` column."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from shared.contracts.dataloop import Ontology

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
MAX_FILES = 100_000


@dataclass
class Entry:
    item: str  # the item's filename (`/dir/name`) or its bare name
    label: str
    attributes: dict[str, Any] = field(default_factory=dict)
    frame: int | None = None
    end_frame: int | None = None
    hidden: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class StatusEntry:
    """An item's status in a task: from a ref (`task` the ref's task id, `task_name` its name
    when the export wrote one) or a CSV row (no task: the import's `taskId` says which)."""
    item: str
    status: str
    task: str | None = None
    task_name: str | None = None


@dataclass
class ImportFile:
    name: str
    entries: list[Entry] = field(default_factory=list)
    statuses: list[StatusEntry] = field(default_factory=list)
    refused: str | None = None  # why the whole file was refused
    refusals: list[dict[str, Any]] = field(default_factory=list)  # entries refused while reading


@dataclass
class Upload:
    files: list[ImportFile]
    contents: dict[str, bytes]  # item files in the zip (`items/<dir>/<name>` or class folders), by filename


def _attributes(raw: dict[str, Any], ontology: Ontology) -> dict[str, Any]:
    """Attributes 2.0 (`metadata.system.attributes` or a top-level object), or the 2021
    layout: a list of option values, each given to the definition that offers it."""
    system = (raw.get("metadata") or {}).get("system") or {}
    if isinstance(system.get("attributes"), dict) and system["attributes"]:
        return dict(system["attributes"])
    top = raw.get("attributes")
    if isinstance(top, dict):
        return dict(top)
    found: dict[str, Any] = {}
    for value in top or []:
        for definition in ontology.metadata.attributes:
            if value in (definition.values or []):
                if definition.multi:
                    found.setdefault(definition.key, []).append(value)
                else:
                    found[definition.key] = value
                break
    return found


def hidden_from_snapshots(system: dict[str, Any]) -> list[tuple[int, int]]:
    ranges, start = [], None
    for snap in sorted(system.get("snapshots_") or [], key=lambda s: s.get("frame", 0)):
        visible = snap.get("objectVisible", True)
        if not visible and start is None:
            start = snap["frame"]
        elif visible and start is not None:
            ranges.append((start, snap["frame"] - 1))
            start = None
    if start is not None and system.get("endFrame") is not None:
        ranges.append((start, system["endFrame"]))
    return ranges


def _annotation(raw: Any, item: str, ontology: Ontology) -> Entry | str:
    """One Dataloop annotation as an entry, or why it is refused."""
    if not isinstance(raw, dict):
        return "an annotation must be an object"
    if raw.get("type", "class") != "class":
        return f"type {raw.get('type')!r}: only class annotations are imported"
    if not isinstance(raw.get("label"), str) or not raw["label"]:
        return "label: must be a non-empty string"
    system = (raw.get("metadata") or {}).get("system") or {}
    entry = Entry(item, raw["label"], _attributes(raw, ontology))
    if system.get("endFrame") is not None or system.get("frame") not in (None, 0) or system.get("snapshots_"):
        entry.frame, entry.end_frame = int(system.get("frame") or 0), system.get("endFrame")
        entry.hidden = hidden_from_snapshots(system)
    return entry


def read_dataloop_json(name: str, data: bytes, ontology: Ontology) -> ImportFile:
    out = ImportFile(name)
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        out.refused = f"not JSON: {exc}"
        return out
    stem = name.rsplit("/", 1)[-1].removesuffix(".json")
    if isinstance(doc, dict) and isinstance(doc.get("annotations"), list):
        item = doc.get("filename") or (doc.get("dir", "/").rstrip("/") + "/" + doc["name"]
                                       if doc.get("name") else stem)
        annotations = doc["annotations"]
    elif isinstance(doc, list):
        item, annotations = stem, doc
    else:
        out.refused = "neither an item export (an object with `annotations`) nor a list of annotations"
        return out
    for k, raw in enumerate(annotations):
        found = _annotation(raw, item, ontology)
        if isinstance(found, str):
            out.refusals.append({"annotation": k, "reason": found})
        else:
            out.entries.append(found)
    if isinstance(doc, dict):
        out.statuses = statuses_from_refs(doc, item)
    return out


def statuses_from_refs(doc: dict[str, Any], item: str) -> list[StatusEntry]:
    """The statuses in an item export's task refs (`metadata.system.refs`, or the 2021
    layout's `itemMetadata`); an assignment ref repeats its task's status, a ref without a
    status is open work: neither is an entry."""
    found = []
    for key in ("metadata", "itemMetadata"):
        system = (doc.get(key) or {}).get("system") if isinstance(doc.get(key), dict) else None
        refs = (system or {}).get("refs") if isinstance(system, dict) else None
        for ref in refs if isinstance(refs, list) else []:
            meta = ref.get("metadata") if isinstance(ref, dict) else None
            status = meta.get("status") if isinstance(meta, dict) else None
            if ref.get("type") == "task" and isinstance(status, str) and status and ref.get("id"):
                name = ref.get("name") or meta.get("taskName")
                found.append(StatusEntry(item, status, str(ref["id"]), name if isinstance(name, str) else None))
    return found


def read_csv(name: str, data: bytes, ontology: Ontology) -> ImportFile:
    out = ImportFile(name)
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        out.refused = f"not a UTF-8 CSV: {exc}"
        return out
    if not rows or not {"filename", "label"} <= set(rows[0]):
        out.refused = "the header must start with filename,label"
        return out
    definitions = {d.key: d for d in ontology.metadata.attributes}
    for k, row in enumerate(rows, start=2):
        if row.get("filename") and (row.get("status") or "").strip():
            out.statuses.append(StatusEntry(row["filename"], row["status"].strip()))
        if row.get("filename") and not row.get("label") and (row.get("status") or "").strip():
            continue  # a status alone (an image exported without a class)
        if not row.get("filename") or not row.get("label"):
            out.refusals.append({"line": k, "reason": "filename and label must not be empty"})
            continue
        attributes = {}
        for key, value in row.items():
            if key in ("filename", "label", "status") or key is None or value in (None, ""):
                continue
            attributes[key] = _typed(definitions.get(key), value)
        out.entries.append(Entry(row["filename"], row["label"], attributes))
    return out


def _typed(definition: Any, value: str) -> Any:
    kind = getattr(definition, "type", "freeText")
    if kind == "boolean":
        return value.strip().lower() in ("true", "1", "yes")
    if kind == "range":
        try:
            return float(value)
        except ValueError:
            return value  # the recipe check names it
    if getattr(definition, "multi", False):
        return [v for v in value.split(";") if v]
    return value


def read_zip(name: str, data: bytes, ontology: Ontology) -> Upload:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return Upload([ImportFile(name, refused="not a zip file")], {})
    infos = [i for i in archive.infolist() if not i.is_dir()][:MAX_FILES]
    files, contents, folders = [], {}, ImportFile(name + " (class folders)")
    for info in infos:
        path = info.filename.lstrip("/")
        if path.startswith("__MACOSX/"):
            continue
        if path.startswith("json/") and path.endswith(".json"):
            files.append(read_dataloop_json(path, archive.read(info), ontology))
        elif path.startswith("items/"):
            contents["/" + path.removeprefix("items/")] = archive.read(info)
        elif path.lower().endswith(".csv"):
            files.append(read_csv(path, archive.read(info), ontology))
        elif path.lower().endswith(".json"):
            files.append(read_dataloop_json(path, archive.read(info), ontology))
        elif path.lower().endswith(IMAGE_SUFFIXES) and "/" in path:
            label, image = path.rsplit("/", 1)
            label = label.split("/")[-1]  # train/<class>/x.jpg: the innermost folder
            contents["/" + image] = archive.read(info)
            folders.entries.append(Entry("/" + image, label))
    if folders.entries:
        files.append(folders)
    return Upload(files, contents)


def read_upload(name: str, data: bytes, ontology: Ontology) -> Upload:
    lower = name.lower()
    if lower.endswith(".zip"):
        return read_zip(name, data, ontology)
    if lower.endswith(".csv"):
        return Upload([read_csv(name, data, ontology)], {})
    if lower.endswith(".json"):
        return Upload([read_dataloop_json(name, data, ontology)], {})
    return Upload([ImportFile(name, refused="must be .json, .csv or .zip")], {})


def labels_of(upload: Upload) -> set[str]:
    return {e.label for f in upload.files for e in f.entries}


def with_labels(ontology: dict[str, Any], labels: list[str]) -> dict[str, Any]:
    """The stored ontology with `labels` (dot-joined paths) added to its tree, as children
    of the labels their paths name (created as needed)."""
    added = json.loads(json.dumps(ontology))
    for path in labels:
        nodes = added.setdefault("roots", [])
        for tag in path.split("."):
            node = next((n for n in nodes if n["value"]["tag"] == tag), None)
            if node is None:
                node = {"value": {"tag": tag}, "children": []}
                nodes.append(node)
            nodes = node.setdefault("children", [])
    return added
