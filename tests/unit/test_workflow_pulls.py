"""The pull decisions of a move in a pulling task, made by the workflow service (issue 19):
an annotator holding nothing gets a batch before moving on, one who runs out moves into the
next batch, a refused pull refuses the move with its reason, a late one makes the move wait
for its outcome, and a move handled again asks for the same batch (run against the in-memory
repository, whose `pull` plays the task service)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.workflow import handlers
from services.workflow.bootstrap import runner
from shared.contracts.envelope import Actor
from shared.contracts.events import CommandRejected
from shared.contracts.tasks import PullItems
from shared.contracts.workflow import MovedOn, MoveOn, pull_id
from tests.fakes.workflow_repository import FakeWorkflowRepository, Outlet

pytestmark = pytest.mark.unit

ANN = Actor(user_id="u1", email="ann@example.com", role="annotator")
STRANGER = Actor(user_id="u9", email="who@example.com", role="annotator")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def pulling(hidden: int = 7, batch: int = 3, most: int = 5) -> FakeWorkflowRepository:
    repo = FakeWorkflowRepository()
    repo.tasks["t1"] = {"_id": "t1", "projectId": "p1", "allocation": "pulling", "batchSize": batch,
                        "maxBatchWorkload": most, "singleClass": True, "availableActions": [{"action": "completed"}],
                        "allocationVersion": 1}
    repo.assignment_docs["a1"] = {"_id": "a1", "taskId": "t1", "annotator": ANN.email, "itemIds": [], "active": True}
    repo.hidden["t1"] = [f"i{n}" for n in range(1, hidden + 1)]
    return repo


def move(actor: Actor = ANN, **fields: Any) -> MoveOn:
    return MoveOn(actor=actor, task_id="t1", project_id="p1", **fields)


async def test_an_annotator_holding_nothing_gets_a_batch_and_moves_into_it() -> None:
    repo, out = pulling(), Outlet()
    cmd = move()
    [moved, *_] = await runner(repo, publish=out, clock=lambda: NOW).run([cmd])
    assert isinstance(moved, MovedOn) and moved.item_id == "i1" and moved.open_items == 3
    assert list(repo.pulled) == [pull_id(cmd.id)]  # one pull, its id derived from the move's
    assert repo.operations[cmd.id]["event"]["itemId"] == "i1"


async def test_a_move_handled_again_asks_for_the_same_batch() -> None:
    repo = pulling()
    cmd = move()
    await handlers.move_on(cmd, repo=repo, clock=lambda: NOW)
    repo.queues.clear()  # the batch's fact not applied yet when the move comes again
    await handlers.move_on(cmd, repo=repo, clock=lambda: NOW)  # redelivered after a crash
    assert list(repo.pulled) == [pull_id(cmd.id)]
    assert repo.hidden["t1"] == ["i4", "i5", "i6", "i7"]  # one batch handed out, not two


async def test_a_refused_pull_refuses_the_move_with_its_reason_and_moves_nothing() -> None:
    repo, out = pulling(), Outlet()
    cmd = move(STRANGER)
    [refused, *_] = await runner(repo, publish=out, clock=lambda: NOW).run([cmd])
    assert isinstance(refused, CommandRejected) and refused.command_type == "PullItems"
    assert (refused.reason, refused.message) == ("forbidden", "you are not an assignee of this task")
    assert refused.correlation_id == cmd.id and repo.operations[cmd.id]["status"] == "rejected"
    assert repo.hidden["t1"][:1] == ["i1"]


async def test_a_pull_not_answered_in_time_makes_the_move_wait_for_its_outcome() -> None:
    repo, out = pulling(), Outlet()
    repo.pull_late = True
    run = runner(repo, publish=out, clock=lambda: NOW)
    cmd = move()
    await run.run([cmd])
    assert repo.waiting == {pull_id(cmd.id): cmd.model_dump_json(by_alias=True)} and cmd.id not in repo.operations
    repo.pull_late = False
    repo.operations[pull_id(cmd.id)] = {"_id": pull_id(cmd.id), "status": "succeeded"}  # the task service's record
    await handlers.run_waiting_moves(repo, run)
    assert repo.operations[cmd.id]["event"]["itemId"] == "i1"  # the same batch, pulled once
    assert list(repo.pulled) == [pull_id(cmd.id)] and not repo.waiting


async def test_an_annotator_who_runs_out_moves_into_the_next_batch() -> None:
    repo = pulling(hidden=4, batch=3, most=3)
    first = await handlers.move_on(move(), repo=repo, clock=lambda: NOW)
    repo.q("t1", ANN.email).settings = {"autoNext": "1", "autoComplete": "1"}  # the move completes
    walked = [first[0].item_id]
    for _ in range(3):
        [moved, *_] = await handlers.move_on(move(from_item_id=walked[-1]), repo=repo, clock=lambda: NOW)
        assert moved.completed_item_id == walked[-1]
        walked.append(moved.item_id)
    assert walked == ["i1", "i2", "i3", "i4"]  # i4 came with the pull made when i3 was left
    assert pull_id(moved.correlation_id, "refill") in repo.pulled


async def test_a_refill_the_move_asks_for_is_not_the_pull_it_waits_for() -> None:
    repo = pulling(hidden=9, batch=3, most=9)
    cmd = move()
    produced = await handlers.move_on(cmd, repo=repo, clock=lambda: NOW)
    refill = [m for m in produced if isinstance(m, PullItems)]
    assert refill and refill[0].id != pull_id(cmd.id)  # sent on, not waited for
