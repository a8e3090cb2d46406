"""Request/reply in process: the runner replies each outcome to the address its command
came with, once the outcome is stored and published, and passes a checked command on with
its address; the gateway's hub resolves a request from its reply, holding it only while a
read model must see its event first."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId

from gateway.outcomes import OutcomeHub
from services.annotation import handlers
from shared.contracts.commands import Classify
from shared.contracts.envelope import Actor
from shared.contracts.events import CommandRejected
from shared.platform.runner import Answer, Reply, Runner
from tests.fakes.annotation import FakeAnnotationRepository

pytestmark = pytest.mark.unit

ACTOR = Actor(user_id="u1", email="ann@example.com", role="annotator")
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def classify(**over: Any) -> Classify:
    return Classify(**({"annotation_id": str(ObjectId()), "item_id": "i1", "dataset_id": "d1",
                        "project_id": "p1", "label": "cat", "actor": ACTOR} | over))


class Wire:
    """What a runner did, in order: publishes (with the addresses passed on) and replies."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []

    async def publish(self, events: list[Any], reply_to: dict[str, str] | None = None) -> None:
        self.log.append(("publish", ([e.id for e in events], reply_to)))

    async def reply(self, replies: list[Reply]) -> None:
        self.log.append(("reply", replies))


def runner(wire: Wire, table: dict | None = None, repo: Any = None) -> Runner:
    return Runner(table or handlers.table("http://testserver"), repo=repo or FakeAnnotationRepository(),
                  publish=wire.publish, reply=wire.reply, clock=lambda: NOW, key=handlers.scope_of)


async def test_the_outcome_is_replied_after_it_is_stored_and_published():
    wire, repo = Wire(), FakeAnnotationRepository()
    cmd, unaddressed = classify(), classify()
    await runner(wire, repo=repo).run([cmd, unaddressed], {cmd.id: "clf:reply:gw-1"})
    (what, published), (then, [reply]) = wire.log
    assert (what, then) == ("publish", "reply") and cmd.id in repo.operations
    assert (reply.channel, reply.command_id, reply.published) == ("clf:reply:gw-1", cmd.id, True)
    assert reply.event == repo.operations[cmd.id]["event"] and reply.event["id"] in published[0]


async def test_a_redelivered_command_is_replied_again_from_its_record():
    wire, repo = Wire(), FakeAnnotationRepository()
    cmd = classify()
    await runner(Wire(), repo=repo).run([cmd])
    await runner(wire, repo=repo).run([cmd], {cmd.id: "clf:reply:gw-2"})
    [reply] = wire.log[-1][1]
    assert reply.channel == "clf:reply:gw-2" and reply.event == repo.operations[cmd.id]["event"]


async def test_a_command_passed_on_keeps_its_address_and_is_not_replied_here():
    wire = Wire()
    cmd = classify()

    def check(c: Classify, *, repo: Any, clock: Any) -> Answer:
        return Answer([c.model_copy(update={"assignment_id": "a1"})], stored=False)
    await runner(wire, {Classify: check}).run([cmd], {cmd.id: "clf:reply:gw-1"})
    assert wire.log == [("publish", ([cmd.id], {cmd.id: "clf:reply:gw-1"}))]


async def test_a_reply_that_cannot_be_sent_is_dropped_not_raised():
    wire = Wire()

    async def down(replies: list[Reply]) -> None:
        raise ConnectionError("redis down")
    wire.reply = down  # type: ignore[method-assign]
    cmd = classify()
    events = await runner(wire).run([cmd], {cmd.id: "clf:reply:gw-1"})
    assert [e.correlation_id for e in events] == [cmd.id]


def rejection(command_id: str) -> dict[str, Any]:
    return CommandRejected(correlation_id=command_id, actor=ACTOR, command_type="Classify",
                           reason="invalid", message="no").wire()


async def test_the_hub_resolves_a_request_from_its_reply():
    hub = OutcomeHub()
    waited = hub.expect("c1")
    hub.deliver([b'{"correlationId": "c1"}'])  # the event streams are not read for it
    assert not waited.done() and "c1" not in hub.scanned
    hub.reply("c1", rejection("c1"))
    assert isinstance(waited.result(), CommandRejected)


async def test_a_reply_waits_for_the_event_reader_while_a_read_model_wants_its_event():
    hub = OutcomeHub(settle=lambda: True, settle_s=5)
    waited = hub.expect("c1")
    event = rejection("c1")
    hub.reply("c1", event)
    await asyncio.sleep(0)
    assert not waited.done()
    hub.deliver([json.dumps(event).encode()])  # the read models have it now
    assert waited.result().id == event["id"] and hub.held == {}


async def test_a_held_reply_answers_after_a_bound_and_an_unpublished_one_at_once():
    hub = OutcomeHub(settle=lambda: True, settle_s=0.01)
    held, unpublished = hub.expect("c1"), hub.expect("c2")
    hub.reply("c1", rejection("c1"))
    hub.reply("c2", rejection("c2"), published=False)  # no event will pass the reader
    assert unpublished.done() and not held.done()
    await asyncio.sleep(0.05)
    assert held.done()
