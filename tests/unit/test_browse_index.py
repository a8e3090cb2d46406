"""The task browser's in-memory index: filters, sorting, and following the platform's events."""

from __future__ import annotations

import pytest

from gateway.browse_index import Rows, TaskIndex
from gateway.browse_rules import BrowseFilter

pytestmark = pytest.mark.unit

API = "http://h/api/v1"


def rows() -> Rows:
    items = [{"_id": f"i{n}", "name": name, "dir": d, "createdAt": f"2024-01-0{9 - n}T00:00:00.000Z",
              "thumbnailFileId": "f" if n % 2 else None}
             for n, (name, d) in enumerate([("b.jpg", "/x"), ("A.jpg", "/x/y"), ("c.jpg", "/xy"),
                                            ("d.jpg", "/"), ("e.jpg", "/x")])]
    items.append({"_id": "other", "name": "0.jpg", "dir": "/", "createdAt": ""})  # not in the task
    holders = {"i0": "a1", "i1": "a1", "i2": "a2", "i3": "a2", "i4": None}
    return Rows(items, holders, {"a1": "ann1@x.io", "a2": "ann2@x.io"},
                statuses={"i0": "completed", "i2": "discard"},
                classes={"i0": {"c0": "men.polo"}, "i1": {"c1": "men.jeans", "c2": "women"}},
                offered=["completed", "discard"])


def names(index: TaskIndex, **f) -> list[str]:
    return [index.names[p] for p in index.select(BrowseFilter(**f))]


def test_items_of_the_task_in_name_order_case_insensitive():
    index = TaskIndex(rows())
    assert names(index) == ["A.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"]
    assert names(index, sort="-name") == ["e.jpg", "d.jpg", "c.jpg", "b.jpg", "A.jpg"]
    assert names(index, sort="createdAt") == ["e.jpg", "d.jpg", "c.jpg", "A.jpg", "b.jpg"]
    assert names(index, sort="-createdAt")[0] == "b.jpg"


@pytest.mark.parametrize("f, expected", [
    ({"status": "completed"}, ["b.jpg"]),
    ({"status": "none"}, ["A.jpg", "d.jpg", "e.jpg"]),
    ({"label": "men"}, ["A.jpg", "b.jpg"]),
    ({"label": "men.polo"}, ["b.jpg"]),
    ({"assignee": "ann2@x.io"}, ["c.jpg", "d.jpg"]),
    ({"annotated": True}, ["A.jpg", "b.jpg"]),
    ({"annotated": False}, ["c.jpg", "d.jpg", "e.jpg"]),
    ({"name": "a.j"}, ["A.jpg"]),
    ({"dir": "/x"}, ["A.jpg", "b.jpg", "e.jpg"]),
    ({"assignment_id": "a1"}, ["A.jpg", "b.jpg"]),
    ({"dir": "/x", "status": "none", "annotated": False}, ["e.jpg"]),
])
def test_each_filter_and_their_combination(f, expected):
    assert names(TaskIndex(rows()), **f) == expected


def test_a_row_says_everything_a_tile_shows():
    index = TaskIndex(rows())
    row = index.row(index.pos["i1"], API)
    assert row == {"id": "i1", "name": "A.jpg", "dir": "/x/y", "createdAt": "2024-01-08T00:00:00.000Z",
                   "thumbnail": f"{API}/items/i1/thumbnail", "stream": f"{API}/items/i1/stream",
                   "status": None, "assignmentId": "a1", "assignee": "ann1@x.io",
                   "classes": [{"annotationId": "c1", "label": "men.jeans"},
                               {"annotationId": "c2", "label": "women"}]}
    assert index.row(index.pos["i4"], API)["assignee"] is None
    assert index.row(index.pos["i0"], API)["thumbnail"] is None


def test_status_events_set_and_clear():
    index = TaskIndex(rows())
    assert index.apply({"type": "ItemStatusChanged", "taskId": "t", "itemId": "i3", "assignmentId": "a2",
                        "status": "needs-review"})
    assert names(index, status="needs-review") == ["d.jpg"] and "needs-review" in index.statuses()
    index.apply({"type": "ItemStatusChanged", "taskId": "t", "itemId": "i0", "assignmentId": "a1"})
    assert names(index, status="completed") == []


def test_class_events_add_replace_relabel_and_remove():
    index = TaskIndex(rows())
    index.apply({"type": "ItemClassified", "itemId": "i2", "replaced": [],
                 "annotation": {"id": "c9", "type": "class", "label": "men.polo"}})
    assert names(index, label="men.polo") == ["b.jpg", "c.jpg"]
    index.apply({"type": "ItemClassified", "itemId": "i0", "replaced": ["c0"],
                 "annotation": {"id": "c8", "type": "class", "label": "women"}})
    assert names(index, label="men.polo") == ["c.jpg"] and names(index, label="women") == ["A.jpg", "b.jpg"]
    index.apply({"type": "AnnotationUpdated", "itemId": "i2", "annotation": {"id": "c9", "label": "women"}})
    assert names(index, label="men") == ["A.jpg"]
    index.apply({"type": "AnnotationDeleted", "itemId": "i1", "annotationId": "c1"})
    index.apply({"type": "AnnotationDeleted", "itemId": "i1", "annotationId": "c2"})
    assert names(index, annotated=False) == ["A.jpg", "d.jpg", "e.jpg"]


def test_an_item_of_another_task_changes_nothing():
    index = TaskIndex(rows())
    assert index.apply({"type": "ItemClassified", "itemId": "other", "annotation": {"id": "z", "type": "class",
                                                                                     "label": "women"}})
    assert names(index, label="women") == ["A.jpg"]


def test_pulls_and_returns_move_items_between_annotators_and_the_queue():
    index = TaskIndex(rows())
    index.apply({"type": "ItemsPulled", "taskId": "t", "assignmentId": "a3", "itemIds": ["i4"],
                 "actor": {"userId": "u", "email": "ann3@x.io"}})
    assert names(index, assignee="ann3@x.io") == ["e.jpg"]
    index.apply({"type": "TaskChanged", "taskId": "t", "change": "items-returned",
                 "summary": {"returned": ["i4"]}, "task": {}})
    assert index.row(index.pos["i4"], API)["assignmentId"] is None


def test_changes_it_cannot_follow_ask_for_a_rebuild():
    index = TaskIndex(rows())
    assert not index.apply({"type": "TaskChanged", "taskId": "t", "change": "items-add", "task": {}})
    assert not index.apply({"type": "ItemStatusChanged", "taskId": "t", "itemId": "new", "assignmentId": "a1",
                            "status": "completed"})
    assert index.apply({"type": "TaskChanged", "taskId": "t", "change": "statuses",
                        "task": {"availableActions": [{"action": "approved"}]}})
    assert index.statuses() == {"approved", "completed", "discard"}


def test_a_rebuild_can_take_the_items_facts_from_the_previous_index():
    before = TaskIndex(rows())
    again = rows()
    again.items = list(before.item_facts().values())
    after = TaskIndex(again)
    assert [after.row(p, API) for p in range(after.n)] == [before.row(p, API) for p in range(before.n)]
