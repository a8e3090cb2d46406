"""Each service's subscriber wiring under FastStream's TestRedisBroker: a command published to
its stream reaches its handler through the real subscribers (`shared.platform.messaging.attach`:
the batch reader, the typed parse, the runner) and what it produced lands on the right
stream, with no server running. The services are built by their own `bootstrap.build`, with
the in-memory repositories of tests/fakes in place of MongoDB (and of the workflow's Redis
queues).

What TestRedisBroker does not model, and how these tests stand in for it:
- XREADGROUP's entry ids: its stream messages carry none (`message_ids` is empty), where the
  batch reader pairs each entry with its id and the task service orders statuses by them.
  `entry_ids` gives every delivered entry one, in publishing order, as Redis would.
- The acknowledgement: its pending list forgets a delivery by the handler's correlation id,
  which a batch reader's message does not carry (`entries_as_sent`), so every entry would
  stay pending; and it lets a reclaimer (`min_idle_time`) take a fresh entry as the group's
  reader. `entry_ids` drops the group's pending delivery once its reader returned, as XACK
  does, and leaves a reclaimer only what is pending, as XAUTOCLAIM does.
- The services' fast publishing path (`publish_all`: one XADD, or `lua/xadd_many.lua`),
  the workflow's pipelined publishes, the replies (pub/sub PUBLISH) and the dead letters go
  through the service's own Redis client, not through the broker. `Relay` is that client:
  it hands every entry to the broker under test, on the stream or channel it was written to,
  so the tests read them there; dead letters it keeps (their fields are not a message).
- The reclaimer (XAUTOCLAIM of entries idle past `min_idle_time`) and the consumer groups'
  start at id 0 run only against a real server: tests/e2e (test_chaos, test_bulk_crash,
  test_import_crash) cover them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from unittest.mock import MagicMock

import pytest
from bson import ObjectId
from faststream.redis import RedisBroker, TestRedisBroker
from faststream.redis import testing as redis_testing
from faststream.redis.message import DATA_KEY

from shared.contracts import streams
from shared.contracts.commands import Classify
from shared.contracts.envelope import Actor
from shared.contracts.scene_commands import StartScene, Video
from shared.contracts.tasks import AssignmentFact, CreateTask, SetStatus, TaskChanged
from shared.contracts.workflow import ChangeWorkflowSettings, MoveOn
from shared.platform.settings import Settings
from tests.fakes.annotation import FakeAnnotationRepository
from tests.fakes.task_repository import FakeTaskRepository
from tests.fakes.workflow_repository import FakeWorkflowRepository

pytestmark = pytest.mark.unit

NS = "wired"
REPLIES = "wired:reply:gateway-1"  # a gateway's reply channel
ANN = Actor(user_id="u1", email="ann@example.com", role="annotator")
ANN2 = Actor(user_id="u2", email="bob@example.com", role="annotator")
MANAGER = Actor(user_id="m1", email="boss@example.com", role="manager")


def settings() -> Settings:
    return Settings(STREAM_NAMESPACE=NS, CONSUMER_NAME="wiring-1", PUBLIC_URL="http://testserver",
                    REDIS_URL="redis://127.0.0.1:1", MONGODB_URL="mongodb://127.0.0.1:1")


def name(stream: str) -> str:
    return streams.stream(stream, NS)


@pytest.fixture(autouse=True)
def entry_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stream messages with entry ids, in publishing order, and acknowledged entries gone
    from the group's pending list (see the module)."""
    counter = itertools.count(1)
    deliver = redis_testing.StreamVisitor.get_message

    def with_ids(self: Any, channel: str, body: Any, sub: Any) -> Any:
        message = deliver(self, channel, body, sub)
        entries = message["data"] if isinstance(message["data"], list) else [message["data"]]
        message["message_ids"] = [f"{next(counter)}-0".encode() for _ in entries]
        return message

    monkeypatch.setattr(redis_testing.StreamVisitor, "get_message", with_ids)

    def acked(self: Any, result: Any, handler: Any, session_id: Any) -> None:
        group = redis_testing._handler_group(handler)
        for key in [k for k in self.pel.entries if k[1:] == (session_id, group)]:
            self.pel.remove(key)

    monkeypatch.setattr(redis_testing.FakeProducer, "_remove_pel", acked)
    chosen = redis_testing.FakeProducer._return_handlers

    def live_reader_first(self: Any, handler: Any, visited_ch: str, published_groups: set[Any], cmd: Any,
                          session_id: Any) -> bool:
        if redis_testing._handler_min_idle_time(handler):  # a reclaimer takes pending entries only
            return self._check_pel(handler=handler, cmd=cmd, session_id=session_id) is not None
        return chosen(self, handler=handler, visited_ch=visited_ch, published_groups=published_groups, cmd=cmd,
                      session_id=session_id)

    monkeypatch.setattr(redis_testing.FakeProducer, "_return_handlers", live_reader_first)


class Relay:
    """The service's Redis client (see the module): what it writes goes to `broker`."""

    def __init__(self) -> None:
        self.broker: RedisBroker | None = None
        self.dead: list[tuple[str, dict[str, Any]]] = []

    async def forward(self, stream: str, entry: bytes) -> None:
        assert self.broker is not None
        body, headers = self.broker.message_format.parse(entry)
        await self.broker.publish(body, stream=stream, headers=_own(headers),
                                  correlation_id=headers.get("correlation_id"),
                                  reply_to=headers.get("reply_to") or "")

    async def xadd(self, stream: str, fields: dict[Any, Any], **_: Any) -> bytes:
        if DATA_KEY in fields:
            await self.forward(stream, fields[DATA_KEY])
        else:  # a dead letter
            self.dead.append((stream, fields))
        return b"1-0"

    def register_script(self, _source: str) -> Any:
        async def xadd_many(keys: list[str], args: list[Any], client: Any = None) -> None:
            _maxlen, _key, *entries = args
            for entry in entries:
                if client is None:
                    await self.xadd(keys[0], {DATA_KEY: entry})
                else:
                    client.xadd(keys[0], {DATA_KEY: entry})
        return xadd_many

    @asynccontextmanager
    async def pipeline(self, transaction: bool = False) -> AsyncIterator[Pipeline]:
        yield Pipeline(self)

    async def aclose(self) -> None:
        return None


class Pipeline:
    """Commands queued, run at `execute` in order (as a pipeline does)."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.queued: list[Any] = []

    def xadd(self, stream: str, fields: dict[Any, Any], **kwargs: Any) -> None:
        self.queued.append(lambda: self.relay.xadd(stream, fields, **kwargs))

    def xack(self, *_: Any) -> None:
        return None

    def publish(self, channel: str, message: bytes) -> None:
        async def send() -> None:
            assert self.relay.broker is not None
            body, headers = self.relay.broker.message_format.parse(message)
            await self.relay.broker.publish(body, channel=channel, headers=_own(headers),
                                            correlation_id=headers.get("correlation_id"))
        self.queued.append(send)

    async def execute(self) -> None:
        for call in self.queued:
            await call()
        self.queued.clear()


def _own(headers: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in headers.items() if k not in ("correlation_id", "reply_to")}


class Heard:
    """What reached the streams and channels the test listens to: (where, body, headers)."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def listen(self, broker: RedisBroker, *, streams_: tuple[str, ...] = (), channels: tuple[str, ...] = ()) -> None:
        for stream in streams_:
            self._subscribe(broker, stream, broker.subscriber(stream=stream, no_reply=True))
        for channel in channels:
            self._subscribe(broker, channel, broker.subscriber(channel=channel, no_reply=True))

    def _subscribe(self, broker: RedisBroker, where: str, subscriber: Any) -> None:
        @subscriber
        async def heard(body: Any) -> None:
            message = broker.context.get_local("message")
            decoded = json.loads(message.body)
            self.got.append((where, decoded, dict(message.headers) | {"correlation_id": message.correlation_id,
                                                                    "reply_to": message.reply_to}))

    def on(self, where: str) -> list[dict[str, Any]]:
        return [body for w, body, _ in self.got if w == where]

    def types(self, where: str) -> list[str]:
        return [body.get("type") for body in self.on(where)]

    def headers(self, where: str) -> list[dict[str, Any]]:
        return [h for w, _, h in self.got if w == where]


class Stores:
    """A fake repository in the place of a MongoDB one: what `build` asks of it besides."""

    @staticmethod
    def fit(repo: Any) -> Any:
        repo.db = MagicMock()  # the owner's query table (not exercised here)
        for missing in ("ping", "close", "create_indexes", "count_uncounted_tasks"):
            if not hasattr(repo, missing):
                setattr(repo, missing, MagicMock())
        return repo


@pytest.fixture
def relay() -> Relay:
    return Relay()


async def publish(broker: RedisBroker, stream: str, command: Any, reply_to: str = "") -> None:
    await broker.publish(command.wire(), stream=name(stream), correlation_id=command.id, reply_to=reply_to)


# --- the annotation service -------------------------------------------------------------


@pytest.fixture
def annotation(monkeypatch: pytest.MonkeyPatch, relay: Relay) -> Iterator[tuple[Any, FakeAnnotationRepository]]:
    from services.annotation import bootstrap

    repo = Stores.fit(FakeAnnotationRepository())
    monkeypatch.setattr(bootstrap, "make_redis", lambda _s: relay)
    monkeypatch.setattr(bootstrap, "connect", lambda *_: (MagicMock(), repo))
    service = bootstrap.build(settings())
    relay.broker = service.broker
    yield service, repo


async def test_a_classify_on_the_classify_stream_is_stored_answered_and_replied(annotation, relay) -> None:
    service, repo = annotation
    heard = Heard()
    heard.listen(service.broker, streams_=(name(streams.ANNOTATION_EVENTS),), channels=(REPLIES,))
    cmd = Classify(annotation_id=str(ObjectId()), item_id="i1", dataset_id="d1", project_id="p1",
                   label="cat", actor=ANN)
    async with TestRedisBroker(service.broker) as broker:
        await publish(broker, streams.CLASSIFY, cmd, reply_to=REPLIES)
        await publish(broker, streams.CLASSIFY, cmd, reply_to=REPLIES)  # redelivered: replayed
    assert repo.annotations[cmd.annotation_id]["label"] == "cat"
    assert repo.operations[cmd.id]["commandType"] == "Classify"
    [first, again] = heard.on(name(streams.ANNOTATION_EVENTS))
    assert first["type"] == "ItemClassified" and first["correlationId"] == cmd.id and again == first
    [reply, _] = heard.on(REPLIES)
    assert reply == first and heard.headers(REPLIES)[0]["correlation_id"] == cmd.id


async def test_a_scene_command_on_the_scene_stream_reaches_the_scene_handlers(annotation) -> None:
    service, repo = annotation
    heard = Heard()
    heard.listen(service.broker, streams_=(name(streams.ANNOTATION_EVENTS),))
    cmd = StartScene(annotation_id=str(ObjectId()), item_id="v1", dataset_id="d1", project_id="p1",
                     video=Video(fps=25.0, frame_count=100, duration=4.0), frame=3, label="cat", actor=ANN)
    async with TestRedisBroker(service.broker) as broker:
        await publish(broker, streams.SCENE, cmd)
    assert cmd.annotation_id in repo.annotations
    assert repo.operations[cmd.id]["commandType"] == "StartScene"
    assert [e["correlationId"] for e in heard.on(name(streams.ANNOTATION_EVENTS))] == [cmd.id]


async def test_an_entry_that_is_not_a_command_goes_to_the_dead_letters(annotation, relay) -> None:
    service, repo = annotation
    async with TestRedisBroker(service.broker) as broker:
        await broker.publish({"type": "Classify", "id": "x"}, stream=name(streams.CLASSIFY))
    [(stream, fields)] = relay.dead
    assert stream == name(streams.CLASSIFY) + streams.DLQ_SUFFIX and fields["reason"].startswith("unparseable")
    assert repo.operations == {}


# --- the task service -------------------------------------------------------------------


@pytest.fixture
def task(monkeypatch: pytest.MonkeyPatch, relay: Relay) -> Iterator[tuple[Any, FakeTaskRepository]]:
    from services.task import bootstrap

    repo = Stores.fit(FakeTaskRepository())
    monkeypatch.setattr(bootstrap, "make_redis", lambda _s: relay)
    monkeypatch.setattr(bootstrap, "connect", lambda *_: repo)
    service = bootstrap.build(settings())
    relay.broker = service.broker
    yield service, repo


def create_task() -> CreateTask:
    return CreateTask(task_id="t1", project_id="p1", dataset_id="d1", recipe_id="r1", name="first",
                      assignees=[ANN.email, ANN2.email], actor=MANAGER,
                      resolved_item_ids=["i1", "i2", "i3", "i4"])


async def test_task_commands_status_commands_and_classifies_in_a_task_go_their_ways(task) -> None:
    service, repo = task
    heard = Heard()
    events, classify = name(streams.TASK_EVENTS), name(streams.CLASSIFY)
    heard.listen(service.broker, streams_=(events, classify), channels=(REPLIES,))
    create = create_task()
    status = SetStatus(task_id="t1", project_id="p1", item_id="i1", status="completed", actor=ANN)
    in_task = Classify(annotation_id=str(ObjectId()), item_id="i2", dataset_id="d1", project_id="p1",
                       label="cat", task_id="t1", actor=ANN)
    async with TestRedisBroker(service.broker) as broker:
        await publish(broker, streams.TASKS, create, reply_to=REPLIES)
        await publish(broker, streams.STATUS, status)
        await publish(broker, streams.TASKS, in_task, reply_to=REPLIES)
    assert repo.tasks["t1"]["name"] == "first"
    [changed, status_changed] = heard.on(events)
    assert TaskChanged.model_validate(changed).change == "created" and changed["correlationId"] == create.id
    assert status_changed["type"] == "ItemStatusChanged" and status_changed["correlationId"] == status.id
    # checked against the task's rules, the classify goes on to the annotation service with
    # its requester's reply address, and no answer of its own
    [forwarded] = heard.on(classify)
    assert forwarded["id"] == in_task.id and forwarded["type"] == "Classify"
    assert heard.headers(classify)[0]["reply_to"] == REPLIES
    assert [h["correlation_id"] for h in heard.headers(REPLIES)] == [create.id]


# --- the workflow service ---------------------------------------------------------------


@pytest.fixture
def workflow(monkeypatch: pytest.MonkeyPatch, relay: Relay) -> Iterator[tuple[Any, FakeWorkflowRepository]]:
    from services.workflow import bootstrap

    repo = FakeWorkflowRepository()
    repo.tasks["t1"] = {"_id": "t1", "projectId": "p1", "allocation": "distribution", "singleClass": True,
                        "availableActions": [{"action": "completed"}], "allocationVersion": 1}
    repo.assignment_docs["a1"] = {"_id": "a1", "taskId": "t1", "annotator": ANN.email,
                                  "itemIds": ["i1", "i2", "i3"], "active": True}
    monkeypatch.setattr(bootstrap, "make_redis", lambda _s: relay)
    monkeypatch.setattr(bootstrap, "connect", lambda *_: MagicMock())
    monkeypatch.setattr(bootstrap, "WorkflowStore", lambda *_: repo)
    service = bootstrap.build(settings())
    relay.broker = service.broker
    yield service, repo


async def test_workflow_commands_answer_on_the_workflow_events_and_auto_complete_on_status(workflow) -> None:
    service, repo = workflow
    heard = Heard()
    events, status = name(streams.WORKFLOW_EVENTS), name(streams.STATUS)
    heard.listen(service.broker, streams_=(events, status), channels=(REPLIES,))
    settings_change = ChangeWorkflowSettings(actor=ANN, task_id="t1", project_id="p1", auto_next=True,
                                             auto_complete=True)
    move = MoveOn(actor=ANN, task_id="t1", project_id="p1", from_item_id="i1")
    async with TestRedisBroker(service.broker) as broker:
        await publish(broker, streams.WORKFLOW, settings_change)
        await publish(broker, streams.WORKFLOW, move, reply_to=REPLIES)
    assert heard.types(events) == ["WorkflowSettingsChanged", "QueueChanged", "MovedOn"]
    [completed] = heard.on(status)
    assert (completed["type"], completed["itemId"], completed["status"]) == ("SetStatus", "i1", "completed")
    [reply] = heard.on(REPLIES)
    assert reply["type"] == "MovedOn" and heard.headers(REPLIES)[0]["correlation_id"] == move.id
    assert set(repo.operations) == {settings_change.id, move.id}


async def test_facts_of_other_services_reach_the_reactions_and_unknown_ones_are_skipped(workflow, relay) -> None:
    service, _ = workflow
    heard = Heard()
    heard.listen(service.broker, streams_=(name(streams.WORKFLOW_EVENTS),))
    view = {"id": "t1", "projectId": "p1", "allocation": "distribution", "singleClass": True,
            "allowNextOnlyOnDone": False, "availableActions": [{"action": "completed"}],
            "metadata": {"system": {"batchSize": None, "maxBatchWorkload": None}}}
    changed = TaskChanged(task_id="t1", project_id="p1", change="created", task=view, actor=MANAGER,
                          assignments=[AssignmentFact(id="a1", annotator=ANN.email, item_ids=["i1", "i2", "i3"])],
                          allocation_version=1)
    async with TestRedisBroker(service.broker) as broker:
        await broker.publish({"type": "SomethingElse", "id": "e1", "actor": MANAGER.model_dump(by_alias=True)},
                             stream=name(streams.TASK_EVENTS))
        await publish(broker, streams.TASK_EVENTS, changed)
    assert "QueueChanged" in heard.types(name(streams.WORKFLOW_EVENTS))  # the task's queues were built
    assert relay.dead == []
