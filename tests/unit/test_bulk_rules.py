"""The bulk classification rules, one by one, and the annotation service's class plan."""

from __future__ import annotations

import pytest

from services.annotation.bulk.plan import plan_classes
from services.task.bulk import rules
from shared.contracts.bulk import BulkItem, ClassifyItems, annotation_id
from shared.contracts.envelope import Actor

pytestmark = pytest.mark.unit

TASK = {"_id": "t", "allocation": "distribution",
        "availableActions": [{"action": "completed"}, {"action": "needs-review"}]}
A1 = {"_id": "a1", "annotator": "ann1@x.com"}
A2 = {"_id": "a2", "annotator": "ann2@x.com"}
LOCKED = {"_id": "a3", "annotator": "ann1@x.com", "locked": True}


def test_a_bulk_is_refused_on_a_pulling_task():
    refusal = rules.BulkNeedsAllocation().check(TASK | {"allocation": "pulling"}, [])
    assert refusal and refusal.reason == "conflict" and "pulling" in refusal.message


def test_a_bulk_with_unallocated_items_is_refused_listing_the_first_100_and_the_count():
    unallocated = [f"i{n}" for n in range(150)]
    refusal = rules.BulkNeedsAllocation().check(TASK, unallocated)
    assert refusal.details == {"items": unallocated[:100], "count": 150}


def test_an_annotator_may_act_only_on_items_of_their_own_open_assignments():
    holders = {"i1": A1, "i2": A2, "i3": LOCKED}
    check = rules.ActorMayActOnEveryItem().check
    assert check("annotator", "ann1@x.com", ["i1"], holders) is None
    refusal = check("annotator", "ann1@x.com", ["i1", "i2", "i3"], holders)
    assert refusal.reason == "forbidden" and refusal.details == {"items": ["i2", "i3"], "count": 2}
    assert check("manager", "m@x.com", ["i1", "i2"], holders) is None
    assert check("manager", "m@x.com", ["i3"], holders) is not None


def test_classify_and_set_status_defaults_to_completed_and_takes_only_the_tasks_statuses():
    assert rules.status_for("classify", "needs-review") is None
    assert rules.status_for("classify-and-set-status", None) == "completed"
    assert rules.StatusIsOfferedForBulk().check(TASK, "needs-review") is None
    assert rules.StatusIsOfferedForBulk().check(TASK, "approved").reason == "invalid"


def test_only_items_whose_status_differs_change_and_the_replaced_status_is_kept():
    holders = {"i1": A1, "i2": A1, "i3": A2}
    docs = {"i1": {"status": "completed"}, "i2": {"status": "discard"}, "i3": {"status": None}}
    changes = rules.status_changes(["i1", "i2", "i3"], holders, "completed", docs)
    assert [(c.item_id, c.previous, c.existed) for c in changes] == [("i2", "discard", True),
                                                                     ("i3", None, True)]
    assert rules.status_changes(["i1"], holders, None, docs) == []


def _cmd(replace: bool) -> ClassifyItems:
    return ClassifyItems(actor=Actor(user_id="u", email="u@x.com"), bulk_id="b", task_id="t",
                         project_id="p", dataset_id="d", label="polo", replace_classes=replace,
                         items=[BulkItem(item_id=i, assignment_id="a1") for i in ("i1", "i2", "i3")])


def test_a_multi_class_bulk_skips_items_that_already_carry_the_label():
    live = {"i1": [{"_id": "x", "label": "polo"}], "i2": [{"_id": "y", "label": "jeans"}]}
    plan = plan_classes(_cmd(False), live)
    assert plan == {"classified": [["i2", "a1"], ["i3", "a1"]], "unchanged": ["i1"], "replaced": {}}


def test_a_single_class_bulk_replaces_other_classes_and_skips_items_classified_alike():
    live = {"i1": [{"_id": "x", "label": "polo"}],
            "i2": [{"_id": "y", "label": "jeans"}],
            "i3": [{"_id": "z", "label": "polo"}, {"_id": "w", "label": "jeans"}]}
    plan = plan_classes(_cmd(True), live)
    assert plan["unchanged"] == ["i1"]
    assert plan["replaced"] == {"i2": ["y"], "i3": ["z", "w"]}


def test_a_bulk_annotation_id_is_stable_per_bulk_and_item():
    assert annotation_id("b", "i1") == annotation_id("b", "i1") != annotation_id("b", "i2")
    assert len(annotation_id("b", "i1")) == 24
