"""The workflow's rules, one by one: settings a task allows, moving on, auto complete, refills,
the next item, leases; and the workflow contracts round-trip through JSON."""

from __future__ import annotations

import typing
from datetime import UTC, datetime

import pytest

from services.workflow import rules
from services.workflow.rules import TaskMeta, WorkflowSettings
from shared.contracts.envelope import Actor
from shared.contracts.events import CommandRejected
from shared.contracts.read_model import ReadModel
from shared.contracts.workflow import (
    WORKFLOW_COMMAND,
    WORKFLOW_EVENT,
    WORKFLOW_EVENT_TYPES,
    ChangeWorkflowSettings,
    Heartbeat,
    LeasesGranted,
    LeaveTask,
    MovedOn,
    MoveOn,
    StepBack,
    SyncQueue,
    WorkflowEvent,
)

pytestmark = pytest.mark.unit
ACTOR = Actor(user_id="u1", email="ann@example.com")


def task(**over) -> TaskMeta:
    fields = {"project_id": "p", "allocation": "distribution", "single_class": True,
              "allow_next_only_on_done": False, "offers_completed": True}
    return TaskMeta(**(fields | over))


def pulling(batch: int = 3, most: int = 5) -> TaskMeta:
    return task(allocation="pulling", batch_size=batch, max_batch_workload=most)


ON = WorkflowSettings(auto_next=True, auto_complete=True)
NEXT_ONLY = WorkflowSettings(auto_next=True)
OFF = WorkflowSettings()


# --- settings -------------------------------------------------------------------------------


def test_auto_next_is_allowed_in_a_single_class_task():
    assert rules.settings_refusal(task(), NEXT_ONLY) is None
    assert rules.settings_refusal(task(), ON) is None


def test_auto_next_is_refused_in_a_multi_class_task_with_a_clear_reason():
    refusal = rules.settings_refusal(task(single_class=False), NEXT_ONLY)
    assert refusal is not None and refusal.reason == "conflict"
    assert "single-class" in refusal.message and refusal.details == {"field": "autoNext"}


def test_turning_everything_off_is_always_allowed():
    assert rules.settings_refusal(task(single_class=False, offers_completed=False), OFF) is None


def test_auto_complete_is_offered_only_with_auto_next():
    refusal = rules.settings_refusal(task(), WorkflowSettings(auto_complete=True))
    assert refusal is not None and refusal.reason == "invalid" and refusal.details["field"] == "autoComplete"


def test_auto_complete_needs_the_completed_status():
    refusal = rules.settings_refusal(task(offers_completed=False), ON)
    assert refusal is not None and "'completed'" in refusal.message


# --- moving on ------------------------------------------------------------------------------


@pytest.mark.parametrize(("settings", "item_open", "completes"), [
    (ON, True, True),
    (ON, False, False),  # a status the annotator chose is never overwritten
    (NEXT_ONLY, True, False),
    (WorkflowSettings(auto_complete=True), True, False),  # not offered without auto next
    (OFF, True, False),
])
def test_auto_complete_completes_the_item_left_only_when_it_has_no_status(settings, item_open, completes):
    assert rules.completes_on_move(settings, item_open) is completes


def test_next_only_on_done_refuses_to_leave_an_item_without_a_status():
    refusal = rules.NextOnlyOnDone().check(task(allow_next_only_on_done=True), NEXT_ONLY, "i1", True)
    assert refusal is not None and refusal.reason == "conflict" and refusal.details == {"itemId": "i1"}


def test_next_only_on_done_lets_auto_complete_give_the_status_on_the_way():
    assert rules.NextOnlyOnDone().check(task(allow_next_only_on_done=True), ON, "i1", True) is None


def test_next_only_on_done_allows_leaving_a_done_item_and_tasks_without_the_setting():
    assert rules.NextOnlyOnDone().check(task(allow_next_only_on_done=True), OFF, "i1", False) is None
    assert rules.NextOnlyOnDone().check(task(), OFF, "i1", True) is None


# --- refills --------------------------------------------------------------------------------


@pytest.mark.parametrize(("open_items", "refill"), [(0, True), (2, True), (3, False), (5, False)])
def test_a_pulling_annotator_refills_once_a_whole_batch_fits_under_the_maximum(open_items, refill):
    assert rules.needs_refill(pulling(3, 5), open_items) is refill


def test_allocation_tasks_never_refill():
    assert rules.needs_refill(task(), 0) is False


# --- the next item --------------------------------------------------------------------------

ORDER = {f"i{k}": float(k) for k in range(6)}


@pytest.mark.parametrize(("open_items", "current", "expected"), [
    (["i0", "i1", "i2"], None, "i0"),             # nothing in hand: the first open item
    (["i0", "i1", "i2"], "i0", "i1"),             # the next after the item in hand
    (["i0", "i2", "i4"], "i2", "i4"),
    (["i0", "i2"], "i1", "i2"),                   # the item in hand may be done already
    (["i0", "i2"], "i3", "i0"),                   # nothing after it: round to the first
    (["i3"], "i3", None),                         # never the item in hand
    (["i1", "i3"], "i3", "i1"),
    ([], "i2", None),
    (["i2", "i4"], "unknown", "i2"),              # an item outside the order: from the start
])
def test_next_after_is_the_next_open_item_in_work_order_skipping_the_item_in_hand(open_items, current, expected):
    assert rules.next_after(open_items, ORDER, current) == expected


def test_renewal_is_due_past_half_the_lease():
    assert rules.renewal_due(earliest_expiry_ms=1_400, now_ms=1_000, ttl_ms=1_000) is True
    assert rules.renewal_due(earliest_expiry_ms=1_600, now_ms=1_000, ttl_ms=1_000) is False


def test_pages_heartbeat_three_times_per_lease():
    assert rules.heartbeat_every_s(600) == 200 and rules.heartbeat_every_s(1) == 1.0


# --- task meta and contracts ----------------------------------------------------------------


def test_task_meta_comes_from_the_task_document_and_survives_the_read_model():
    doc = {"projectId": "p", "allocation": "pulling", "singleClass": True, "allowNextOnlyOnDone": True,
           "availableActions": [{"action": "discard"}], "batchSize": 3, "maxBatchWorkload": 5}
    meta = TaskMeta.of_task(doc)
    assert meta.pulling and meta.allow_next_only_on_done and not meta.offers_completed
    assert TaskMeta.of_hash(meta.to_hash()) == meta
    assert WorkflowSettings.of_hash(ON.to_hash()) == ON


@pytest.mark.parametrize("command", [
    MoveOn(actor=ACTOR, task_id="t", project_id="p", from_item_id="i"),
    StepBack(actor=ACTOR, task_id="t", project_id="p"),
    ChangeWorkflowSettings(actor=ACTOR, task_id="t", project_id="p", auto_next=True, auto_complete=False),
    Heartbeat(actor=ACTOR, task_id="t", project_id="p", item_id="i"),
    LeaveTask(actor=ACTOR, task_id="t", project_id="p"),
    SyncQueue(actor=ACTOR, task_id="t", project_id="p"),
])
def test_every_workflow_command_round_trips_through_json(command):
    assert WORKFLOW_COMMAND.validate_python(command.wire()) == command


@pytest.mark.parametrize("event", [
    MovedOn(actor=ACTOR, task_id="t", project_id="p", assignment_id="a", annotator="ann@example.com",
            from_item_id="i0", item_id="i1", completed_item_id="i0", open_items=4),
    LeasesGranted(actor=ACTOR, task_id="t", project_id="p", assignment_id="a", annotator="ann@example.com",
                  item_ids=["i1"], expires_at=datetime(2026, 1, 1, tzinfo=UTC)),
    CommandRejected(actor=ACTOR, command_type="MoveOn", reason="conflict", message="no"),
])
def test_workflow_events_round_trip_through_json(event):
    assert WORKFLOW_EVENT.validate_python(event.wire()) == event


def test_every_workflow_event_type_is_named_for_readers_that_dispatch_on_type():
    members = typing.get_args(typing.get_args(WorkflowEvent)[0])
    names = {m.model_fields["type"].default for m in members} - {"CommandRejected"}
    assert names == WORKFLOW_EVENT_TYPES


def test_the_read_model_keeps_a_tasks_keys_in_one_slot():
    rm = ReadModel("clf")
    assert rm.task("t1", "meta") == "clf:wf:{t1}:meta"
    assert rm.annotator("t1", "a@x.com", "open") == "clf:wf:{t1}:open:a@x.com"
