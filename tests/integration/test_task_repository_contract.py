"""One contract for the task service's repository (its non-bulk part), run against the
in-memory fake (tests/fakes/task_repository.py, what the handler tests use) and the MongoDB
one on a real MongoDB-wire server: the fake stays honest."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from services.task.repository import UNREAD, MongoTaskRepository, TaskRepository, Written, connect
from tests.fakes.task_repository import FakeTaskRepository

pytestmark = pytest.mark.integration

AT = "2026-01-01T00:00:00.000Z"


@dataclass
class Store:
    """The repository under test and how to put data in it that it does not write itself:
    a task made before allocation documents were kept."""

    repo: TaskRepository

    async def earlier_task(self, task: dict[str, Any], assignments: list[dict[str, Any]]) -> None:
        task, assignments = copy.deepcopy(task), copy.deepcopy(assignments)
        if isinstance(self.repo, FakeTaskRepository):
            self.repo.tasks[task["_id"]] = task
            self.repo.assignment_docs.update({a["_id"]: a for a in assignments})
        else:
            await self.repo.db.assignments.insert_many(assignments)
            await self.repo.db.tasks.insert_one(task)


@pytest.fixture(params=["fake", "mongodb"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "fake":
        yield Store(FakeTaskRepository())
        return
    mongo: MongoTaskRepository = connect(request.getfixturevalue("mongodb_url"), f"t_{uuid.uuid4().hex[:10]}")
    try:
        yield Store(mongo)
    finally:
        await mongo.client.drop_database(mongo.db.name)
        mongo.close()


def assignment(n: str, annotator: str | None, items: list[str], queue: bool = False, task: str = "t1") -> dict:
    doc = {"_id": n, "taskId": task, "annotator": annotator, "itemIds": items, "active": True,
           "removed": False, "locked": False, "queue": queue, "createdAt": AT}
    return doc | ({"next": 0} if queue else {})


TASK = {"_id": "t1", "projectId": "p1", "datasetId": "d1", "allocation": "distribution"}
A1 = assignment("a1", "ann1@x.io", ["i1", "i2"])
A2 = assignment("a2", "ann2@x.io", ["i3"])
QUEUE = assignment("q1", None, ["i4", "i5", "i6"], queue=True)


def held_by(holder: dict[str, Any] | None) -> tuple[Any, ...] | None:
    return None if holder is None else (holder["_id"], holder.get("annotator"), bool(holder.get("queue")))


async def test_an_outcome_is_stored_once_and_read_back_by_command_id(store):
    repo = store.repo
    first = {"_id": "c1", "commandType": "CreateTask", "status": "succeeded", "events": []}
    await repo.save_outcomes([first])
    await repo.save_outcomes([first | {"status": "rejected"}, first | {"_id": "c2"}])
    found = await repo.outcomes(["c1", "c2", "c3"])
    assert sorted(found) == ["c1", "c2"] and found["c1"]["status"] == "succeeded"
    assert await repo.outcomes([]) == {}


async def test_a_task_is_inserted_once_with_its_assignments(store):
    repo = store.repo
    await repo.insert_task(TASK, [A1, A2])
    await repo.insert_task(TASK | {"name": "again"}, [A1 | {"annotator": "other"}])  # a redelivery
    assert (await repo.task("t1"))["projectId"] == "p1" and "name" not in await repo.task("t1")
    assert (await repo.cached_task("t1"))["_id"] == "t1"
    assert await repo.task("nope") is None
    listed = await repo.assignments("t1")
    assert [a["_id"] for a in listed] == ["a1", "a2"] and all("itemIds" not in a for a in listed)
    assert [a["itemIds"] for a in await repo.assignments("t1", with_items=True)] == [["i1", "i2"], ["i3"]]
    assert (await repo.assignment("a1"))["annotator"] == "ann1@x.io"
    assert await repo.assignment("nope") is None


async def test_a_task_update_answers_the_task_after_it_and_the_allocation_version_counts_up(store):
    repo = store.repo
    await repo.insert_task(TASK, [A1])
    assert (await repo.update_task("t1", {"$set": {"name": "n2"}}))["name"] == "n2"
    assert await repo.update_task("nope", {"$set": {"name": "n2"}}) is None
    assert await repo.bump_allocation("t1") == 1
    assert await repo.bump_allocation("t1") == 2
    assert (await repo.task("t1"))["allocationVersion"] == 2


async def test_who_holds_an_item_an_assignment_before_the_queue_none_outside_the_task(store):
    repo = store.repo
    await repo.insert_task(TASK, [A1, A2, QUEUE | {"itemIds": ["i1", "i4"]}])
    assert held_by(await repo.holding(TASK, "i1")) == ("a1", "ann1@x.io", False)
    assert held_by(await repo.holding(TASK, "i3")) == ("a2", "ann2@x.io", False)
    assert held_by(await repo.holding(TASK, "i4")) == ("q1", None, True)
    assert await repo.holding(TASK, "elsewhere") is None
    holder = await repo.holding(TASK, "i1")
    assert "itemIds" not in holder and not holder["locked"] and not holder["removed"] and holder["active"]


async def test_a_batchs_allocation_documents_are_read_at_once(store):
    repo = store.repo
    await repo.insert_task(TASK, [A1, QUEUE])
    found = await repo.allocations(["t1:i1", "t1:i5", "t1:elsewhere", "other:i1"])
    assert {k: held_by(h) for k, h in found.items()} == {"t1:i1": ("a1", "ann1@x.io", False),
                                                        "t1:i5": ("q1", None, True)}
    assert await repo.allocations([]) == {}


async def test_allocation_moves_items_adds_new_ones_and_removes_them(store):
    repo = store.repo
    await repo.insert_task(TASK, [A1, A2])
    await repo.allocate("t1", ["i1"], A2)
    assert held_by(await repo.holding(TASK, "i1")) == ("a2", "ann2@x.io", False)
    await repo.allocate("t1", ["i1"], A2)  # a redelivery
    assert held_by(await repo.holding(TASK, "i1")) == ("a2", "ann2@x.io", False)
    await repo.allocate("t1", ["new1", "new2"], A1, new=True)
    await repo.allocate("t1", ["new1"], A1, new=True)  # a redelivery
    assert held_by(await repo.holding(TASK, "new2")) == ("a1", "ann1@x.io", False)
    await repo.allocate("t1", ["new1", "i3"], None)
    assert await repo.holding(TASK, "new1") is None and await repo.holding(TASK, "i3") is None
    await repo.allocate("t1", [], A1)


async def test_a_task_made_before_allocation_documents_has_them_built_on_first_use(store):
    repo = store.repo
    await store.earlier_task(TASK, [A1, A2, QUEUE, assignment("gone", "ann3@x.io", ["i9"]) | {"active": False}])
    assert held_by(await repo.holding(TASK, "i2")) == ("a1", "ann1@x.io", False)
    assert held_by(await repo.holding(TASK, "i5")) == ("q1", None, True)
    assert await repo.holding(TASK, "i9") is None  # an inactive assignment holds nothing
    await repo.allocate("t1", ["i3"], A1)  # once built, moves are written as for any task
    assert held_by(await repo.holding(TASK, "i3")) == ("a1", "ann1@x.io", False)
    assert await repo.holding(TASK, "elsewhere") is None


async def test_a_move_before_the_build_is_what_the_built_documents_say(store):
    repo = store.repo
    await store.earlier_task(TASK, [A1, A2])
    await repo.allocate("t1", ["i1"], A2)  # nothing to update yet
    await repo.set_assignment("a1", {"$set": {"itemIds": ["i2"]}})
    await repo.set_assignment("a2", {"$push": {"itemIds": {"$each": ["i1"]}}})
    assert held_by(await repo.holding(TASK, "i1")) == ("a2", "ann2@x.io", False)


async def test_assignments_are_inserted_once_and_changed(store):
    repo = store.repo
    await repo.insert_task(TASK, [])
    await repo.insert_assignment(A1)
    await repo.insert_assignment(A1 | {"annotator": "other"})
    await repo.set_assignment("a1", {"$push": {"itemIds": {"$each": ["i7", "i8"]}}})
    await repo.set_assignment("a1", {"$set": {"locked": True}})
    stored = await repo.assignment("a1")
    assert stored["annotator"] == "ann1@x.io" and stored["itemIds"] == ["i1", "i2", "i7", "i8"] and stored["locked"]


async def test_a_pull_moves_the_queues_cursor_and_a_return_puts_items_back_at_it(store):
    repo = store.repo
    await repo.insert_task(TASK, [QUEUE, assignment("a1", "ann1@x.io", [])])
    assert await repo.take_from_queue("q1", 2) == ["i4", "i5"]
    await repo.set_assignment("a1", {"$push": {"itemIds": {"$each": ["i4", "i5"]}}})
    assert await repo.return_to_queue("q1", "a1", ["i5", "not-held"], "c1") == ["i5"]
    assert await repo.return_to_queue("q1", "a1", ["i5", "not-held"], "c1") == []  # a redelivery
    assert (await repo.assignment("a1"))["itemIds"] == ["i4"]
    queue = await repo.assignment("q1")
    assert queue["itemIds"][queue["next"]:] == ["i5", "i6"]
    assert await repo.take_from_queue("q1", 5) == ["i5", "i6"]
    assert await repo.take_from_queue("q1", 1) == []


def status_doc(command_id: str, status: str | None, position: str | None = None, item: str = "i1") -> tuple[dict, dict]:
    doc = {"_id": f"t1:{item}", "taskId": "t1", "itemId": item, "assignmentId": "a1", "status": status,
           "creator": "ann1@x.io", "timestamp": AT, "lastCommandId": command_id}
    if position:
        doc["position"] = position
    log = {"action": "created" if status else "deleted",
           "status": {"taskId": "t1", "assignmentId": "a1", "status": status, "creator": "ann1@x.io", "timestamp": AT}}
    return doc, log


async def test_a_status_is_written_once_per_command_and_read_back(store):
    repo = store.repo
    assert await repo.write_status(*status_doc("c1", "completed")) == Written(None, "a1")
    assert await repo.write_status(*status_doc("c1", "completed")) == Written(None, "a1")  # a redelivery
    assert await repo.write_status(*status_doc("c2", "discard"), before=UNREAD) == Written("completed", "a1")
    assert await repo.write_status(*status_doc("c3", None)) == Written("discard", "a1")
    await repo.write_status(*status_doc("c4", "completed", item="i2"))
    assert sorted(await repo.statuses("t1", ["i1", "i2", "i3"])) == ["i2"]  # a cleared status is none
    befores = await repo.status_befores(["t1:i1", "t1:none"])
    assert list(befores) == ["t1:i1"] and befores["t1:i1"]["lastCommandId"] == "c3"
    assert await repo.status_befores([]) == {}


async def test_a_status_command_older_than_the_items_last_written_one_is_superseded(store):
    repo = store.repo
    assert await repo.write_status(*status_doc("late", "completed", "2-0")) == Written(None, "a1")
    assert await repo.write_status(*status_doc("early", "discard", "1-0")) is None
    assert (await repo.statuses("t1", ["i1"]))["i1"]["status"] == "completed"


async def test_statuses_move_with_their_items_to_another_assignment(store):
    repo = store.repo
    await repo.write_status(*status_doc("c1", "completed"))
    await repo.move_statuses("t1", ["i1", "no-status"], "a2")
    assert (await repo.statuses("t1", ["i1"]))["i1"]["assignmentId"] == "a2"


async def test_a_commands_count_is_made_once_even_when_handled_again(store):
    repo = store.repo
    await repo.insert_task(TASK, [A1])
    await repo.count("t1", "c1", {("a1", "completed"): 1})
    await repo.count("t1", "c1", {("a1", "completed"): 1})  # before its outcome is stored
    await repo.count("t1", "c2", {("a1", "completed"): -1, ("a1", "discard"): 1})
    await repo.count("t1", "c3", {})
    assert await repo.status_counts("t1") == {("a1", "discard"): 1}
    await repo.save_outcomes([{"_id": "c2", "commandType": "SetStatus", "status": "succeeded"}])
    await repo.count("t1", "c4", {("a1", "completed"): 1})
    assert await repo.status_counts("t1") == {("a1", "discard"): 1, ("a1", "completed"): 1}
