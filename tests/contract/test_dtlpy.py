"""Our Dataloop JSON read by Dataloop's own SDK, offline (dataloop.md section 6): a class
annotation and an item export (layout 1) parse in `dtlpy` and keep type, label and
attributes through its round trip."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime

import pytest

from gateway.exports import item_export
from services.annotation.rules import new_class_annotation, public, updated_annotation
from shared.contracts.commands import Classify, UpdateAnnotation
from shared.contracts.envelope import Actor

# tests/conftest.py has pointed DATALOOP_PATH at a temp folder before this import.
import dtlpy as dl  # noqa: E402  isort: skip

pytestmark = pytest.mark.contract

API = "http://testserver/api/v1"
ACTOR = Actor(user_id="u1", email="ann@example.com", role="annotator")
LABEL = "men's clothes.polo shirts"
ATTRIBUTES = {"colour": "red", "features": ["pockets", "hood"], "fit": 2.5,
              "on_sale": True, "notes": "a small stain"}


def classify(**over) -> Classify:
    fields = dict(
        actor=ACTOR, occurred_at=datetime(2025, 1, 1, 10, 0, tzinfo=UTC),
        annotation_id="65a1b2c3d4e5f6a7b8c9d0e1", item_id="65a1b2c3d4e5f6a7b8c9d0aa",
        dataset_id="65a1b2c3d4e5f6a7b8c9d0dd", project_id="p1", recipe_id="r1",
        label=LABEL, attributes=ATTRIBUTES,
    )
    return Classify(**(fields | over))


def item_doc(cmd: Classify, *, filename: str = "/shop/polo.jpg",
             mimetype: str = "image/jpeg") -> dict:
    """An item as the gateway's catalog returns it (see gateway/controllers/items.py)."""
    directory, name = filename.rsplit("/", 1)
    return {
        "id": cmd.item_id, "datasetId": cmd.dataset_id, "projectId": cmd.project_id,
        "name": name, "dir": directory or "/", "filename": filename,
        "createdAt": "2025-01-01T09:00:00.000Z", "creator": "owner@example.com",
        "metadata": {"system": {"refs": [], "taskStatusLog": [], "mimetype": mimetype,
                                "originalname": name, "size": 1234, "isBinary": True,
                                "width": 640, "height": 480, "channels": 3},
                     "user": {"sku": "P-1"}},
        "fileId": "f1",
    }


def stored_annotation(cmd: Classify | None = None) -> dict:
    return new_class_annotation(cmd or classify(), "http://testserver")


def annotation_json(cmd: Classify | None = None) -> dict:
    """What the API serves for one annotation: Dataloop JSON, internal fields removed."""
    return json.loads(json.dumps(public(stored_annotation(cmd))))


def export_of(cmd: Classify, annotations: list[dict], **item) -> dict:
    return json.loads(json.dumps(item_export(item_doc(cmd, **item), annotations, API)))


def offline_item(export: dict) -> dl.Item:
    """An Item whose dataset needs no platform call (dataloop.md section 6)."""
    ds = dl.Dataset.from_json(_json={"id": export["datasetId"], "name": "offline"},
                              client_api=dl.client_api, project=None, is_fetched=False)
    ds._labels = []
    return dl.Item.from_json(_json=export, client_api=dl.client_api, dataset=ds,
                             is_fetched=False)


def named_attributes(annotation: dl.Annotation) -> dict:
    return json.loads(json.dumps(annotation.attributes))


# --- one annotation ------------------------------------------------------------------------


def test_dtlpy_parses_our_class_annotation_as_an_image_classification():
    parsed = dl.Annotation.from_json(_json=annotation_json())
    assert parsed.type == "class"
    assert isinstance(parsed.annotation_definition, dl.Classification)
    assert parsed.label == LABEL
    assert named_attributes(parsed) == ATTRIBUTES
    assert not parsed.is_video


def test_dtlpy_reads_our_identity_authorship_and_times():
    ann = annotation_json()
    parsed = dl.Annotation.from_json(_json=ann)
    assert parsed.id == ann["id"]
    assert parsed.item_id == ann["itemId"] and parsed.dataset_id == ann["datasetId"]
    assert parsed.creator == parsed.updated_by == "ann@example.com"
    assert parsed.created_at == "2025-01-01T10:00:00.000Z"
    assert parsed.hash == ann["hash"]
    assert parsed.description is None


def test_dtlpy_reads_our_description():
    parsed = dl.Annotation.from_json(_json=annotation_json(classify(description="front view")))
    assert parsed.description == "front view"


def test_our_annotation_keeps_type_label_and_attributes_through_a_dtlpy_round_trip():
    first = dl.Annotation.from_json(_json=annotation_json())
    written = first.to_json()
    again = dl.Annotation.from_json(_json=copy.deepcopy(written))
    assert written["type"] == again.type == "class"
    assert written["label"] == again.label == LABEL
    assert written["metadata"]["system"]["attributes"] == ATTRIBUTES
    assert named_attributes(again) == ATTRIBUTES
    assert "coordinates" not in written


def test_dtlpy_writes_back_the_fields_we_wrote():
    ann = annotation_json()
    written = dl.Annotation.from_json(_json=copy.deepcopy(ann)).to_json()
    for key in ("id", "type", "label", "attributes", "creator", "createdAt", "updatedBy",
                "updatedAt", "itemId", "datasetId", "url", "item", "dataset", "hash", "source"):
        assert written[key] == ann[key], key
    assert written["metadata"]["system"]["automated"] is False
    assert written["metadata"]["system"]["recipeId"] == "r1"


def test_an_updated_annotation_still_parses_in_dtlpy():
    cmd = UpdateAnnotation(actor=Actor(user_id="u2", email="rev@example.com"),
                           annotation_id="65a1b2c3d4e5f6a7b8c9d0e1", item_id="i", project_id="p1",
                           label="men's clothes.jeans", attributes={"fit": 3})
    doc = json.loads(json.dumps(public(updated_annotation(stored_annotation(), cmd))))
    parsed = dl.Annotation.from_json(_json=doc)
    assert parsed.label == "men's clothes.jeans"
    assert named_attributes(parsed) == {"fit": 3}
    assert parsed.updated_by == "rev@example.com" and parsed.creator == "ann@example.com"


def test_an_annotation_without_attributes_round_trips_with_an_empty_dict():
    parsed = dl.Annotation.from_json(_json=annotation_json(classify(attributes={})))
    assert named_attributes(parsed) == {}
    assert parsed.to_json()["metadata"]["system"]["attributes"] == {}


# --- an item export --------------------------------------------------------------------------


def test_our_item_export_has_dataloop_layout_1():
    export = export_of(classify(), [stored_annotation()])
    assert {"id", "datasetId", "url", "dataset", "createdAt", "dir", "filename", "type",
            "hidden", "metadata", "name", "creator", "stream", "annotations",
            "annotationsCount", "annotated"} <= set(export)
    assert export["type"] == "file" and export["annotationsCount"] == 1 and export["annotated"]
    assert not [k for a in export["annotations"] for k in a if k.startswith("_")]
    assert "fileId" not in export and "projectId" not in export


def test_dtlpy_reads_the_annotations_of_our_item_export():
    cmd = classify()
    collection = dl.AnnotationCollection.from_json(_json=export_of(cmd, [stored_annotation(cmd)]))
    assert len(collection.annotations) == 1
    parsed = collection.annotations[0]
    assert parsed.type == "class" and parsed.label == LABEL
    assert named_attributes(parsed) == ATTRIBUTES
    assert not parsed.is_video


def test_dtlpy_reads_every_annotation_of_an_item_export_without_dropping_any(caplog):
    # AnnotationCollection.from_json logs and drops annotations it cannot parse.
    cmd = classify()
    second = classify(annotation_id="65a1b2c3d4e5f6a7b8c9d0e2", label="accessories",
                      attributes={"on_sale": False})
    export = export_of(cmd, [stored_annotation(cmd), stored_annotation(second)])
    with caplog.at_level(logging.WARNING):
        collection = dl.AnnotationCollection.from_json(_json=export)
    assert sorted(a.label for a in collection.annotations) == ["accessories", LABEL]
    assert {a.label: named_attributes(a) for a in collection.annotations} == {
        LABEL: ATTRIBUTES, "accessories": {"on_sale": False},
    }
    assert not [r for r in caplog.records if r.name.startswith("dtlpy")
                and r.levelno >= logging.WARNING]


def test_dtlpy_reads_our_item_entity_from_the_export():
    cmd = classify()
    export = export_of(cmd, [stored_annotation(cmd)])
    item = offline_item(export)
    assert item.id == cmd.item_id and item.dataset_id == cmd.dataset_id
    assert item.filename == "/shop/polo.jpg" and item.name == "polo.jpg"
    assert item.dir == "/shop"
    assert item.mimetype == "image/jpeg"
    assert item.width == 640 and item.height == 480
    assert item.metadata["user"] == {"sku": "P-1"}


def test_dtlpy_reads_our_export_annotations_against_our_item():
    cmd = classify()
    export = export_of(cmd, [stored_annotation(cmd)])
    item = offline_item(export)
    collection = dl.AnnotationCollection.from_json(_json=export["annotations"], item=item)
    assert [(a.type, a.label) for a in collection.annotations] == [("class", LABEL)]
    parsed = collection.annotations[0]
    assert parsed.item_id == item.id
    assert named_attributes(parsed) == ATTRIBUTES
    again = dl.Annotation.from_json(_json=parsed.to_json(), item=item)
    assert (again.type, again.label, named_attributes(again)) == ("class", LABEL, ATTRIBUTES)


def test_an_export_of_an_item_without_annotations_is_read_as_empty():
    export = export_of(classify(), [])
    assert export["annotations"] == [] and export["annotated"] is False
    assert len(dl.AnnotationCollection.from_json(_json=export).annotations) == 0


def test_dtlpy_chooses_image_from_the_exports_mimetype():
    export = export_of(classify(), [stored_annotation()], filename="/shop/polo",
                       mimetype="image/png")
    collection = dl.AnnotationCollection.from_json(_json=export)
    assert [a.is_video for a in collection.annotations] == [False]


def test_an_imported_annotation_with_null_authorship_still_parses_after_our_export():
    # dataloop.md 1.1: dtlpy needs the `creator` and `updatedBy` keys, but their values
    # may be null, as in some platform exports. Our models must not drop such keys.
    imported = annotation_json() | {"creator": None, "updatedBy": None}
    export = export_of(classify(), [imported])
    assert export["annotations"][0]["creator"] is None
    assert export["annotations"][0]["updatedBy"] is None
    parsed = dl.Annotation.from_json(_json=export["annotations"][0])
    assert parsed.label == LABEL and parsed.creator is None
