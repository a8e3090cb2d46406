"""The task service's handlers, run by the platform runner against the in-memory repository:
what each command changes and answers, and what the runner adds (dedup on the command id,
replay of a redelivered command, outcome records, publish after durable, order per item)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.task import handlers
from services.task.bootstrap import runner
from shared.contracts.commands import Classify
from shared.contracts.envelope import Actor
from shared.contracts.events import CommandRejected
from shared.contracts.tasks import (
    ChangeTaskItems,
    CheckInTask,
    CreateTask,
    ItemFilter,
    ItemsPulled,
    ItemStatusChanged,
    PullItems,
    Reassign,
    SetStatus,
    TaskChanged,
)
from tests.fakes.task_repository import FakeTaskRepository

pytestmark = pytest.mark.unit

MANAGER = Actor(user_id="m1", email="boss@example.com", role="manager")
ANN1 = Actor(user_id="u1", email="ann1@example.com", role="annotator")
ANN2 = Actor(user_id="u2", email="ann2@example.com", role="annotator")
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ITEMS = [f"i{n}" for n in range(1, 5)]


class Stack:
    """The service's runner over the fake repository, with what it published."""

    def __init__(self) -> None:
        self.repo = FakeTaskRepository()
        self.published: list[Any] = []
        self.ran: list[str] = []

    async def publish(self, produced: list[Any]) -> None:
        self.published.extend(produced)

    async def run(self, *commands: Any, positions: dict[str, str] | None = None) -> list[Any]:
        batch = handlers.status_batch(commands, positions or {}, self.repo)
        return await runner(self.repo, publish=self.publish, clock=lambda: NOW, batch=batch).run(list(commands))

    async def task(self, **over: Any) -> CreateTask:
        create = CreateTask(**({"task_id": "t1", "project_id": "p1", "dataset_id": "d1", "recipe_id": "r1",
                                "name": "first", "assignees": [ANN1.email, ANN2.email], "actor": MANAGER,
                                "resolved_item_ids": ITEMS} | over))
        await self.run(create)
        return create

    async def holder(self, item: str) -> str:
        return (await self.repo.holding(self.repo.tasks["t1"], item))["_id"]


def status(item: str = "i1", value: str | None = "completed", actor: Actor = ANN1, **over: Any) -> SetStatus:
    return SetStatus(**({"task_id": "t1", "project_id": "p1", "item_id": item, "status": value, "actor": actor}
                        | over))


def check(item: str = "i1", actor: Actor = ANN1) -> CheckInTask:
    inner = Classify(annotation_id="a" * 24, item_id=item, dataset_id="d1", project_id="p1", label="cat", actor=actor)
    return CheckInTask(task_id="t1", project_id="p1", command=inner, actor=actor)


async def test_a_created_task_shares_its_items_between_its_assignees_and_answers_task_changed():
    stack = Stack()
    create = await stack.task()
    [changed] = stack.published
    assert isinstance(changed, TaskChanged) and changed.change == "created" and changed.correlation_id == create.id
    shares = {a["annotator"]: a["itemIds"] for a in stack.repo.assignment_docs.values()}
    assert shares == {ANN1.email: ["i1", "i2"], ANN2.email: ["i3", "i4"]}
    record = stack.repo.operations[create.id]
    assert record["status"] == "succeeded" and record["events"] == [changed.wire()]


async def test_a_task_takes_exactly_the_items_the_gateway_resolved():
    stack = Stack()
    await stack.task(resolved_item_ids=["i3", "i1", "i9"], item_ids=["i1", "elsewhere"])
    shares = {a["annotator"]: a["itemIds"] for a in stack.repo.assignment_docs.values()}
    assert shares == {ANN1.email: ["i3", "i1"], ANN2.email: ["i9"]} and stack.repo.tasks["t1"]["totalItems"] == 3


async def test_a_task_command_whose_items_nothing_resolved_is_refused_and_nothing_is_stored():
    """Published before the gateway resolved items: the task service reads no catalog."""
    stack = Stack()
    await stack.task(resolved_item_ids=None, item_ids=["i1"])
    [rejected] = stack.published
    assert isinstance(rejected, CommandRejected) and rejected.reason == "invalid"
    assert not stack.repo.tasks and not stack.repo.assignment_docs
    stack.published.clear()
    await stack.task(task_id="t2")
    stack.published.clear()
    change = ChangeTaskItems(task_id="t2", project_id="p1", operation="add", filter=ItemFilter(dir="/x"),
                             actor=MANAGER)
    await stack.run(change)
    [rejected] = stack.published
    assert isinstance(rejected, CommandRejected) and rejected.command_type == "ChangeTaskItems"
    assert stack.repo.tasks["t2"]["totalItems"] == len(ITEMS)


async def test_items_added_and_removed_are_those_resolved():
    stack = Stack()
    await stack.task(resolved_item_ids=["i1", "i2"])
    stack.published.clear()
    await stack.run(ChangeTaskItems(task_id="t1", project_id="p1", operation="add", resolved_item_ids=["i2", "i3", "i4"],
                                    actor=MANAGER))
    [changed] = stack.published
    assert isinstance(changed, TaskChanged) and changed.summary == {"added": 2} and changed.task["totalItems"] == 4
    stack.published.clear()
    await stack.run(ChangeTaskItems(task_id="t1", project_id="p1", operation="remove", resolved_item_ids=["i1", "i4"],
                                    actor=MANAGER))
    [changed] = stack.published
    assert changed.summary["removed"] == 2 and changed.task["totalItems"] == 2
    assert sorted(i for a in stack.repo.assignment_docs.values() for i in a["itemIds"]) == ["i2", "i3"]


async def test_a_redelivered_create_is_answered_from_its_record_and_one_that_died_before_it_stores_the_same():
    """The resolved items travel in the command: a redelivery allocates exactly what the first
    delivery did, whatever the catalog holds by then."""
    stack = Stack()
    create = await stack.task()
    [first] = stack.published
    docs = {k: dict(v) for k, v in stack.repo.assignment_docs.items()}
    await stack.run(create)  # redelivered after its outcome was stored: replayed, not rerun
    assert stack.published == [first, first]
    stack.repo.operations.clear()  # died after the effect, before the outcome record
    stack.published.clear()
    await stack.run(create)
    [again] = stack.published
    assert again.id == first.id and again.task["totalItems"] == len(ITEMS)
    assert stack.repo.assignment_docs == docs and list(stack.repo.tasks) == ["t1"]


async def test_a_status_is_written_counted_and_answered():
    stack = Stack()
    await stack.task()
    stack.published.clear()
    cmd = status()
    await stack.run(cmd)
    [changed] = stack.published
    assert isinstance(changed, ItemStatusChanged) and (changed.previous, changed.status) == (None, "completed")
    assert stack.repo.item_statuses["t1:i1"]["status"] == "completed"
    assert await stack.repo.status_counts("t1") == {(await stack.holder("i1"), "completed"): 1}
    assert stack.repo.operations[cmd.id]["event"] == changed.wire()


async def test_a_redelivered_status_is_answered_again_from_its_record_and_counted_once():
    stack = Stack()
    await stack.task()
    cmd = status()
    await stack.run(cmd)
    first = stack.published[-1]
    await stack.run(cmd)  # redelivered: the runner replays the record
    assert stack.published[-1] == first and stack.published[-1].id == first.id
    assert len(stack.repo.item_statuses["t1:i1"]["log"]) == 1
    assert await stack.repo.status_counts("t1") == {(await stack.holder("i1"), "completed"): 1}


async def test_one_command_twice_in_a_batch_runs_once():
    stack = Stack()
    await stack.task()
    stack.published.clear()
    cmd = status()
    await stack.run(cmd, cmd)
    assert len(stack.published) == 1 and len(stack.repo.item_statuses["t1:i1"]["log"]) == 1


async def test_one_items_statuses_in_a_batch_apply_in_order():
    stack = Stack()
    await stack.task()
    stack.published.clear()
    await stack.run(status(value="discard"), status(value="completed"), status("i2", value="discard"))
    assert stack.repo.item_statuses["t1:i1"]["status"] == "completed"
    assert [(e.item_id, e.previous, e.status) for e in stack.published] == [
        ("i1", None, "discard"), ("i1", "discard", "completed"), ("i2", None, "discard")]


async def test_an_if_open_status_on_an_item_holding_one_keeps_it_and_says_so():
    stack = Stack()
    await stack.task()
    await stack.run(status(value="discard"))
    stack.published.clear()
    cmd = status(if_open=True)
    await stack.run(cmd)
    assert stack.published == [] and stack.repo.item_statuses["t1:i1"]["status"] == "discard"
    record = stack.repo.operations[cmd.id]
    assert record["kept"] == "discard" and record["events"] == [] and record["status"] == "succeeded"


async def test_a_status_older_than_the_items_last_written_one_is_superseded():
    stack = Stack()
    await stack.task()
    later, older = status(value="discard"), status(value="completed")
    await stack.run(later, positions={later.id: "000000000000200-0000000000"})
    stack.published.clear()
    await stack.run(older, positions={older.id: "000000000000100-0000000000"})
    assert stack.published == [] and stack.repo.item_statuses["t1:i1"]["status"] == "discard"
    record = stack.repo.operations[older.id]
    assert record["superseded"] is True and record["events"] == []
    assert record["event"]["status"] == "completed"


async def test_an_annotator_may_not_set_the_status_of_anothers_item():
    stack = Stack()
    await stack.task()
    stack.published.clear()
    cmd = status("i3", actor=ANN1)
    await stack.run(cmd)
    [rejected] = stack.published
    assert isinstance(rejected, CommandRejected) and rejected.reason == "forbidden"
    assert "t1:i3" not in stack.repo.item_statuses and stack.repo.operations[cmd.id]["status"] == "rejected"


async def test_an_accepted_check_forwards_the_command_with_its_task_and_leaves_no_record():
    stack = Stack()
    await stack.task()
    stack.published.clear()
    cmd = check("i1")
    await stack.run(cmd)
    [forwarded] = stack.published
    assert isinstance(forwarded, Classify) and forwarded.id == cmd.command.id
    assert (forwarded.task_id, forwarded.assignment_id) == ("t1", await stack.holder("i1"))
    assert forwarded.replace_classes  # a single-class task
    assert cmd.id not in stack.repo.operations and cmd.command.id not in stack.repo.operations


async def test_a_batch_of_accepted_checks_reads_no_outcome_records():
    stack = Stack()
    await stack.task()
    looked_up: list[list[str]] = []
    read = stack.repo.outcomes

    async def counting(ids: Any) -> dict[str, Any]:
        looked_up.append(list(ids))
        return await read(ids)

    stack.repo.outcomes = counting  # type: ignore[method-assign]
    stack.published.clear()
    await stack.run(check("i1"), check("i2"))
    assert looked_up == [] and [type(c) for c in stack.published] == [Classify, Classify]


async def test_a_refused_check_is_the_outcome_of_the_command_checked():
    stack = Stack()
    await stack.task()
    stack.published.clear()
    cmd = check("i3", actor=ANN1)
    await stack.run(cmd)
    [rejected] = stack.published
    assert isinstance(rejected, CommandRejected) and rejected.correlation_id == cmd.command.id
    record = stack.repo.operations[cmd.command.id]
    assert record["commandType"] == "Classify" and record["status"] == "rejected"
    assert cmd.id not in stack.repo.operations


async def test_a_redelivered_refused_check_of_a_command_already_answered_says_nothing_more():
    stack = Stack()
    await stack.task()
    cmd = check("i3", actor=ANN1)
    await stack.run(cmd)
    stack.published.clear()
    await stack.run(cmd)  # redelivered: the refusal stored stands
    assert stack.published == []


async def test_a_pull_hands_out_a_batch_from_the_hidden_queue():
    stack = Stack()
    await stack.task(allocation="pulling", batch_size=2, max_batch_workload=3)
    stack.published.clear()
    cmd = PullItems(task_id="t1", project_id="p1", actor=ANN1)
    await stack.run(cmd)
    [pulled] = stack.published
    assert isinstance(pulled, ItemsPulled) and pulled.item_ids == ["i1", "i2"] and pulled.open_items == 2
    assert await stack.holder("i1") == pulled.assignment_id
    await stack.run(cmd)  # redelivered: the same items, no second batch
    assert stack.published[-1].item_ids == ["i1", "i2"] and await stack.holder("i3") != pulled.assignment_id


async def test_a_reassignment_moves_the_items_and_their_counted_statuses():
    stack = Stack()
    await stack.task()
    await stack.run(status("i1"))
    source = await stack.holder("i1")
    await stack.run(Reassign(task_id="t1", project_id="p1", assignment_id=source, annotator="ann3@example.com",
                             actor=MANAGER))
    target = await stack.holder("i1")
    assert target != source and stack.repo.assignment_docs[source]["removed"]
    assert stack.repo.item_statuses["t1:i1"]["assignmentId"] == target
    assert await stack.repo.status_counts("t1") == {(target, "completed"): 1}
    assert isinstance(stack.published[-1], TaskChanged) and stack.published[-1].change == "reassigned"


async def test_a_change_of_who_holds_what_carries_the_assignments_and_the_allocation_version():
    """Consumers keep their own copy of who holds what from the task facts (issue 19: the
    workflow and the gateway no longer read the task service's collections)."""
    stack = Stack()
    await stack.task(allocation="pulling", batch_size=2, max_batch_workload=3)
    [created] = stack.published
    queue = next(a for a in created.assignments if a.queue)
    assert queue.item_ids == ITEMS and queue.next == 0 and created.allocation_version == 1
    await stack.run(PullItems(task_id="t1", project_id="p1", actor=ANN1))
    pulled = stack.published[-1]
    assert pulled.allocation_version == 2
    stack.published.clear()
    await stack.run(status("i1"))  # a status moves no item: no copy of the assignments
    assert all(not isinstance(e, TaskChanged) or e.assignments is None for e in stack.published)


def test_every_task_command_has_its_handler_in_the_table():
    from typing import get_args

    from shared.contracts.tasks import TaskCommand

    commands = get_args(get_args(TaskCommand)[0])
    assert set(handlers.table()) == set(commands)
