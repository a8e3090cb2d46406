"""The task service's allocation arithmetic and its named rules, each on its own."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.task import rules

pytestmark = pytest.mark.unit

TASK = {"_id": "t1", "allocation": "distribution",
        "availableActions": [{"action": "completed"}, {"action": "discard"}, {"action": "needs-review"}]}
MINE = {"_id": "a1", "annotator": "ann@x.com", "queue": False}


def ctx(assignment=MINE, role="annotator", email="ann@x.com", status=None, task=TASK):
    return rules.Context(task=task, item_id="i1", assignment=assignment, actor_id="u",
                         actor_email=email, actor_role=role, status=status)


def test_even_loads_split_100_with_the_remainder_to_the_first_assignees():
    assert rules.even_loads(["a", "b", "c"]) == [("a", 34.0), ("b", 33.0), ("c", 33.0)]


@given(n=st.integers(0, 5000), loads=st.lists(st.integers(1, 100), min_size=1, max_size=8))
def test_split_hands_out_every_item_exactly_once_in_order(n, loads):
    items = [str(i) for i in range(n)]
    named = [(f"a{i}", float(w)) for i, w in enumerate(loads)]
    shares = rules.split(items, named)
    assert [i for a, _ in named for i in shares[a]] == items
    for (a, w) in named:
        assert abs(len(shares[a]) - n * w / sum(x for _, x in named)) < 1 + 1e-9


def test_percentage_workloads_must_sum_to_100():
    assert rules.workload_problems([("a", 60), ("b", 30)]) == ["loads must sum to 100"]
    assert rules.workload_problems([("a", 60), ("b", 40)]) == []
    assert "an assignee appears twice" in rules.workload_problems([("a", 50), ("a", 50)])


@pytest.mark.parametrize(("batch", "most", "consensus", "fields"), [
    (3, 5, False, []), (100, 200, False, []), (2, 4, False, ["batchSize"]),
    (101, 202, False, ["batchSize"]), (10, 11, False, ["maxBatchWorkload"]),
    (10, 21, False, ["maxBatchWorkload"]), (10, 12, True, ["consensus"]),
])
def test_pulling_limits(batch, most, consensus, fields):
    assert [f for f, _ in rules.pulling_problems(batch, most, consensus)] == fields


def test_a_pull_never_exceeds_the_batch_nor_the_maximum_open_workload():
    assert rules.pull_size(3, 5, 0) == 3
    assert rules.pull_size(3, 5, 3) == 2
    assert rules.pull_size(3, 5, 5) == 0
    assert rules.pull_size(3, 5, 7) == 0


def test_an_item_outside_the_task_is_not_found():
    assert rules.ItemIsInTask().check(ctx(assignment=None)).reason == "not_found"


def test_an_annotator_may_act_only_on_items_of_their_own_assignment():
    assert rules.ActorOwnsItem().check(ctx()) is None
    assert rules.ActorOwnsItem().check(ctx(email="other@x.com")).reason == "forbidden"


def test_an_item_still_in_the_hidden_queue_belongs_to_no_annotator():
    queue = {"_id": "q", "queue": True, "annotator": None}
    assert rules.ActorOwnsItem().check(ctx(assignment=queue)).reason == "forbidden"


@pytest.mark.parametrize("role", ["manager", "owner"])
def test_managers_and_owners_may_act_on_any_item_of_the_task(role):
    assert rules.ActorOwnsItem().check(ctx(email="boss@x.com", role=role)) is None


@pytest.mark.parametrize("state", ["removed", "locked"])
def test_a_removed_or_locked_assignment_accepts_nothing(state):
    refusal = rules.AssignmentIsOpen().check(ctx(assignment=MINE | {state: True}, role="manager"))
    assert refusal.reason == "conflict" and state in refusal.message


def test_a_status_must_be_one_of_the_tasks_statuses_and_clearing_is_always_allowed():
    assert rules.StatusIsOffered().check(ctx(status="needs-review")) is None
    assert rules.StatusIsOffered().check(ctx(status=None)) is None
    refusal = rules.StatusIsOffered().check(ctx(status="approved"))
    assert refusal.reason == "invalid" and refusal.details["field"] == "status"


def test_bulk_classification_is_refused_on_a_pulling_task():
    refusal = rules.BulkNeedsAllocation().check(TASK | {"allocation": "pulling"}, [])
    assert refusal.reason == "conflict" and "pulling" in refusal.message


def test_bulk_classification_needs_every_selected_item_allocated_and_lists_the_offenders():
    assert rules.BulkNeedsAllocation().check(TASK, []) is None
    offenders = [f"i{n}" for n in range(150)]
    refusal = rules.BulkNeedsAllocation().check(TASK, offenders)
    assert refusal.details["count"] == 150 and len(refusal.details["items"]) == 100


def test_rules_are_checked_in_order_and_the_first_refusal_wins():
    refusal = rules.first_refusal(rules.STATUS_RULES, ctx(assignment=None, status="bogus"))
    assert refusal.reason == "invalid"


def test_status_deltas_move_counts_between_statuses_and_assignments():
    from shared.rules.progress import status_deltas

    assert status_deltas([("a1", None, "completed")]) == {("a1", "completed"): 1}
    assert status_deltas([("a1", "completed", "completed")]) == {}
    assert status_deltas([("a1", "completed", None), ("a2", None, "completed")]) == \
        {("a1", "completed"): -1, ("a2", "completed"): 1}
    assert status_deltas([("a1", None, "x"), ("a1", "x", None)]) == {}


def test_status_keys_are_field_names_and_read_back():
    from shared.rules.progress import progress_counts, status_key

    for status in ("completed", "needs.review", "$x", "ünïcode"):
        key = status_key(status)
        assert "." not in key and not key.startswith("$")
        assert progress_counts({"counts": {"a1": {key: 3}}}) == {("a1", status): 3}
