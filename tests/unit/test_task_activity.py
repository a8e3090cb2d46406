"""Which facts a task's activity connection is sent: its own task's, and a burst collapsed."""

from __future__ import annotations

import json

from gateway.task_activity import TaskActivity, collapse, task_of


def fact(kind: str, n: int = 0, **more: object) -> dict:
    return {"type": kind, "id": f"e{n}", **more}


def test_a_classification_belongs_to_the_task_it_was_made_in() -> None:
    assert task_of(fact("ItemStatusChanged", taskId="t1")) == "t1"
    assert task_of(fact("ItemClassified", annotation={"metadata": {"system": {"taskId": "t2"}}})) == "t2"
    assert task_of(fact("ItemClassified", annotation={"metadata": {"system": {}}})) is None


def test_a_burst_of_per_item_facts_becomes_one_resync_and_the_whole_task_facts_stay() -> None:
    few = [fact("ItemStatusChanged", k) for k in range(3)]
    assert collapse(few, 0, burst=3) == few
    many = [fact("ItemClassified", k) for k in range(3)] + [fact("BulkProgressed", 9)] + \
        [fact("ItemStatusChanged", k) for k in range(2)]
    assert collapse(many, 0, burst=3) == [fact("BulkProgressed", 9), {
        "type": "Resync", "facts": 5, "lost": 0, "byType": {"ItemClassified": 3, "ItemStatusChanged": 2}}]
    assert collapse(few[:1], 4)[-1] == {"type": "Resync", "facts": 5, "lost": 4, "byType": {"ItemStatusChanged": 1}}


def test_only_facts_of_a_watched_task_reach_its_connections() -> None:
    activity = TaskActivity()
    raws = [json.dumps(b).encode() for b in (fact("ItemStatusChanged", 1, taskId="t1"),
                                            fact("ItemStatusChanged", 2, taskId="t2"),
                                            fact("MovedOn", 3, taskId="t1"), fact("CommandRejected", 4))]
    with activity.subscribe("t1") as listener:
        activity.deliver(raws)
        assert [f["id"] for f in listener.facts] == ["e1"]
    assert not activity.listeners
