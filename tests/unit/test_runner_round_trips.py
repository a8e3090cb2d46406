"""The runner's round-trip savings (shared.platform.runner): a `joint` runner hands its
outlet the replies and the batch's ack with the events (one call, after them), never the
ack of a batch that failed; its read-ahead is started, beside the outcome lookup, for the
commands that run first on their key only, and the MongoDB repository serves each id read
ahead once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId

from services.annotation import handlers
from services.annotation.events import classified
from services.annotation.repository import MongoAnnotationRepository
from shared.contracts.commands import Classify, UpdateAnnotation
from shared.contracts.envelope import Actor
from shared.platform.runner import Runner
from tests.fakes.annotation import FakeAnnotationRepository

pytestmark = pytest.mark.unit

ACTOR = Actor(user_id="u1", email="ann@example.com", role="annotator")
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def classify(item: str = "i1", **over: Any) -> Classify:
    return Classify(**({"annotation_id": str(ObjectId()), "item_id": item, "dataset_id": "d1",
                        "project_id": "p1", "label": "cat", "actor": ACTOR} | over))


def update(cmd: Classify) -> UpdateAnnotation:
    return UpdateAnnotation(annotation_id=cmd.annotation_id, item_id=cmd.item_id, project_id="p1",
                            label="dog", actor=ACTOR)


def answer(cmd: Any, *, repo: Any, clock: Any) -> list[Any]:
    if getattr(cmd, "label", "") == "boom":
        raise RuntimeError("the store is down")
    if isinstance(cmd, UpdateAnnotation):
        return []
    return [classified(cmd, {"label": cmd.label}, [])]


class Outlet:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, events: list[Any], **along: Any) -> None:
        self.calls.append({"events": [e.correlation_id for e in events]} | along)


async def test_a_joint_runner_hands_the_replies_and_the_ack_to_its_outlet_with_the_events():
    outlet, cmd = Outlet(), classify()
    runner = Runner({Classify: answer}, repo=FakeAnnotationRepository(), publish=outlet, clock=lambda: NOW,
                    joint=True)
    await runner.run([cmd], {cmd.id: "reply:gw"}, ack="the batch's ack")
    [call] = outlet.calls
    assert call["events"] == [cmd.id] and call["ack"] == "the batch's ack"
    assert [(r.channel, r.command_id, r.published) for r in call["replies"]] == [("reply:gw", cmd.id, True)]


async def test_a_joint_runner_never_hands_on_the_ack_of_a_batch_that_failed():
    outlet, good, bad = Outlet(), classify(), classify("i2", label="boom")
    runner = Runner({Classify: answer}, repo=FakeAnnotationRepository(), publish=outlet, clock=lambda: NOW,
                    joint=True, key=handlers.scope_of)
    with pytest.raises(RuntimeError):
        await runner.run([good, bad], {}, ack="the batch's ack")
    [call] = outlet.calls
    assert call["events"] == [good.id] and "ack" not in call


async def test_reads_ahead_are_started_for_the_first_command_of_each_key_beside_the_lookup():
    asked: list[list[str]] = []
    order: list[str] = []

    class Repo(FakeAnnotationRepository):
        async def outcomes(self, ids: Any) -> dict[str, Any]:
            order.append("lookup")
            return await super().outcomes(ids)

    def read_ahead(commands: list[Any]) -> Any:
        asked.append([c.id for c in commands])
        order.append("read ahead")
        return asyncio.sleep(0)

    first = classify()
    later, elsewhere = update(first), classify("i2", replace_classes=True)
    runner = Runner({Classify: answer, UpdateAnnotation: answer}, repo=Repo(), publish=Outlet(),
                    clock=lambda: NOW, key=handlers.scope_of, read_ahead=read_ahead)
    await runner.run([first, later, elsewhere])
    assert asked == [[first.id, elsewhere.id]]  # `later` runs after `first`, which may change it
    assert order == ["read ahead", "lookup"]


class _Reads:
    """Stands in for the repository's coalesced read by ids: counts the calls."""

    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.docs, self.calls = docs, []

    async def __call__(self, ids: list[str]) -> list[dict[str, Any]]:
        self.calls.append(sorted(ids))
        return [self.docs[i] for i in ids if i in self.docs]


async def test_an_id_read_ahead_is_served_once_then_read_again():
    repo = MongoAnnotationRepository.__new__(MongoAnnotationRepository)
    repo._reads = reads = _Reads({"a": {"_id": "a", "v": 1}, "b": {"_id": "b", "v": 1}})

    async def batch() -> tuple[Any, Any, Any]:
        await repo.read_ahead(["a"])
        first = await repo.get_many(["a", "b"])
        reads.docs["a"] = {"_id": "a", "v": 2}
        return first, await repo.get_many(["a"]), None

    first, again, _ = await asyncio.get_running_loop().create_task(batch())
    assert first == {"a": {"_id": "a", "v": 1}, "b": {"_id": "b", "v": 1}} and again == {"a": {"_id": "a", "v": 2}}
    assert reads.calls == [["a"], ["b"], ["a"]]
    assert await repo.get_many(["a"]) == {"a": {"_id": "a", "v": 2}}  # outside the batch: nothing read ahead
