"""The task service's allocation documents (who holds each item, read by an item command's
check) say what the assignments say after every command that moves items: create, add and
remove items, redistribute, reassign, pull and return, each also redelivered."""

from __future__ import annotations

import pytest

from shared.contracts.tasks import (
    ChangeTaskItems,
    ItemStatusChanged,
    PullItems,
    Reassign,
    Redistribute,
    ReturnItems,
    WorkloadUnit,
)
from tests.unit.test_task_handlers import ANN1, ANN2, MANAGER, Stack, status

pytestmark = pytest.mark.unit


def from_assignments(stack: Stack) -> dict[str, str]:
    """item -> the assignment holding it (an assignment over the hidden queue, whose items
    before its cursor were handed out), as the assignments' item lists say."""
    held: dict[str, str] = {}
    docs = sorted(stack.repo.assignment_docs.values(), key=lambda a: not a.get("queue"))
    for a in docs:
        if a["taskId"] == "t1" and a["active"]:
            held.update(dict.fromkeys(a["itemIds"], a["_id"]))
    return held


async def agrees(stack: Stack) -> None:
    expected = from_assignments(stack)
    task = stack.repo.tasks["t1"]
    for item in [*(f"i{n}" for n in range(1, 7)), "not-in-the-task"]:
        holder = await stack.repo.holding(task, item)
        assert (holder["_id"] if holder else None) == expected.get(item), item


async def twice(stack: Stack, cmd) -> None:
    """The command, then its redelivery after a crash before its outcome was stored."""
    await stack.run(cmd)
    stack.repo.operations.pop(cmd.id, None)
    await stack.run(cmd)


async def test_a_distributed_tasks_items_moved_every_way():
    stack = Stack()
    await stack.task(resolved_item_ids=["i1", "i2", "i3", "i4"])
    await agrees(stack)
    await twice(stack, ChangeTaskItems(task_id="t1", project_id="p1", operation="add", resolved_item_ids=["i5", "i6"],
                                       actor=MANAGER))
    await agrees(stack)
    await twice(stack, ChangeTaskItems(task_id="t1", project_id="p1", operation="remove", resolved_item_ids=["i2"],
                                       actor=MANAGER))
    await agrees(stack)
    source = (await stack.repo.holding(stack.repo.tasks["t1"], "i1"))["_id"]
    await stack.run(Redistribute(task_id="t1", project_id="p1", assignment_id=source, actor=MANAGER,
                                 workload=[WorkloadUnit(assignee_id="ann3@example.com", load=50),
                                           WorkloadUnit(assignee_id=ANN2.email, load=50)]))
    await agrees(stack)
    source = (await stack.repo.holding(stack.repo.tasks["t1"], "i1"))["_id"]
    await twice(stack, Reassign(task_id="t1", project_id="p1", assignment_id=source, annotator="ann4@example.com",
                                actor=MANAGER))
    await agrees(stack)


async def test_a_pulling_tasks_items_pulled_and_returned():
    stack = Stack()
    await stack.task(allocation="pulling", batch_size=2, max_batch_workload=3)
    await agrees(stack)
    await stack.run(PullItems(task_id="t1", project_id="p1", actor=ANN1))
    await agrees(stack)
    mine = (await stack.repo.holding(stack.repo.tasks["t1"], "i1"))["_id"]
    assert mine != (await stack.repo.holding(stack.repo.tasks["t1"], "i3"))["_id"]
    await twice(stack, ReturnItems(task_id="t1", project_id="p1", assignment_id=mine, item_ids=["i2"],
                                   actor=MANAGER))
    await agrees(stack)
    assert (await stack.repo.holding(stack.repo.tasks["t1"], "i2"))["queue"]


async def test_a_task_made_before_allocation_documents_is_checked_from_documents_built_once():
    stack = Stack()
    await stack.task()
    stack.repo.allocation_docs.clear()
    stack.repo.allocated.clear()
    await agrees(stack)
    assert "t1" in stack.repo.allocated


async def test_a_status_batch_reads_its_items_holders_at_once_and_asks_only_for_the_others():
    stack = Stack()
    await stack.task()
    asked: list[str] = []
    holding = stack.repo.holding

    async def counted(task, item):
        asked.append(item)
        return await holding(task, item)
    stack.repo.holding = counted
    stack.repo.allocation_docs.pop("t1:i2")  # as if made before: built when asked
    stack.repo.allocated.clear()
    await stack.run(status("i1"), status("i2"), status("i3", actor=ANN2))
    assert asked == ["i2"]
    assert {e.item_id for e in stack.published if isinstance(e, ItemStatusChanged)} == {"i1", "i2", "i3"}
