"""Dataloop item JSON (export layout 1) from the catalog's item and its annotations."""

from __future__ import annotations

from typing import Any

from shared.dataloop import ItemExport

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
