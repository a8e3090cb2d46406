"""A bulk classification's two halves, each on its service's runner against the fake
repositories, linked as the streams link them: the task service checks, plans and writes
the statuses, then passes the bulk on (with the requester's reply address) to the
annotation service, which writes the classes, records the bulk's outcome under its id,
announces the end and replies. Nothing comes back to the task service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.annotation.bootstrap import runner as annotation_runner
from services.annotation.bulk.handlers import StillWriting
from services.task.bootstrap import bulk_runner
from services.task.bootstrap import runner as task_runner
from services.task.bulk.handlers import Statuses
from shared.contracts.bulk import (
    BulkClassify,
    BulkCompleted,
    BulkPreviewed,
    BulkProgressed,
    BulkUndone,
    ClassesStored,
    ClassifyItems,
    UnclassifyItems,
    UndoBulk,
)
from shared.contracts.envelope import Actor
from shared.contracts.events import CommandRejected, ItemClassified
from shared.contracts.tasks import CreateTask, ItemStatusChanged
from shared.platform.runner import Reply
from tests.fakes.annotation import FakeAnnotationRepository
from tests.fakes.task_repository import FakeTaskRepository

pytestmark = pytest.mark.unit

MANAGER = Actor(user_id="m1", email="boss@example.com", role="manager")
ANN1 = Actor(user_id="u1", email="ann1@example.com", role="annotator")
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ITEMS = [f"i{n}" for n in range(1, 5)]
LABEL = "cat"
CHANNEL = "gw:reply:1"


class Platform:
    """Both services' runners over fake repositories, and what each sent where."""

    def __init__(self) -> None:
        self.tasks, self.annotations = FakeTaskRepository(), FakeAnnotationRepository()
        self.task_events: list[Any] = []  # events.task, from either service
        self.annotation_events: list[Any] = []  # events.annotation
        self.classify_stream: list[tuple[Any, str | None]] = []  # passed on, with its reply address
        self.replies: list[Reply] = []
        statuses = Statuses(self.tasks, self.publish_task_events)
        self.bulk = bulk_runner(self.tasks, publish=self.task_outlet, statuses=statuses, clock=lambda: NOW,
                                reply=self.reply)
        self.annotation = annotation_runner(self.annotations, base_url="http://testserver",
                                            publish=self.annotation_outlet, clock=lambda: NOW, reply=self.reply,
                                            bulk_events=self.publish_annotation_events)

    async def publish_task_events(self, events: Any) -> None:
        self.task_events.extend(events)

    async def publish_annotation_events(self, events: list[Any]) -> None:
        self.annotation_events.extend(events)

    async def task_outlet(self, produced: list[Any], reply_to: dict[str, str] | None = None) -> None:
        for message in produced:
            if isinstance(message, ClassifyItems | UnclassifyItems):
                self.classify_stream.append((message, (reply_to or {}).get(message.id)))
            else:
                self.task_events.append(message)

    async def annotation_outlet(self, produced: list[Any]) -> None:
        for event in produced:
            (self.task_events if isinstance(event, BulkCompleted | BulkPreviewed) else self.annotation_events).append(event)

    async def reply(self, replies: list[Reply]) -> None:
        self.replies.extend(replies)

    async def task(self, **over: Any) -> None:
        create = CreateTask(**({"task_id": "t1", "project_id": "p1", "dataset_id": "d1", "recipe_id": "r1",
                                "name": "first", "assignees": [ANN1.email], "actor": MANAGER,
                                "resolved_item_ids": ITEMS} | over))
        await task_runner(self.tasks, publish=self.publish_task_events, clock=lambda: NOW).run([create])
        self.task_events.clear()

    async def send(self, cmd: Any) -> None:
        """The gateway's command on the bulk stream, then what the task service passed on."""
        await self.bulk.run([cmd], {cmd.id: CHANNEL})
        await self.pass_on()

    async def pass_on(self) -> None:
        sent, self.classify_stream = self.classify_stream, []
        for message, reply_to in sent:
            await self.annotation.run([message], {message.id: reply_to} if reply_to else None)


def bulk(**over: Any) -> BulkClassify:
    return BulkClassify(**({"task_id": "t1", "project_id": "p1", "item_ids": ITEMS, "label": LABEL,
                            "mode": "classify-and-set-status", "actor": MANAGER} | over))


def of(kind: type, events: list[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


async def test_a_bulk_writes_the_statuses_then_the_classes_and_the_annotation_service_answers():
    p = Platform()
    await p.task()
    cmd = bulk()
    await p.bulk.run([cmd], {cmd.id: CHANNEL})
    # the task service's half: statuses durable, their events out, the bulk passed on with
    # the requester's address, and no outcome of its own
    assert {d["itemId"]: d["status"] for d in p.tasks.item_statuses.values()} == dict.fromkeys(ITEMS, "completed")
    assert [e.item_id for e in of(ItemStatusChanged, p.task_events)] == ITEMS
    [(forwarded, reply_to)] = p.classify_stream
    assert isinstance(forwarded, ClassifyItems) and forwarded.bulk_id == cmd.id and reply_to == CHANNEL
    assert forwarded.statuses == {"status": "completed", "changed": 4}
    assert cmd.id not in p.tasks.operations and p.replies == []
    assert p.tasks.bulk_states[cmd.id]["state"] == "statuses-done"
    assert p.tasks.counts["t1"][(forwarded.items[0].assignment_id, "completed")] == 4

    await p.pass_on()
    # the annotation service's half: the classes, the end announced on events.task, the
    # outcome recorded under the bulk id and replied there
    assert sorted(a["itemId"] for a in p.annotations.annotations.values()) == ITEMS
    assert [e.item_id for e in of(ItemClassified, p.annotation_events)] == ITEMS
    assert of(BulkProgressed, p.annotation_events)[-1].done == 4
    [completed] = of(BulkCompleted, p.task_events)
    assert (completed.bulk_id, completed.correlation_id, completed.total, completed.classified) == (cmd.id, cmd.id, 4, 4)
    assert completed.statuses == {"status": "completed", "changed": 4}
    record = p.annotations.operations[cmd.id]
    assert record["commandType"] == "BulkClassify" and record["event"]["type"] == "BulkCompleted"
    assert len(record["events"]) == 1  # the per-item events are not in the record
    [reply] = p.replies
    assert (reply.channel, reply.command_id, reply.event["type"]) == (CHANNEL, cmd.id, "BulkCompleted")


async def test_a_refused_bulk_is_answered_by_the_task_service_and_goes_no_further():
    p = Platform()
    await p.task()
    cmd = bulk(item_ids=[*ITEMS, "i9"])
    await p.send(cmd)
    [rejected] = p.task_events
    assert isinstance(rejected, CommandRejected) and rejected.reason == "conflict"
    assert p.tasks.operations[cmd.id]["status"] == "rejected"
    assert p.classify_stream == [] and p.tasks.item_statuses == {} and p.annotations.annotations == {}
    assert [(r.command_id, r.event["type"]) for r in p.replies] == [(cmd.id, "CommandRejected")]


async def test_a_redelivered_bulk_changes_each_item_once_and_says_the_same():
    p = Platform()
    await p.task()
    cmd = bulk()
    await p.bulk.run([cmd], {cmd.id: CHANNEL})
    first = [e.id for e in of(ItemStatusChanged, p.task_events)]
    # delivered again before the annotation service had it (the task service died after
    # passing it on): the statuses' events again, the same ids, nothing written twice
    await p.bulk.run([cmd], {cmd.id: CHANNEL})
    assert [e.id for e in of(ItemStatusChanged, p.task_events)] == first * 2
    assert {len(d["log"]) for d in p.tasks.item_statuses.values()} == {1}
    assert sum(p.tasks.counts["t1"].values()) == 4
    assert len(p.classify_stream) == 2
    await p.pass_on()  # the annotation service gets the bulk twice
    assert len(p.annotations.annotations) == 4
    assert len({e.id for e in of(BulkCompleted, p.task_events)}) == 1
    assert len({e.id for e in of(ItemClassified, p.annotation_events)}) == 4
    # delivered again once completed: the end is said again, nothing is written again
    p.replies.clear()
    await p.send(cmd)
    assert [(r.command_id, r.event["type"]) for r in p.replies] == [(cmd.id, "BulkCompleted")]
    assert len(p.annotations.annotations) == 4


async def test_a_preview_counts_statuses_at_the_task_service_and_classes_at_the_annotation_service():
    p = Platform()
    await p.task(singleClass=False)
    await p.send(bulk(item_ids=ITEMS[:2]))
    p.task_events.clear()
    cmd = bulk(dry_run=True)
    await p.send(cmd)
    [previewed] = p.task_events
    assert isinstance(previewed, BulkPreviewed) and previewed.correlation_id == cmd.id
    assert (previewed.total, previewed.already_classified, previewed.status_overwritten) == (4, 2, 0)
    assert previewed.would_change == 2  # the two unclassified; the others keep their status
    assert previewed.statuses_before == {"none": 2}
    assert p.annotations.operations[cmd.id]["event"]["type"] == "BulkPreviewed"
    assert [r.command_id for r in p.replies][-1] == cmd.id
    assert len(p.annotations.annotations) == 2 and cmd.id not in p.tasks.bulk_plans


async def test_an_undo_restores_the_statuses_then_the_classes_and_is_answered_by_the_annotation_service():
    p = Platform()
    await p.task()
    done = bulk()
    await p.send(done)
    undo = UndoBulk(bulk_id=done.id, task_id="t1", project_id="p1", actor=MANAGER)
    await p.send(undo)
    assert {d["status"] for d in p.tasks.item_statuses.values()} == {None}
    assert all("_deleted" in a for a in p.annotations.annotations.values())
    [undone] = of(BulkUndone, p.annotation_events)
    assert (undone.removed, undone.statuses["restored"]) == (4, 4)
    assert p.annotations.operations[undo.id]["commandType"] == "UndoBulk"
    assert (p.replies[-1].command_id, p.replies[-1].event["type"]) == (undo.id, "BulkUndone")
    again = UndoBulk(bulk_id=done.id, task_id="t1", project_id="p1", actor=MANAGER)
    await p.send(again)
    assert p.replies[-1].event["reason"] == "conflict"


async def test_an_undo_waits_for_its_bulks_classes():
    p = Platform()
    await p.task()
    done = bulk()
    await p.bulk.run([done])  # the statuses are written; the classes not yet
    p.classify_stream.clear()
    undo = UndoBulk(bulk_id=done.id, task_id="t1", project_id="p1", actor=MANAGER)
    await p.bulk.run([undo])
    [(unclassify, _)] = p.classify_stream
    with pytest.raises(StillWriting):  # left pending: delivered again once the bulk is written
        await p.annotation.run([unclassify])
    assert undo.id not in p.annotations.operations


async def test_a_classes_stored_from_an_earlier_version_is_left():
    p = Platform()
    stored = ClassesStored(bulk_id="b", task_id="t1", project_id="p1", classified=1, unchanged=0, replaced=0,
                           actor=MANAGER)
    assert await p.bulk.run([stored]) == []
    assert p.tasks.operations == {}

