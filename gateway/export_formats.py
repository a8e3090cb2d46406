"""Export formats besides Dataloop JSON, written from the same streamed (item, item JSON)
pairs: image CSV, per-video scene CSV and COCO-style categories with image-level labels.
Each is produced a row (or an entry) at a time: nothing holds the whole export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from typing import Any

from litestar.serialization import encode_json

Pairs = AsyncIterator[tuple[dict[str, Any], dict[str, Any]]]
IMAGE_COLUMNS = ["filename", "label", "status", "annotator", "updatedAt"]
SCENE_COLUMNS = ["video", "label", "startFrame", "endFrame", "startTime", "endTime", "hidden ranges"]


def _line(row: list[Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    return out.getvalue().encode()


def _mimetype(body: dict[str, Any]) -> str:
    return body["metadata"]["system"].get("mimetype", "")


def item_status(body: dict[str, Any]) -> str:
    """The item's statuses in the tasks that hold it (`;` between two tasks' statuses)."""
    found = [r["metadata"]["status"] for r in body["metadata"]["system"].get("refs", [])
             if r.get("type") == "task" and (r.get("metadata") or {}).get("status")]
    return ";".join(dict.fromkeys(found))


def _is_scene(annotation: dict[str, Any]) -> bool:
    return annotation["metadata"]["system"].get("endFrame") is not None


async def image_csv(pairs: Pairs) -> AsyncIterator[bytes]:
    """`filename,label,status,annotator,updatedAt`: a row per class of an image (an image
    without any: one row with an empty label, so its status still shows)."""
    yield _line(IMAGE_COLUMNS)
    async for item, body in pairs:
        if not _mimetype(body).startswith("image/"):
            continue
        status = item_status(body)
        classes = [a for a in body["annotations"] if a["type"] == "class" and not _is_scene(a)]
        for a in classes or [None]:
            yield _line([item["filename"], a["label"] if a else "", status,
                         (a.get("updatedBy") or a.get("creator") or "") if a else "",
                         a["updatedAt"] if a else ""])


def hidden_ranges(system: dict[str, Any]) -> str:
    """`a-b;c-d` from the key frames where a scene turns invisible and visible again."""
    ranges, start = [], None
    for snap in sorted(system.get("snapshots_") or [], key=lambda s: s["frame"]):
        visible = snap.get("objectVisible", True)
        if not visible and start is None:
            start = snap["frame"]
        elif visible and start is not None:
            ranges.append(f"{start}-{snap['frame'] - 1}")
            start = None
    if start is not None:
        ranges.append(f"{start}-{system['endFrame']}")
    return ";".join(ranges)


async def scene_csv(pairs: Pairs) -> AsyncIterator[bytes]:
    """A row per class scene of each video, in start-frame order."""
    yield _line(SCENE_COLUMNS)
    async for item, body in pairs:
        if not _mimetype(body).startswith("video/"):
            continue
        scenes = sorted((a for a in body["annotations"] if _is_scene(a)),
                        key=lambda a: a["metadata"]["system"]["frame"])
        for a in scenes:
            system = a["metadata"]["system"]
            yield _line([item["filename"], a["label"], system["frame"], system["endFrame"],
                         system.get("startTime", ""), system.get("endTime", ""), hidden_ranges(system)])


async def coco(labels: list[str], pairs: Callable[[], Pairs]) -> AsyncIterator[bytes]:
    """COCO-style JSON: `categories` (the recipe's label paths), `images`, and `annotations`
    holding image-level labels (`image_id`, `category_id`, no geometry). Two passes over the
    dataset (images, then labels), so neither list is held."""
    categories = {label: k + 1 for k, label in enumerate(labels)}
    head = {"info": {"description": "image-level labels"},
            "categories": [{"id": n, "name": label, "supercategory": label.rsplit(".", 1)[0]
                            if "." in label else ""} for label, n in categories.items()]}
    yield encode_json(head)[:-1] + b',"images":['
    numbers: dict[str, int] = {}  # item id -> image id: an int per image, as COCO wants
    first = True
    async for item, body in pairs():
        if _mimetype(body).startswith("image/"):
            numbers[item["id"]] = len(numbers) + 1
            system = body["metadata"]["system"]
            yield (b"" if first else b",") + encode_json(
                {"id": numbers[item["id"]], "file_name": item["filename"].lstrip("/"),
                 "width": system.get("width"), "height": system.get("height"), "clf_id": item["id"]})
            first = False
    yield b'],"annotations":['
    first, count = True, 0
    async for item, body in pairs():
        for a in body["annotations"]:
            if item["id"] in numbers and a["type"] == "class" and a["label"] in categories:
                count += 1
                yield (b"" if first else b",") + encode_json(
                    {"id": count, "image_id": numbers[item["id"]], "category_id": categories[a["label"]],
                     "attributes": a["metadata"]["system"].get("attributes", {})})
                first = False
    yield b"]}"
