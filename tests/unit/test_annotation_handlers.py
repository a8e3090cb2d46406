"""The annotation service's handlers, run by the platform runner against the in-memory
repository: what each command stores and answers, and what the runner adds (dedup on the
command id, replay, outcome records, publish after durable, order per item)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId

from services.annotation import handlers
from services.annotation.bootstrap import runner
from services.annotation.events import classified
from shared.contracts.commands import Classify, DeleteAnnotation, UpdateAnnotation
from shared.contracts.envelope import Actor
from shared.contracts.scene_commands import HideFrames, StartScene, Video
from shared.platform.coalescing import Coalesced
from shared.platform.runner import Runner
from tests.fakes.annotation import FakeAnnotationRepository

pytestmark = pytest.mark.unit

ACTOR = Actor(user_id="u1", email="ann@example.com", role="annotator")
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
BASE = "http://testserver"


def classify(item: str = "i1", **over: Any) -> Classify:
    return Classify(**({"annotation_id": str(ObjectId()), "item_id": item, "dataset_id": "d1",
                        "project_id": "p1", "label": "cat", "actor": ACTOR} | over))


def update(cmd: Classify, **over: Any) -> UpdateAnnotation:
    return UpdateAnnotation(**({"annotation_id": cmd.annotation_id, "item_id": cmd.item_id,
                                "project_id": "p1", "label": "dog", "actor": ACTOR} | over))


def delete(cmd: Classify) -> DeleteAnnotation:
    return DeleteAnnotation(annotation_id=cmd.annotation_id, item_id=cmd.item_id, project_id="p1", actor=ACTOR)


class Stack:
    """The service's runner over the fake repository, with the events it published."""

    def __init__(self) -> None:
        self.repo = FakeAnnotationRepository()
        self.published: list[Any] = []
        self.runner = runner(self.repo, base_url=BASE, publish=self.publish, clock=lambda: NOW)

    async def publish(self, events: list[Any]) -> None:
        self.published.extend(events)

    async def run(self, *commands: Any) -> list[Any]:
        return await self.runner.run(list(commands))


async def test_a_classify_stores_the_annotation_and_answers_item_classified():
    stack, cmd = Stack(), classify()
    [event] = await stack.run(cmd)
    assert event.type == "ItemClassified" and event.correlation_id == cmd.id
    stored = stack.repo.annotations[cmd.annotation_id]
    assert stored["label"] == "cat" and stored["url"] == f"{BASE}/api/v1/annotations/{cmd.annotation_id}"
    assert "_projectId" not in event.annotation and stack.published == [event]


async def test_the_outcome_record_is_what_the_gateway_reads():
    stack, cmd = Stack(), classify()
    [event] = await stack.run(cmd)
    assert stack.repo.operations[cmd.id] == {
        "_id": cmd.id, "commandType": "Classify", "status": "succeeded", "actorId": "u1",
        "projectId": "p1", "event": event.wire(), "events": [event.wire()], "completedAt": NOW}


async def test_a_single_class_classify_replaces_the_items_earlier_classes():
    stack = Stack()
    first, other_item = classify(), classify(item="i2")
    await stack.run(first, other_item)
    second = classify(replace_classes=True, label="dog")
    [event] = await stack.run(second)
    assert event.replaced == [first.annotation_id]
    assert stack.repo.annotations[first.annotation_id]["_deleted"]["replacedBy"] == second.annotation_id
    assert "_deleted" not in stack.repo.annotations[other_item.annotation_id]


async def test_an_update_and_a_delete_of_one_item_apply_in_batch_order():
    stack, cmd = Stack(), classify()
    events = await stack.run(cmd, update(cmd), delete(cmd))
    assert [e.type for e in events] == ["ItemClassified", "AnnotationUpdated", "AnnotationDeleted"]
    assert events[1].previous["label"] == "cat"
    stored = stack.repo.annotations[cmd.annotation_id]
    assert stored["label"] == "dog" and stored["_deleted"]["commandId"] == events[2].correlation_id


async def test_changing_a_missing_annotation_is_rejected_and_recorded_as_such():
    stack = Stack()
    ghost = update(classify())
    [event] = await stack.run(ghost)
    assert (event.type, event.reason) == ("CommandRejected", "not_found")
    assert stack.repo.operations[ghost.id]["status"] == "rejected"


async def test_a_redelivered_command_is_not_run_again_and_its_events_go_out_again_with_the_same_ids():
    stack, cmd = Stack(), classify()
    [first] = await stack.run(cmd)
    stack.repo.annotations.clear()  # had the handler run again, it would store the document again
    [again] = await stack.run(cmd)
    assert again == first and stack.repo.annotations == {}
    assert [e.id for e in stack.published] == [first.id, first.id]


async def test_a_command_twice_in_one_batch_runs_once():
    stack, cmd = Stack(), classify()
    events = await stack.run(cmd, cmd, update(cmd))
    assert [e.type for e in events] == ["ItemClassified", "AnnotationUpdated"]
    assert len(stack.repo.operations) == 2


async def test_a_redelivery_after_a_crash_before_the_outcome_answers_with_the_same_ids_and_stores_nothing_twice():
    stack, cmd = Stack(), classify()
    changed = update(cmd)
    first = await stack.run(cmd, changed)
    stack.repo.operations.clear()  # the effects were durable, the outcomes not
    stored = dict(stack.repo.annotations)
    again = await stack.run(cmd, changed)
    assert [(e.id, e.type) for e in again] == [(e.id, e.type) for e in first]
    assert again[1].previous == first[1].previous and stack.repo.annotations == stored


async def test_events_are_published_only_after_their_outcomes_are_stored():
    stack = Stack()
    recorded_when_published: list[bool] = []

    async def publish(events: list[Any]) -> None:
        recorded_when_published.extend(e.correlation_id in stack.repo.operations for e in events)

    stack.runner.publish = publish
    await stack.run(classify(), classify(item="i2"))
    assert recorded_when_published == [True, True]


async def test_a_scene_is_started_then_changed_and_a_redelivery_changes_nothing():
    stack = Stack()
    video = Video(fps=25, frame_count=75, duration=3.0)
    common = dict(actor=ACTOR, item_id="i1", dataset_id="d1", project_id="p1", video=video)
    start = StartScene(**common, annotation_id=str(ObjectId()), frame=10, label="running")
    hide = HideFrames(**common, annotation_id=start.annotation_id, first=20, last=30)
    events = await stack.run(start, hide)
    assert [e.type for e in events] == ["ItemClassified", "AnnotationUpdated"]
    stored = stack.repo.annotations[start.annotation_id]
    assert stored["metadata"]["system"]["objectId"] == "1"
    stack.repo.operations.clear()
    assert [e.id for e in await stack.run(start, hide)] == [e.id for e in events]
    assert stack.repo.annotations[start.annotation_id] == stored


async def test_a_refused_scene_is_answered_with_why_and_stores_nothing():
    stack = Stack()
    video = Video(fps=25, frame_count=75, duration=3.0)
    bad = StartScene(actor=ACTOR, item_id="i1", dataset_id="d1", project_id="p1", video=video,
                     annotation_id=str(ObjectId()), frame=80, label="running")
    [event] = await stack.run(bad)
    assert (event.type, event.reason) == ("CommandRejected", "invalid") and stack.repo.annotations == {}


# The runner itself, with handlers written for the test --------------------------------------


def spy_runner(table: dict, published: list[Any], repo: Any = None) -> Runner:
    async def publish(events: list[Any]) -> None:
        published.extend(events)

    return Runner(table, repo=repo or FakeAnnotationRepository(), publish=publish, clock=lambda: NOW,
                  key=handlers.scope_of)


async def test_commands_run_after_those_they_overlap_and_beside_the_others():
    log: list[str] = []

    async def slow(cmd: Any, *, repo: Any, clock: Any) -> list[Any]:
        log.append(f"start {cmd.label}")
        await asyncio.sleep(0.01)
        log.append(f"end {cmd.label}")
        return []

    first = classify("i1", label="a")
    runner_ = spy_runner({Classify: slow, UpdateAnnotation: slow}, [])
    await runner_.run([first, update(first, label="b"), classify("i1", label="c"),
                       classify("i1", label="d", replace_classes=True), classify("i2", label="e")])
    assert log.index("end a") < log.index("start b")  # the update of a waited for its classify
    assert log.index("start c") < log.index("end a")  # another annotation of i1 did not
    assert log.index("start e") < log.index("end a")  # nor did another item
    assert log.index("start d") > max(log.index("end b"), log.index("end c"))  # the whole item waited


async def test_a_command_without_a_key_runs_alone():
    log: list[str] = []

    async def slow(cmd: Any, *, repo: Any, clock: Any) -> list[Any]:
        log.append(f"start {cmd.label}")
        await asyncio.sleep(0.01)
        log.append(f"end {cmd.label}")
        return []

    runner_ = Runner({Classify: slow}, repo=FakeAnnotationRepository(), publish=lambda e: asyncio.sleep(0),
                     key=lambda cmd: None if cmd.label == "alone" else cmd.item_id)
    await runner_.run([classify("i1", label="a"), classify("i2", label="alone"), classify("i3", label="c")])
    assert log == ["start a", "end a", "start alone", "end alone", "start c", "end c"]


async def test_a_failing_command_stops_what_must_follow_it_and_the_rest_is_recorded():
    published: list[Any] = []

    def sometimes(cmd: Classify, *, repo: Any, clock: Any) -> list[Any]:  # a plain function works too
        if cmd.label == "boom":
            raise RuntimeError("the store is down")
        return [classified(cmd, {"label": cmd.label}, [])]

    repo = FakeAnnotationRepository()
    runner_ = spy_runner({Classify: sometimes}, published, repo)
    boom, beside, after = classify("i1", label="boom"), classify("i1"), classify("i1", replace_classes=True)
    elsewhere = classify("i2")
    with pytest.raises(RuntimeError, match="the store is down"):
        await runner_.run([boom, beside, after, elsewhere])
    assert set(repo.operations) == {beside.id, elsewhere.id}  # `after` had to follow `boom`
    assert [e.correlation_id for e in published] == [beside.id, elsewhere.id]


async def test_a_command_without_a_handler_is_an_error_not_an_ack():
    runner_ = spy_runner({}, [])
    with pytest.raises(LookupError, match="Classify"):
        await runner_.run([classify()])


async def test_calls_made_in_one_turn_reach_the_store_as_one():
    calls: list[list[int]] = []

    async def store(items: list[int]) -> int:
        calls.append(items)
        return sum(items)

    together = Coalesced(store)
    assert await asyncio.gather(together([1, 2]), together([3]), together([])) == [6, 6, 6]
    assert await together([4]) == 4
    assert calls == [[1, 2, 3], [4]]


async def test_a_failed_coalesced_call_fails_every_caller():
    async def store(items: list[int]) -> int:
        raise ConnectionError("down")

    together = Coalesced(store)
    results = await asyncio.gather(together([1]), together([2]), return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
