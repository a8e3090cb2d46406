"""The pure part of a bulk classification: which items get the class, which classes it
replaces, and the documents it writes. No I/O."""

from __future__ import annotations

from typing import Any

from services.annotation import rules
from shared.contracts.bulk import ClassifyItems, annotation_id
from shared.contracts.commands import Classify


def plan_classes(cmd: ClassifyItems, live: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per item: unchanged (it already carries the label: single-class, as its only class),
    else classified, replacing its other classes in single-class tasks."""
    classified, unchanged, replaced = [], [], {}
    for item in cmd.items:
        mine = annotation_id(cmd.bulk_id, item.item_id)
        others = [a for a in live.get(item.item_id, []) if a["_id"] != mine]
        labels = {a["label"] for a in others}
        has_it = cmd.label in labels and (not cmd.replace_classes or labels == {cmd.label})
        if has_it and len(others) == len(live.get(item.item_id, [])):
            unchanged.append(item.item_id)
            continue
        classified.append([item.item_id, item.assignment_id])
        if cmd.replace_classes and others:
            replaced[item.item_id] = [a["_id"] for a in others]
    return {"classified": classified, "unchanged": unchanged, "replaced": replaced}


def template(cmd: ClassifyItems, base_url: str) -> dict[str, Any]:
    first = cmd.items[0]
    return rules.new_class_annotation(Classify(
        id=cmd.id, correlation_id=cmd.id, actor=cmd.actor, occurred_at=cmd.occurred_at,
        annotation_id=annotation_id(cmd.bulk_id, first.item_id), item_id=first.item_id,
        dataset_id=cmd.dataset_id, project_id=cmd.project_id, recipe_id=cmd.recipe_id,
        label=cmd.label, attributes=cmd.attributes, source="ui", task_id=cmd.task_id,
        assignment_id=first.assignment_id), base_url)


def document(template: dict[str, Any], api: str, bulk_id: str, item: str, assignment: str) -> dict[str, Any]:
    ann = annotation_id(bulk_id, item)
    doc = template | {"_id": ann, "id": ann, "itemId": item, "url": f"{api}/annotations/{ann}",
                      "item": f"{api}/items/{item}"}
    doc["metadata"] = {"system": template["metadata"]["system"] | {"assignmentId": assignment},
                       "user": {}}
    doc["hash"] = rules.content_hash(doc)
    return doc
