"""One contract for the workflow service's repository, run against the in-memory fake
(tests/fakes/workflow_repository.py, what the handler tests use) and the real one
(services.workflow.repository.WorkflowStore) on real servers: Valkey for the read model and
the copy of task facts, the MongoDB-wire server for outcome records, and, for what the copy
lacks, a real task service answering from its own collections. The fake stays honest.

The queue scripts' full meaning (leases, pulls, facts out of order) is the Lua scripts' own
suite (tests/integration/test_lua_scripts.py); here, what the fake claims to share with them:
an allocation task's queue walked in work order."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.workflow.repository import TaskOwner, WorkflowRepository, WorkflowStore, connect
from services.workflow.rules import TaskFacts, TaskMeta, WorkflowSettings
from tests.fakes.workflow_repository import FakeWorkflowRepository

pytestmark = pytest.mark.integration

META = TaskMeta(project_id="p1", allocation="distribution", single_class=True, allow_next_only_on_done=False,
                offers_completed=True)
ANN = "ann@example.com"
TASK_DOC = {"_id": "t1", "projectId": "p1", "allocation": "distribution", "singleClass": True,
            "allowNextOnlyOnDone": False, "availableActions": [{"action": "completed"}], "allocationVersion": 4}


def facts(version: int, **holdings: list[str]) -> TaskFacts:
    """Assignment `a-<name>` of annotator `<name>@example.com` holds the items given."""
    return TaskFacts(META, [{"_id": f"a-{who}", "annotator": f"{who}@example.com", "itemIds": items}
                            for who, items in holdings.items()], version)


@contextlib.asynccontextmanager
async def real_repo(settings: Any, redis: Any, *, owner: bool) -> AsyncIterator[WorkflowStore]:
    from services.task.bootstrap import build as build_task
    from shared.platform.messaging import make_broker

    data = connect(settings.mongodb_url, f"w_{uuid.uuid4().hex[:10]}")
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(data.close)
        asker = None
        if owner:
            settings = settings.model_copy(update={"mongodb_db": data.db.name})
            await stack.enter_async_context(build_task(settings).app)
            broker = make_broker(settings)
            await stack.enter_async_context(broker)
            await broker.connect()
            asker = TaskOwner(broker, settings.namespace)
        yield WorkflowStore(redis, settings.namespace, 60_000, data, asker)
        await data.client.drop_database(data.db.name)


@pytest.fixture(params=["fake", "real"])
async def repo(request: pytest.FixtureRequest, settings: Any, redis: Any) -> AsyncIterator[WorkflowRepository]:
    if request.param == "fake":
        yield FakeWorkflowRepository()
        return
    async with real_repo(settings, redis, owner=False) as store:
        yield store


# the copy of task facts ------------------------------------------------------------------------


async def test_a_copy_is_kept_and_one_older_than_the_copy_held_is_ignored(repo):
    assert await repo.task_facts("t1") is None
    assert await repo.keep_task_facts("t1", facts(3, ann=["i1", "i2"]))
    assert not await repo.keep_task_facts("t1", facts(2, ann=["i1"]))  # late or redelivered
    assert await repo.keep_task_facts("t1", facts(3, ann=["i1", "i2"]))  # the same again: harmless
    held = await repo.task_facts("t1")
    assert held is not None and held.version == 3 and held.meta == META
    assert held.assignment("a-ann") == {"_id": "a-ann", "annotator": ANN, "itemIds": ["i1", "i2"]}
    assert await repo.keep_task_facts("t1", facts(5, bob=["i1"], ann=["i2"]))
    held = await repo.task_facts("t1")
    assert held.version == 5 and held.holder() == {"i1": "a-bob", "i2": "a-ann"}


async def test_new_settings_change_a_copy_held_and_never_start_one(repo):
    changed = TaskMeta(**{**META.__dict__, "offers_completed": False})
    assert not await repo.keep_task_meta("t1", changed)
    assert await repo.task_facts("t1") is None
    await repo.keep_task_facts("t1", facts(1, ann=["i1"]))
    assert await repo.keep_task_meta("t1", changed)
    held = await repo.task_facts("t1")
    assert held.meta == changed and held.version == 1 and held.assignment("a-ann")["itemIds"] == ["i1"]


async def test_pulled_items_are_added_only_on_the_copy_they_follow(repo):
    assert not await repo.keep_pulled("t1", "a-ann", ["i3"], 2)  # no copy held
    await repo.keep_task_facts("t1", facts(1, ann=["i1"], bob=[]))
    assert await repo.keep_pulled("t1", "a-ann", ["i2", "i3"], 2)
    assert await repo.keep_pulled("t1", "a-ann", ["i2", "i3"], 2)  # redelivered: held already
    assert not await repo.keep_pulled("t1", "a-bob", ["i9"], 4)  # a pull between not seen yet
    assert not await repo.keep_pulled("t1", "a-new", ["i9"], 3)  # an assignment the copy lacks
    assert await repo.keep_pulled("t1", "a-bob", ["i4", "i1"], 3)  # an item held already is not added twice
    held = await repo.task_facts("t1")
    assert held.version == 3
    assert held.assignment("a-ann")["itemIds"] == ["i1", "i2", "i3"]
    assert held.assignment("a-bob")["itemIds"] == ["i4", "i1"]


async def test_the_newest_word_on_an_items_status_stays(repo):
    await repo.keep_statuses("t1", [("i1", True, 1_000, "a1"), ("i2", True, 1_000, "a1"), ("i3", False, 1_000, "a1")])
    await repo.keep_statuses("t1", [("i1", False, 2_000, "a2"), ("i2", False, 500, "a1")])  # i2's is older
    assert await repo.done_items("t1", ["i1", "i2", "i3", "i4"]) == {"i2"}
    assert await repo.done_items("t2", ["i2"]) == set()  # per task
    found = await repo.statuses([("t1", "i1"), ("t1", "i2"), ("t1", "i4")])
    assert found == {("t1", "i1"): {"status": False, "assignmentId": "a2"},
                     ("t1", "i2"): {"status": True, "assignmentId": "a1"}}
    many = [(f"x{n}", n % 2 == 0, 5, "a1") for n in range(2_500)]  # a bulk's worth, in chunks
    await repo.keep_statuses("t1", many)
    assert len(await repo.done_items("t1", [i for i, *_ in many])) == 1_250


# the read model -----------------------------------------------------------------------------


async def test_a_task_written_names_its_annotators_and_answers_what_it_replaced(repo):
    assert await repo.meta("t1") is None
    assert await repo.write_task("t1", META, {"a1": ANN, "a2": "bob@example.com"}) == {}
    assert await repo.meta("t1") == META
    assert await repo.annotator_of("t1", "a1") == ANN and await repo.annotator_of("t1", "a9") is None
    assert await repo.write_task("t1", META, {"a1": ANN}) == {"a1": ANN, "a2": "bob@example.com"}
    assert await repo.annotators("t1") == {"a1": ANN}


async def test_an_allocation_queue_is_walked_in_work_order_skipping_items_done(repo):
    await repo.write_task("t1", META, {"a1": ANN})
    synced = await repo.sync("t1", ANN, "a1", ["i1", "i2", "i3", "i4"], {"i2"}, False, 1_000, version=1,
                             read_ms=1_000)
    assert (synced.open_items, synced.current, synced.next_item) == (3, None, "i1")  # nothing in hand yet
    assert (await repo.state("t1", ANN))["assignment"] == "a1"
    look = await repo.look("t1", ANN, None, 3, 1_000)
    assert (look.item, look.item_is_open, look.open_items, look.ahead) == (None, False, 3, ["i1", "i3", "i4"])
    assert look.meta["projectId"] == "p1"
    first = await repo.move("t1", ANN, None, False, False, 1_500)
    assert (first.arrived, first.next_item, first.open_items) == ("i1", "i3", 3)
    moved = await repo.move("t1", ANN, "i1", True, False, 2_000)
    assert (moved.from_item, moved.completed, moved.arrived, moved.next_item, moved.open_items) == \
        ("i1", "i1", "i3", "i4", 2)
    [applied] = await repo.apply_statuses("t1", ANN, [("i4", "1", None)], False, 3_000)
    assert applied.changed and applied.open_items == 1
    back = await repo.step_back("t1", ANN, False, 4_000)
    assert back.item == "i1"


async def test_settings_are_kept_per_annotator(repo):
    await repo.write_task("t1", META, {"a1": ANN})
    await repo.sync("t1", ANN, "a1", ["i1"], set(), False, 1_000)
    await repo.save_settings("t1", ANN, WorkflowSettings(auto_next=True, auto_complete=False), True)
    look = await repo.look("t1", ANN, None, 1, 1_000)
    assert WorkflowSettings.of_hash(look.settings) == WorkflowSettings(auto_next=True, auto_complete=False)
    assert look.settings["movesFreely"] == "1"


async def test_one_pull_at_a_time_per_annotator(repo):
    assert await repo.start_pull("t1", ANN)
    assert not await repo.start_pull("t1", ANN)
    assert await repo.start_pull("t1", "bob@example.com")
    await repo.end_pull("t1", ANN)
    assert await repo.start_pull("t1", ANN)


async def test_a_waiting_move_is_taken_off_the_list_once(repo):
    await repo.wait_for_outcome("c1", '{"type": "MoveOn"}')
    assert await repo.waiting_moves() == {"c1": '{"type": "MoveOn"}'}
    assert await repo.take_waiting_move("c1")
    assert not await repo.take_waiting_move("c1")
    assert await repo.waiting_moves() == {}


async def test_an_auto_completion_is_noted_for_its_undo(repo):
    await repo.note_auto_completion("s1", "t1", ANN, "i1")
    assert await repo.auto_completion("s1") == ("t1", ANN, "i1")
    assert await repo.auto_completion("s2") is None


# outcomes ------------------------------------------------------------------------------------


async def test_an_outcome_is_stored_once_and_read_back_by_command_id(repo):
    first = {"_id": "c1", "commandType": "MoveOn", "status": "succeeded", "actorId": "u1", "projectId": "p1",
             "event": {"type": "MovedOn"}, "events": [{"type": "MovedOn"}]}
    await repo.save_outcomes([first])
    await repo.save_outcomes([first | {"status": "rejected"}, first | {"_id": "c2", "status": "rejected"}])
    assert await repo.outcome_statuses(["c1", "c2", "c3"]) == {"c1": "succeeded", "c2": "rejected"}
    found = await repo.outcomes(["c1", "c3"])
    assert list(found) == ["c1"] and found["c1"]["event"] == {"type": "MovedOn"}
    await repo.save_outcomes([])


# the task service asked ------------------------------------------------------------------------


def owners_data() -> dict[str, list[dict[str, Any]]]:
    """The task service's documents: a task, two working assignments, the hidden queue, a
    removed assignment, and statuses (one cleared)."""
    return {
        "tasks": [TASK_DOC],
        "assignments": [
            {"_id": "a1", "taskId": "t1", "annotator": ANN, "itemIds": ["i1", "i2"], "active": True},
            {"_id": "a2", "taskId": "t1", "annotator": "bob@example.com", "itemIds": ["i3"], "active": True},
            {"_id": "q", "taskId": "t1", "itemIds": ["i4"], "active": True, "queue": True, "next": 0},
            {"_id": "a0", "taskId": "t1", "annotator": "old@example.com", "itemIds": [], "active": False,
             "removed": True},
        ],
        "item_statuses": [
            {"_id": "t1:i2", "taskId": "t1", "itemId": "i2", "assignmentId": "a1", "status": "completed"},
            {"_id": "t1:i3", "taskId": "t1", "itemId": "i3", "assignmentId": "a2", "status": None},
        ],
    }


@pytest.fixture(params=["fake", "real"])
async def asking(request: pytest.FixtureRequest, settings: Any, redis: Any) -> AsyncIterator[WorkflowRepository]:
    data = owners_data()
    if request.param == "fake":
        fake = FakeWorkflowRepository()
        fake.tasks = {d["_id"]: d for d in data["tasks"]}
        fake.assignment_docs = {d["_id"]: d for d in data["assignments"]}
        fake.item_statuses = {(d["taskId"], d["itemId"]): d for d in data["item_statuses"]}
        yield fake
        return
    async with real_repo(settings, redis, owner=True) as store:
        for name, docs in data.items():
            await store.data.db[name].insert_many(docs)
        yield store


async def test_a_task_never_seen_is_asked_of_the_task_service(asking):
    found = await asking.ask_task("t1", 5_000)
    assert found is not None
    facts_found, statuses = found
    assert facts_found.version == 4 and facts_found.meta == META
    assert sorted(a["_id"] for a in facts_found.assignments) == ["a1", "a2"]  # working ones only
    assert facts_found.assignment("a1") == {"_id": "a1", "annotator": ANN, "itemIds": ["i1", "i2"]}
    assert sorted(statuses) == [("i2", True, 5_000, "a1"), ("i3", False, 5_000, "a2")]
    assert await asking.ask_task("t9", 5_000) is None


async def test_an_assignment_and_statuses_are_asked_as_the_task_service_holds_them_now(asking):
    assert await asking.ask_assignment("t1", "a1") == (["i1", "i2"], 4)
    assert await asking.ask_assignment("t1", "a0") is None  # not working any more
    assert await asking.ask_assignment("t2", "a1") is None  # another task's
    assert await asking.ask_statuses("t1", ["i1", "i2", "i3"]) == {"i2": True, "i3": False}
