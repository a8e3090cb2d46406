"""The workflow service's handlers, run by the platform runner against the in-memory
repository (tests/fakes/workflow_repository.py): what each command answers and causes, and
what the runner adds (dedup, replay of a redelivered command, outcome records, publish after
durable), and a move that follows a classification waiting for its outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.workflow import handlers
from services.workflow.bootstrap import runner
from services.workflow.reactions import Reactions
from shared.contracts.envelope import Actor
from shared.contracts.events import CommandRejected
from shared.contracts.tasks import (
    AssignmentFact,
    ItemsPulled,
    ItemStatusChanged,
    SetStatus,
    TaskChanged,
)
from shared.contracts.workflow import (
    ChangeWorkflowSettings,
    Heartbeat,
    LeaveTask,
    LeftTask,
    MovedOn,
    MoveOn,
    QueueChanged,
    QueueSynced,
    StepBack,
    SteppedBack,
    SyncQueue,
    WorkflowSettingsChanged,
)
from tests.fakes.workflow_repository import FakeWorkflowRepository, Outlet

pytestmark = pytest.mark.unit

ANN = Actor(user_id="u1", email="ann@example.com", role="annotator")
OTHER = Actor(user_id="u2", email="bob@example.com", role="annotator")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ITEMS = ["i1", "i2", "i3"]


def seeded(single_class: bool = True, statuses: dict[str, str] | None = None) -> FakeWorkflowRepository:
    repo = FakeWorkflowRepository()
    repo.tasks["t1"] = {"_id": "t1", "projectId": "p1", "allocation": "distribution", "singleClass": single_class,
                        "availableActions": [{"action": "completed"}], "allocationVersion": 1}
    repo.assignment_docs["a1"] = {"_id": "a1", "taskId": "t1", "annotator": ANN.email, "itemIds": ITEMS,
                                  "active": True}
    for item, status in (statuses or {}).items():
        repo.item_statuses[("t1", item)] = {"taskId": "t1", "itemId": item, "assignmentId": "a1", "status": status}
    return repo


def running(repo: FakeWorkflowRepository, clock=lambda: NOW) -> tuple[Any, Outlet]:
    out = Outlet()
    return runner(repo, publish=out, clock=clock), out


async def test_a_first_command_seeds_the_task_from_its_data_and_settings_change() -> None:
    repo = seeded()
    run, out = running(repo)
    cmd = ChangeWorkflowSettings(actor=ANN, task_id="t1", project_id="p1", auto_next=True, auto_complete=True)
    [changed, synced] = await run.run([cmd])
    assert isinstance(changed, WorkflowSettingsChanged) and changed.auto_next and changed.auto_complete
    assert isinstance(synced, QueueChanged) and synced.next_item_id == "i1" and synced.open_items == 3
    assert out.published == [changed, synced]
    assert repo.operations[cmd.id]["status"] == "succeeded"
    assert repo.operations[cmd.id]["event"]["type"] == "WorkflowSettingsChanged"


async def test_settings_the_task_does_not_allow_are_refused() -> None:
    run, _ = running(seeded(single_class=False))
    cmd = ChangeWorkflowSettings(actor=ANN, task_id="t1", project_id="p1", auto_next=True, auto_complete=False)
    [refused] = await run.run([cmd])  # the seeding's facts go with an answer, not a refusal
    assert isinstance(refused, CommandRejected) and refused.reason == "conflict"


async def test_commands_in_a_task_that_is_not_there_or_not_theirs_are_refused() -> None:
    run, _ = running(seeded())
    [missing] = await run.run([MoveOn(actor=ANN, task_id="t9", project_id="p1")])
    [elsewhere] = await run.run([MoveOn(actor=ANN, task_id="t1", project_id="p2")])
    [stranger] = await run.run([StepBack(actor=OTHER, task_id="t1", project_id="p1")])
    assert [e.reason for e in (missing, elsewhere, stranger)] == ["not_found"] * 3
    assert "no assignment" in stranger.message


async def test_moving_on_with_auto_complete_completes_the_item_left_through_the_status_stream() -> None:
    repo = seeded()
    run, out = running(repo)
    await run.run([ChangeWorkflowSettings(actor=ANN, task_id="t1", project_id="p1", auto_next=True,
                                          auto_complete=True)])
    [moved, status] = await run.run([MoveOn(actor=ANN, task_id="t1", project_id="p1", from_item_id="i1")])
    assert isinstance(moved, MovedOn) and (moved.item_id, moved.completed_item_id) == ("i2", "i1")
    assert isinstance(status, SetStatus) and (status.item_id, status.status, status.if_open) == ("i1", "completed", True)
    assert repo.notes[status.id] == ("t1", ANN.email, "i1")  # kept before it was published
    assert out.published[-2:] == [moved, status]


async def test_moving_on_skips_an_item_the_task_service_already_holds_done() -> None:
    run, _ = running(seeded(statuses={"i2": "completed"}))
    [moved, _] = await run.run([MoveOn(actor=ANN, task_id="t1", project_id="p1", from_item_id="i1")])
    assert moved.item_id == "i3"


async def test_a_step_back_returns_to_the_item_left_and_with_nothing_before_it_is_refused() -> None:
    run, _ = running(seeded())
    [refused] = await run.run([StepBack(actor=ANN, task_id="t1", project_id="p1")])
    assert isinstance(refused, CommandRejected) and refused.reason == "conflict"
    await run.run([MoveOn(actor=ANN, task_id="t1", project_id="p1", from_item_id="i1")])
    [back] = await run.run([StepBack(actor=ANN, task_id="t1", project_id="p1")])
    assert isinstance(back, SteppedBack) and back.item_id == "i1"


async def test_heartbeat_leave_and_sync_answer_with_their_facts() -> None:
    run, _ = running(seeded())
    [synced, *queue_facts] = await run.run([SyncQueue(actor=ANN, task_id="t1", project_id="p1")])
    assert isinstance(synced, QueueSynced) and synced.annotators == 1 and len(queue_facts) == 1
    [beat] = await run.run([Heartbeat(actor=ANN, task_id="t1", project_id="p1")])
    assert beat.type == "LeasesRenewed"
    [left] = await run.run([LeaveTask(actor=ANN, task_id="t1", project_id="p1")])
    assert isinstance(left, LeftTask) and left.returning_item_ids == []


async def test_a_redelivered_command_is_answered_from_its_record_and_not_run_again() -> None:
    repo = seeded()
    run, out = running(repo)
    cmd = MoveOn(actor=ANN, task_id="t1", project_id="p1", from_item_id="i1")
    first = await run.run([cmd, cmd])  # twice in a batch: once
    again = await run.run([cmd])  # redelivered: the same messages, the queue not moved again
    assert [e.id for e in again] == [e.id for e in first]
    assert repo.queues[("t1", ANN.email)].current == "i2"
    assert len(out.published) == 2 * len(first)


async def test_a_move_after_a_classification_waits_for_its_outcome() -> None:
    repo = seeded()
    run, out = running(repo)
    cmd = MoveOn(actor=ANN, task_id="t1", project_id="p1", from_item_id="i1", after_command_id="c1",
                 occurred_at=NOW)
    assert await run.run([cmd]) == []
    assert cmd.id not in repo.operations and "c1" in repo.waiting
    await handlers.run_waiting_moves(repo, run)  # no outcome yet: it keeps waiting
    assert "c1" in repo.waiting
    repo.operations["c1"] = {"_id": "c1", "status": "succeeded"}
    await handlers.run_waiting_moves(repo, run)
    assert repo.waiting == {} and repo.operations[cmd.id]["status"] == "succeeded"
    [moved] = [e for e in out.published if isinstance(e, MovedOn)]
    assert moved.correlation_id == cmd.id and moved.item_id == "i2"


async def test_a_move_after_a_classification_refused_or_never_finished_is_refused() -> None:
    repo = seeded()
    run, _ = running(repo)
    refused_after = MoveOn(actor=ANN, task_id="t1", project_id="p1", after_command_id="c1", occurred_at=NOW)
    repo.operations["c1"] = {"_id": "c1", "status": "rejected"}
    [refusal] = await run.run([refused_after])
    assert isinstance(refusal, CommandRejected) and "was refused" in refusal.message
    late = MoveOn(actor=ANN, task_id="t1", project_id="p1", after_command_id="c2", occurred_at=NOW)
    await run.run([late])
    run.clock = lambda: NOW + timedelta(seconds=handlers.WAITING_MOVE_MAX_S + 1)
    await handlers.run_waiting_moves(repo, run)
    assert repo.operations[late.id]["status"] == "rejected"
    assert "did not finish" in repo.operations[late.id]["event"]["message"]


# the copy of task facts, kept from the task service's events -------------------------------------

VIEW = {"id": "t1", "projectId": "p1", "allocation": "distribution", "singleClass": True,
        "allowNextOnlyOnDone": False, "availableActions": [{"action": "completed"}],
        "metadata": {"system": {"batchSize": None, "maxBatchWorkload": None}}}


def changed(version: int, change: str = "items-add", **holdings: list[str]) -> TaskChanged:
    return TaskChanged(actor=ANN, task_id="t1", project_id="p1", change=change, task=VIEW,
                       assignments=[AssignmentFact(id=f"a-{who}", annotator=f"{who}@example.com", item_ids=items)
                                    for who, items in holdings.items()]
                       + [AssignmentFact(id="q", queue=True, item_ids=["q1"])],
                       allocation_version=version)


def reacting(repo: FakeWorkflowRepository) -> tuple[Reactions, Outlet]:
    out = Outlet()
    return Reactions(repo, out, clock=lambda: NOW), out


async def test_a_new_task_is_kept_from_its_fact_and_its_queues_seeded_without_asking() -> None:
    repo = FakeWorkflowRepository()
    reactions, out = reacting(repo)
    await reactions.on_task_events([changed(1, "created", ann=["i1", "i2"])])
    held = await repo.task_facts("t1")
    assert held.version == 1 and held.assignments == [{"_id": "a-ann", "annotator": ANN.email,
                                                       "itemIds": ["i1", "i2"]}]  # not the hidden queue
    assert repo.asked == [] and repo.queues[("t1", ANN.email)].order == ["i1", "i2"]
    assert [e.type for e in out.published] == ["QueueChanged"]


async def test_a_copy_older_than_the_one_held_is_ignored_and_statuses_are_kept_from_their_facts() -> None:
    repo = FakeWorkflowRepository()
    reactions, _ = reacting(repo)
    await reactions.on_task_events([changed(1, "created", ann=["i1", "i2", "i3"])])
    done = ItemStatusChanged(actor=ANN, task_id="t1", project_id="p1", assignment_id="a-ann", item_id="i2",
                             status="completed", occurred_at=NOW)
    await reactions.on_task_events([done, changed(2, ann=["i1", "i2", "i3", "i4"])])
    await reactions.on_task_events([changed(1, "created", ann=["i1"])])  # late: ignored
    assert (await repo.task_facts("t1")).assignment("a-ann")["itemIds"] == ["i1", "i2", "i3", "i4"]
    assert repo.queues[("t1", ANN.email)].open == {"i1", "i3", "i4"}
    assert repo.asked == []


async def test_a_task_first_seen_after_its_creation_or_a_gap_in_its_versions_is_asked_of_the_task_service() -> None:
    repo = seeded(statuses={"i2": "completed"})
    reactions, _ = reacting(repo)
    await reactions.on_task_events([changed(5, ann=["i1", "i2", "i3"])])  # which items hold a status?
    assert repo.asked == ["t1"] and repo.queues[("t1", ANN.email)].open == {"i1", "i3"}
    pulled = ItemsPulled(actor=ANN, task_id="t1", project_id="p1", assignment_id="a1", item_ids=["i4"],
                         open_items=3, allocation_version=repo.facts["t1"].version + 1)
    await reactions.on_task_events([pulled])  # the version that follows: added, nothing asked
    assert repo.asked == ["t1"] and repo.facts["t1"].assignment("a1")["itemIds"] == ITEMS + ["i4"]
    gap = pulled.model_copy(update={"id": "p2", "item_ids": ["i5"], "allocation_version": 9})
    await reactions.on_task_events([gap])
    assert repo.asked == ["t1", "t1"]
