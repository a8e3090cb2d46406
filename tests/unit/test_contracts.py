"""Wire contracts: every command and event survives JSON unchanged, in camelCase, read
tolerantly; and the annotation service's pure rules write Dataloop JSON."""

from __future__ import annotations

import inspect
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from services.annotation.rules import (
    dataloop_time,
    new_class_annotation,
    public,
    updated_annotation,
)
from shared.contracts import commands, events, tasks
from shared.contracts.commands import (
    CLASSIFY_STREAM_COMMAND,
    Classify,
    DeleteAnnotation,
    UpdateAnnotation,
)
from shared.contracts.envelope import SCHEMA_VERSION, Actor, Envelope, derived_id
from shared.contracts.events import (
    ANNOTATION_EVENT,
    AnnotationDeleted,
    AnnotationUpdated,
    CommandRejected,
    ItemClassified,
)
from shared.contracts.scene_commands import StartScene
from shared.rules.scenes import Video

# Pure (no I/O) like every unit test, and the wire contract other teams rely on.
pytestmark = [pytest.mark.unit, pytest.mark.contract]

ACTOR = Actor(user_id="u1", email="ann@example.com", role="annotator")
AT = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
ATTRIBUTES = {"colour": "red", "features": ["pockets", "hood"], "fit": 2.5, "on_sale": True,
              "notes": "a small stain"}
ANNOTATION = {"id": "a1", "type": "class", "label": "men's clothes.polo shirts",
              "attributes": [], "metadata": {"system": {"attributes": ATTRIBUTES}, "user": {}}}


def classify(**over) -> Classify:
    fields = dict(
        actor=ACTOR, occurred_at=AT, annotation_id="65a1b2c3d4e5f6a7b8c9d0e1", item_id="i1",
        dataset_id="d1", project_id="p1", recipe_id="r1", label="men's clothes.polo shirts",
        attributes=ATTRIBUTES, task_id="t1", assignment_id="as1", description="front view",
    )
    return Classify(**(fields | over))


TASK = dict(actor=ACTOR, task_id="t1", project_id="p1")
TASK_SAMPLES: list[Envelope] = [
    tasks.CreateTask(**TASK, dataset_id="d1", recipe_id="r1", name="shirts",
                     assignees=["a@x.com", "b@x.com"], due_date=AT,
                     workload=[tasks.WorkloadUnit(assignee_id="a@x.com", load=60),
                               tasks.WorkloadUnit(assignee_id="b@x.com", load=40)],
                     filter=tasks.ItemFilter(dir="/shirts"), allocation="distribution"),
    tasks.CreateTask(**TASK, dataset_id="d1", recipe_id="r1", name="pull", assignees=["a@x.com"],
                     item_ids=["i1", "i2"], allocation="pulling", batch_size=3, max_batch_workload=5),
    tasks.EditTask(**TASK, add_actions=[tasks.StatusAction(action="blurry", display_name="Blurry")],
                   remove_actions=["discard"]),
    tasks.ChangeTaskItems(**TASK, operation="remove", item_ids=["i1"]),
    tasks.Redistribute(**TASK, assignment_id="as1", workload=[tasks.WorkloadUnit(assignee_id="b@x.com", load=100)]),
    tasks.Reassign(**TASK, assignment_id="as1", annotator="c@x.com"),
    tasks.PullItems(**TASK),
    tasks.ReturnItems(**TASK, assignment_id="as1", item_ids=["i4", "i5"]),
    tasks.SetStatus(**TASK, item_id="i1", status="completed"),
    tasks.SetStatus(**TASK, item_id="i1", status=None),
    tasks.CheckInTask(**TASK, command=classify()),
    tasks.CheckInTask(**TASK, command=StartScene(
        actor=ACTOR, occurred_at=AT, annotation_id="65a1b2c3d4e5f6a7b8c9d0e2", item_id="i1",
        dataset_id="d1", project_id="p1", video=Video(fps=25, frame_count=100, duration=4),
        frame=10, label="men's clothes")),
    tasks.TaskChanged(**TASK, change="created", task={"id": "t1"}, summary={"added": 2}),
    tasks.ItemsPulled(**TASK, assignment_id="as1", item_ids=["i1", "i2", "i3"], open_items=3),
    tasks.ItemStatusChanged(**TASK, assignment_id="as1", item_id="i1", previous=None, status="completed"),
]

SAMPLES: list[Envelope] = [
    classify(),
    UpdateAnnotation(actor=ACTOR, annotation_id="a1", item_id="i1", project_id="p1",
                     label="men's clothes.jeans", attributes={"fit": 3}, description="d"),
    UpdateAnnotation(actor=ACTOR, annotation_id="a1", item_id="i1", project_id="p1"),
    DeleteAnnotation(actor=ACTOR, annotation_id="a1", item_id="i1", project_id="p1"),
    ItemClassified(actor=ACTOR, correlation_id="c1", item_id="i1", dataset_id="d1",
                   project_id="p1", annotation=ANNOTATION),
    AnnotationUpdated(actor=ACTOR, correlation_id="c1", item_id="i1", project_id="p1",
                      annotation=ANNOTATION, previous={"label": "x", "attributes": {}}),
    AnnotationDeleted(actor=ACTOR, correlation_id="c1", item_id="i1", project_id="p1",
                      annotation_id="a1"),
    *TASK_SAMPLES,
    CommandRejected(actor=Actor(user_id="u2", email="b@example.com"), correlation_id="c1",
                    command_type="Classify", reason="invalid", message="no such label",
                    details={"problems": [{"field": "label", "rule": "unknown"}]}),
]


def contracts_in(module) -> set[type[Envelope]]:
    return {cls for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Envelope) and cls is not Envelope
            and cls.__module__ == module.__name__}


def readers_of(message: Envelope) -> list[TypeAdapter]:
    module = inspect.getmodule(type(message))
    return [v for v in vars(module).values() if isinstance(v, TypeAdapter)]


def over_json(message: Envelope) -> dict:
    return json.loads(json.dumps(message.wire()))


def sample_id(message: Envelope) -> str:
    return type(message).__name__


# --- envelope and wire shape -------------------------------------------------------------------


def test_every_command_and_event_has_a_round_trip_sample():
    declared = contracts_in(commands) | contracts_in(events) | contracts_in(tasks)
    missing = declared - {type(s) for s in SAMPLES}
    assert not missing, f"add a sample to SAMPLES for {sorted(c.__name__ for c in missing)}"


@pytest.mark.parametrize("message", SAMPLES, ids=sample_id)
def test_a_message_survives_json_through_its_stream_reader(message):
    readers = readers_of(message)
    assert readers, f"{type(message).__name__} has no TypeAdapter reader in its module"
    read = []
    for reader in readers:
        try:
            read.append(reader.validate_python(over_json(message)))
        except ValidationError:
            continue
    assert read and all(r == message and type(r) is type(message) for r in read)


@pytest.mark.parametrize("message", SAMPLES, ids=sample_id)
def test_a_message_survives_json_through_its_own_model(message):
    assert type(message).model_validate_json(json.dumps(message.wire())) == message


@pytest.mark.parametrize("message", SAMPLES, ids=sample_id)
def test_a_message_writes_camel_case_keys(message):
    wire = message.wire()
    assert not [k for k in wire if "_" in k]
    assert not [k for k in wire["actor"] if "_" in k]
    assert {"id", "correlationId", "actor", "occurredAt", "schemaVersion", "type"} <= set(wire)


@pytest.mark.parametrize("message", SAMPLES, ids=sample_id)
def test_a_message_names_its_own_type_on_the_wire(message):
    assert message.wire()["type"] == type(message).__name__


def test_a_classify_command_uses_dataloop_style_names():
    wire = classify().wire()
    assert wire["annotationId"] == "65a1b2c3d4e5f6a7b8c9d0e1"
    assert {"itemId", "datasetId", "projectId", "recipeId", "taskId", "assignmentId"} <= set(wire)
    assert wire["actor"] == {"userId": "u1", "email": "ann@example.com", "role": "annotator"}
    assert wire["schemaVersion"] == SCHEMA_VERSION == 1


def test_attribute_keys_inside_a_payload_are_not_renamed():
    wire = classify(attributes={"on_sale": True, "snake_key": 1}).wire()
    assert wire["attributes"] == {"on_sale": True, "snake_key": 1}


def test_occurred_at_is_written_in_utc_iso_8601():
    occurred = classify().wire()["occurredAt"]
    assert occurred.startswith("2025-01-01T10:00:00")
    assert datetime.fromisoformat(occurred.replace("Z", "+00:00")) == AT


def test_absent_optionals_are_left_off_the_wire():
    wire = UpdateAnnotation(actor=ACTOR, annotation_id="a1", item_id="i1", project_id="p1").wire()
    assert "label" not in wire and "attributes" not in wire and "description" not in wire


def test_a_commands_correlation_id_defaults_to_its_own_id():
    cmd = classify()
    assert cmd.correlation_id == cmd.id
    assert over_json(cmd)["correlationId"] == cmd.id


def test_an_events_correlation_id_is_the_command_it_answers():
    cmd = classify()
    event = ItemClassified(actor=cmd.actor, correlation_id=cmd.id, item_id="i1",
                           dataset_id="d1", project_id="p1", annotation=ANNOTATION)
    assert event.correlation_id == cmd.id != event.id


def test_a_read_message_keeps_the_correlation_id_it_was_sent_with():
    cmd = classify(correlation_id="upstream")
    assert CLASSIFY_STREAM_COMMAND.validate_python(over_json(cmd)).correlation_id == "upstream"


def test_every_new_message_gets_a_fresh_hex_id():
    first, second = classify(), classify()
    assert first.id != second.id
    assert re.fullmatch(r"[0-9a-f]{32}", first.id)


def test_readers_ignore_unknown_fields():
    cmd = classify()
    wire = over_json(cmd) | {"addedInVersion2": {"x": 1}, "priority": 3}
    wire["actor"] |= {"tenant": "acme"}
    assert CLASSIFY_STREAM_COMMAND.validate_python(wire) == cmd
    assert Classify.model_validate_json(json.dumps(wire)) == cmd


def test_readers_ignore_unknown_fields_on_events():
    event = SAMPLES[4]
    wire = over_json(event) | {"partition": 7}
    assert ANNOTATION_EVENT.validate_python(wire) == event


def test_a_message_of_an_unknown_type_is_refused_by_the_stream_reader():
    wire = over_json(classify()) | {"type": "Reclassify"}
    with pytest.raises(ValidationError):
        CLASSIFY_STREAM_COMMAND.validate_python(wire)


def test_a_message_missing_a_required_field_is_refused():
    wire = over_json(classify())
    del wire["annotationId"]
    with pytest.raises(ValidationError):
        CLASSIFY_STREAM_COMMAND.validate_python(wire)


def test_a_rejection_reason_is_one_of_the_known_codes():
    wire = over_json(SAMPLES[-1]) | {"reason": "oops"}
    with pytest.raises(ValidationError):
        ANNOTATION_EVENT.validate_python(wire)


def test_messages_are_immutable():
    cmd = classify()
    with pytest.raises(ValidationError):
        cmd.label = "other"  # type: ignore[misc]


def test_contracts_are_pydantic_models():
    assert all(isinstance(s, BaseModel) for s in SAMPLES)


def test_derived_id_is_stable_for_the_same_command_and_event():
    assert derived_id("cmd1", "ItemClassified") == derived_id("cmd1", "ItemClassified")
    assert re.fullmatch(r"[0-9a-f]{32}", derived_id("cmd1", "ItemClassified"))


def test_derived_id_differs_by_command_and_by_event():
    ids = {derived_id(c, w) for c in ("cmd1", "cmd2") for w in ("ItemClassified", "Rejected")}
    assert len(ids) == 4


# --- new_class_annotation -------------------------------------------------------------------


def test_a_classify_command_becomes_a_dataloop_class_annotation():
    doc = new_class_annotation(classify(), "http://testserver")
    assert doc["id"] == "65a1b2c3d4e5f6a7b8c9d0e1"
    assert doc["type"] == "class"
    assert doc["label"] == "men's clothes.polo shirts"
    assert doc["attributes"] == []
    assert doc["metadata"]["system"]["attributes"] == ATTRIBUTES
    assert doc["metadata"]["user"] == {}
    assert doc["itemId"] == "i1" and doc["datasetId"] == "d1"
    assert doc["description"] == "front view"


def test_the_annotation_is_created_and_updated_by_the_actor():
    doc = new_class_annotation(classify(), "http://testserver")
    assert doc["creator"] == doc["updatedBy"] == "ann@example.com"


def test_the_annotation_times_are_dataloop_formatted_from_the_command():
    doc = new_class_annotation(classify(), "http://testserver")
    assert doc["createdAt"] == doc["updatedAt"] == "2025-01-01T10:00:00.000Z"


def test_dataloop_time_has_milliseconds_and_z_in_utc():
    paris = timezone(timedelta(hours=1))
    assert dataloop_time(datetime(2025, 1, 1, 11, 0, 5, 123999, tzinfo=paris)) == (
        "2025-01-01T10:00:05.123Z"
    )


def test_an_image_annotation_has_no_video_keys():
    doc = new_class_annotation(classify(), "http://testserver")
    system = doc["metadata"]["system"]
    for key in ("frame", "endFrame", "startTime", "endTime", "snapshots_"):
        assert key not in system and key not in doc
    assert "coordinates" not in doc


def test_the_annotation_records_its_task_and_recipe_context():
    system = new_class_annotation(classify(), "http://testserver")["metadata"]["system"]
    assert system["recipeId"] == "r1" and system["taskId"] == "t1"
    assert system["assignmentId"] == "as1"
    assert system["automated"] is False


def test_an_annotation_outside_a_task_leaves_the_task_keys_off():
    system = new_class_annotation(classify(task_id=None, assignment_id=None),
                                  "http://testserver")["metadata"]["system"]
    assert "taskId" not in system and "assignmentId" not in system


def test_an_annotation_from_the_sdk_is_automated():
    doc = new_class_annotation(classify(source="sdk"), "http://testserver")
    assert doc["metadata"]["system"]["automated"] is True and doc["source"] == "sdk"


def test_the_annotation_urls_hang_off_the_public_api():
    doc = new_class_annotation(classify(), "http://testserver/")
    assert doc["url"] == "http://testserver/api/v1/annotations/65a1b2c3d4e5f6a7b8c9d0e1"
    assert doc["item"] == "http://testserver/api/v1/items/i1"
    assert doc["dataset"] == "http://testserver/api/v1/datasets/d1"


def test_the_same_command_always_builds_the_same_annotation():
    cmd = classify()
    assert new_class_annotation(cmd, "http://x") == new_class_annotation(cmd, "http://x")


def test_the_hash_changes_with_the_content():
    one = new_class_annotation(classify(), "http://x")["hash"]
    other = new_class_annotation(classify(label="men's clothes.jeans"), "http://x")["hash"]
    assert re.fullmatch(r"[0-9a-f]{40}", one) and one != other


def test_the_stored_document_carries_internal_fields_that_public_removes():
    cmd = classify()
    doc = new_class_annotation(cmd, "http://x")
    assert doc["_id"] == cmd.annotation_id and doc["_projectId"] == "p1"
    assert doc["_commandId"] == cmd.id
    assert not [k for k in public(doc) if k.startswith("_")]


# --- updated_annotation ---------------------------------------------------------------------


def update(**over) -> UpdateAnnotation:
    fields = dict(actor=Actor(user_id="u2", email="rev@example.com"),
                  occurred_at=AT + timedelta(minutes=5), annotation_id="a1", item_id="i1",
                  project_id="p1")
    return UpdateAnnotation(**(fields | over))


def stored() -> dict:
    return new_class_annotation(classify(), "http://x")


def test_an_update_changes_label_and_attributes_and_remembers_the_previous():
    cmd = update(label="men's clothes.jeans", attributes={"fit": 3})
    new = updated_annotation(stored(), cmd)
    assert new["label"] == "men's clothes.jeans"
    assert new["metadata"]["system"]["attributes"] == {"fit": 3}
    assert new["_lastCommand"] == {
        "id": cmd.id,
        "previous": {"label": "men's clothes.polo shirts", "attributes": ATTRIBUTES},
    }


def test_an_update_is_stamped_by_its_actor_and_time_but_keeps_the_creator():
    new = updated_annotation(stored(), update(label="men's clothes.jeans"))
    assert new["updatedBy"] == "rev@example.com"
    assert new["updatedAt"] == "2025-01-01T10:05:00.000Z"
    assert new["creator"] == "ann@example.com"
    assert new["createdAt"] == "2025-01-01T10:00:00.000Z"


def test_an_update_without_a_label_keeps_the_label():
    new = updated_annotation(stored(), update(attributes={}))
    assert new["label"] == "men's clothes.polo shirts"
    assert new["metadata"]["system"]["attributes"] == {}


def test_an_update_without_attributes_keeps_the_attributes():
    new = updated_annotation(stored(), update(label="accessories"))
    assert new["metadata"]["system"]["attributes"] == ATTRIBUTES


def test_an_update_refreshes_the_hash():
    doc = stored()
    assert updated_annotation(doc, update(label="accessories"))["hash"] != doc["hash"]


def test_an_update_does_not_mutate_the_stored_document():
    doc = stored()
    before = json.loads(json.dumps(doc))
    updated_annotation(doc, update(label="accessories", attributes={"fit": 1}))
    assert doc == before


def test_applying_the_same_update_twice_changes_nothing_more():
    cmd = update(label="men's clothes.jeans", attributes={"fit": 3})
    once = updated_annotation(stored(), cmd)
    twice = updated_annotation(once, cmd)
    assert twice == once
    assert twice["_lastCommand"]["previous"] == once["_lastCommand"]["previous"]


def test_a_later_update_remembers_what_the_earlier_one_wrote():
    first = updated_annotation(stored(), update(label="men's clothes.jeans"))
    second = updated_annotation(first, update(label="accessories"))
    assert second["_lastCommand"]["previous"]["label"] == "men's clothes.jeans"
