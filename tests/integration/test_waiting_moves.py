"""A move that follows another command (MoveOn.after_command_id: Auto next after a classify
or a pull answered past the gateway's wait) waits for that command's outcome, on real
servers: it moves on once the command succeeded, and is refused if it was refused or never
finished."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shared.contracts import streams
from shared.contracts.envelope import new_id, utcnow
from shared.contracts.workflow import MoveOn
from tests.integration.workflow_stack import annotator, running

pytestmark = pytest.mark.integration
ANN1 = annotator(1)


@pytest.fixture
async def stack(settings, redis):
    async with running(settings, redis) as s:
        yield s


async def a_task_in_hand(stack) -> tuple[dict, list[str]]:
    items = await stack.items(3)
    task = await stack.create_task([ANN1.email])
    await stack.settings_of(ANN1, task, auto_next=True, auto_complete=False)
    assert (await stack.move_on(ANN1, task))["itemId"] == items[0]
    return task, items


async def outcome_of(stack, command_id: str, status: str) -> None:
    """The outcome another service stores for a command (here, written directly)."""
    await stack.mongo.operations.insert_one({"_id": command_id, "commandType": "Classify", "status": status,
                                             "actorId": ANN1.user_id, "completedAt": utcnow()})


async def held(stack, move: MoveOn, timeout: float = 10.0) -> None:
    """Until the workflow service holds `move`, waiting for its command's outcome."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not any(move.id in body for body in (await stack.workflow.queues.waiting_moves()).values()):
        assert asyncio.get_running_loop().time() < deadline, f"{move.type} {move.id} never held"
        await asyncio.sleep(0.02)


def following(task: dict, item: str, after: str) -> MoveOn:
    return MoveOn(actor=ANN1, task_id=task["id"], project_id="p1", from_item_id=item, after_command_id=after)


async def test_a_move_after_a_command_waits_for_its_outcome_then_moves_on(stack):
    task, items = await a_task_in_hand(stack)
    after = new_id()
    move = await stack.send(streams.WORKFLOW, following(task, items[0], after))
    await asyncio.sleep(0.8)  # the command has no outcome yet: nothing moves
    await stack.read(streams.WORKFLOW_EVENTS)
    assert move.id not in stack.answers
    assert (await stack.workflow.queues.state(task["id"], ANN1.email))["current"] == items[0]
    await outcome_of(stack, after, "succeeded")
    moved = await stack.outcome(streams.WORKFLOW_EVENTS, move)
    assert moved["type"] == "MovedOn" and moved["fromItemId"] == items[0] and moved["itemId"] == items[1]
    stored = await stack.mongo.operations.find_one({"_id": move.id})
    assert stored["status"] == "succeeded"


async def test_a_move_after_a_refused_command_is_refused_and_moves_nothing(stack):
    task, items = await a_task_in_hand(stack)
    after = new_id()
    await outcome_of(stack, after, "rejected")
    move = await stack.send(streams.WORKFLOW, following(task, items[0], after))
    refused = await stack.outcome(streams.WORKFLOW_EVENTS, move)
    assert refused["type"] == "CommandRejected" and after in refused["message"]
    assert (await stack.workflow.queues.state(task["id"], ANN1.email))["current"] == items[0]


async def test_a_move_after_a_command_that_never_finishes_is_refused_in_the_end(stack):
    task, items = await a_task_in_hand(stack)
    move = await stack.send(streams.WORKFLOW, following(task, items[0], new_id()))
    await asyncio.sleep(0.3)
    stack.workflow.runner.clock = lambda: utcnow() + timedelta(seconds=3601)  # an hour later
    refused = await stack.outcome(streams.WORKFLOW_EVENTS, move)
    assert refused["type"] == "CommandRejected" and "did not finish" in refused["message"]


async def test_the_same_move_sent_plainly_and_after_its_command_moves_once(stack):
    task, items = await a_task_in_hand(stack)
    after = new_id()
    waiting = following(task, items[0], after)
    await stack.send(streams.WORKFLOW, waiting)
    await held(stack, waiting)  # the retry comes after it (one batch keeps the first copy of an id)
    plain = waiting.model_copy(update={"after_command_id": None})  # a client's retry of the request
    moved = await stack.outcome(streams.WORKFLOW_EVENTS, await stack.send(streams.WORKFLOW, plain))
    assert moved["itemId"] == items[1]
    await outcome_of(stack, after, "succeeded")
    await asyncio.sleep(1.2)  # the waiting one is taken and finds the move done
    assert await stack.workflow.queues.waiting_moves() == {}
    assert (await stack.workflow.queues.state(task["id"], ANN1.email))["current"] == items[1]
    assert len(await stack.facts("MovedOn", fromItemId=items[0])) == 1
