"""Pure rules of the annotation service: how commands become Dataloop JSON. No I/O."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from shared.contracts.commands import Classify, UpdateAnnotation
from shared.contracts.dataloop import Annotation

INTERNAL = ("_id", "_projectId", "_deleted", "_lastCommand", "_commandId", "_scene")


def dataloop_time(moment: datetime) -> str:
    """ISO-8601 with milliseconds and `Z`, as Dataloop writes it."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def content_hash(doc: dict[str, Any]) -> str:
    """40-hex content hash over what the annotation says (label, attributes, metadata)."""
    body = {k: doc.get(k) for k in ("type", "label", "attributes", "itemId")}
    body["system"] = doc.get("metadata", {}).get("system", {}).get("attributes", {})
    return hashlib.sha1(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def new_class_annotation(cmd: Classify, base_url: str) -> dict[str, Any]:
    """The stored document for a Classify command: Dataloop JSON plus internal fields."""
    at = dataloop_time(cmd.occurred_at)
    api = f"{base_url.rstrip('/')}/api/v1"
    doc = Annotation(
        id=cmd.annotation_id,
        label=cmd.label,
        metadata={
            "system": {
                "attributes": dict(cmd.attributes),
                "automated": cmd.source not in ("ui",),
                "clientId": cmd.id,
                "recipeId": cmd.recipe_id,
                "taskId": cmd.task_id,
                "assignmentId": cmd.assignment_id,
            },
            "user": {},
        },
        creator=cmd.actor.email,
        createdAt=at,
        updatedBy=cmd.actor.email,
        updatedAt=at,
        itemId=cmd.item_id,
        datasetId=cmd.dataset_id,
        url=f"{api}/annotations/{cmd.annotation_id}",
        item=f"{api}/items/{cmd.item_id}",
        dataset=f"{api}/datasets/{cmd.dataset_id}",
        source=cmd.source,
        description=cmd.description,
    ).dump()
    doc["hash"] = content_hash(doc)
    return doc | {"_id": cmd.annotation_id, "_projectId": cmd.project_id, "_commandId": cmd.id}


def updated_annotation(doc: dict[str, Any], cmd: UpdateAnnotation) -> dict[str, Any]:
    """The document after `cmd`; remembers what it replaced so a redelivery reports the same."""
    last = doc.get("_lastCommand") or {}
    if last.get("id") == cmd.id:
        return doc
    new = json.loads(json.dumps(doc, default=str))
    previous = {"label": doc["label"], "attributes": doc["metadata"]["system"]["attributes"]}
    if cmd.label is not None:
        new["label"] = cmd.label
    if cmd.attributes is not None:
        new["metadata"]["system"]["attributes"] = dict(cmd.attributes)
    if cmd.description is not None:
        new["description"] = cmd.description
    new["updatedBy"] = cmd.actor.email
    new["updatedAt"] = dataloop_time(cmd.occurred_at)
    new["hash"] = content_hash(new)
    new["_lastCommand"] = {"id": cmd.id, "previous": previous}
    return new


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """The Dataloop JSON of a stored document (internal fields removed)."""
    return {k: v for k, v in doc.items() if k not in INTERNAL}
