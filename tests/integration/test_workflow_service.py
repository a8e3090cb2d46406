"""The workflow service on real servers, through its streams: auto next and auto complete,
the pulling queue and its leases, and the task service taking items back."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from services.workflow import rules
from services.workflow.queue import annotator_keys
from shared.contracts import streams
from shared.contracts.read_model import ReadModel
from shared.contracts.tasks import ReturnItems
from tests.integration.workflow_stack import MANAGER, annotator, running
from tests.waiting import eventually

pytestmark = pytest.mark.integration
ANN1, ANN2 = annotator(1), annotator(2)


@pytest.fixture
async def stack(settings, redis):
    async with running(settings, redis) as s:
        yield s


async def walk(stack, who, task, first: dict, limit: int = 1000) -> list[str]:
    """Move on from item to item until nothing is left; the items arrived at, in order."""
    arrived, moved = [], first
    while moved.get("itemId"):
        arrived.append(moved["itemId"])
        assert len(arrived) <= limit
        moved = await stack.move_on(who, task, moved["itemId"])
        assert moved["type"] == "MovedOn", moved
    return arrived


async def status_unheard_of(stack, task, item_id: str, status: str) -> None:
    """A status the annotator gave an item, stored by the task service, whose fact the
    workflow service has not read (written straight into the task service's data)."""
    assignment = await stack.assignment_of(task, ANN1.email)
    await stack.mongo.item_statuses.insert_one({
        "_id": f"{task['id']}:{item_id}", "taskId": task["id"], "itemId": item_id,
        "assignmentId": assignment["_id"], "status": status, "creator": ANN1.email,
        "lastCommandId": "set-by-the-annotator", "log": []})


async def test_a_single_class_allocation_task_is_walked_in_order_and_every_item_ends_completed(stack):
    items = await stack.items(7)
    task = await stack.create_task([ANN1.email])
    changed = await stack.settings_of(ANN1, task, auto_next=True, auto_complete=True)
    assert changed["type"] == "WorkflowSettingsChanged" and changed["autoComplete"] is True
    first = await stack.move_on(ANN1, task)
    assert first["itemId"] == items[0] and "completedItemId" not in first
    arrived = await walk(stack, ANN1, task, first)
    assert arrived == items  # in work order, none skipped, none repeated

    async def all_completed() -> bool:
        return await stack.statuses(task) == {i: "completed" for i in items}

    for _ in range(200):
        if await all_completed():
            break
        await asyncio.sleep(0.02)
    assert await all_completed()
    completed = [m["completedItemId"] for m in await stack.facts("MovedOn") if m.get("completedItemId")]
    assert completed == items


async def test_auto_next_is_refused_in_a_multi_class_task(stack):
    await stack.items(3)
    task = await stack.create_task([ANN1.email], single_class=False)
    refused = await stack.settings_of(ANN1, task, auto_next=True, auto_complete=False)
    assert refused["type"] == "CommandRejected" and refused["reason"] == "conflict"
    assert "single-class" in refused["message"]


async def test_auto_complete_is_refused_without_auto_next(stack):
    await stack.items(3)
    task = await stack.create_task([ANN1.email])
    refused = await stack.settings_of(ANN1, task, auto_next=False, auto_complete=True)
    assert refused["type"] == "CommandRejected" and refused["reason"] == "invalid"


async def test_without_auto_complete_moving_on_leaves_the_status_alone_and_wraps_round(stack):
    items = await stack.items(3)
    task = await stack.create_task([ANN1.email])
    await stack.settings_of(ANN1, task, auto_next=True, auto_complete=False)
    seen = [(await stack.move_on(ANN1, task))["itemId"]]
    for _ in range(3):
        seen.append((await stack.move_on(ANN1, task, seen[-1]))["itemId"])
    assert seen == [items[0], items[1], items[2], items[0]]  # nothing done: round again
    assert await stack.statuses(task) == {}


async def test_an_item_with_a_status_is_skipped_and_not_overwritten_by_auto_complete(stack):
    items = await stack.items(4)
    task = await stack.create_task([ANN1.email])
    await stack.settings_of(ANN1, task, auto_next=True, auto_complete=True)
    first = await stack.move_on(ANN1, task)
    await stack.set_status(ANN1, task, items[0], "discard")
    await stack.set_status(ANN1, task, items[1], "discard")
    moved = await stack.move_on(ANN1, task, first["itemId"])
    assert moved["itemId"] == items[2] and "completedItemId" not in moved
    await asyncio.sleep(0.2)
    assert (await stack.statuses(task))[items[0]] == "discard"


async def test_auto_complete_never_overwrites_a_status_given_just_before_moving_on(stack):
    """The annotator gives the item in hand a status and moves on before the workflow has heard
    of it (here: its read model never does): auto complete's `completed` leaves it as it is."""
    items = await stack.items(3)
    task = await stack.create_task([ANN1.email])
    await stack.settings_of(ANN1, task, auto_next=True, auto_complete=True)
    first = await stack.move_on(ANN1, task)
    await status_unheard_of(stack, task, first["itemId"], "discard")
    moved = await stack.move_on(ANN1, task, first["itemId"])
    assert moved["completedItemId"] == first["itemId"]  # the read model thought it open
    sent = await stack.wait(streams.STATUS, lambda body: body.get("itemId") == first["itemId"])
    assert sent["status"] == "completed" and sent["ifOpen"] is True
    for _ in range(500):
        if outcome := await stack.mongo.operations.find_one({"_id": sent["id"]}):
            break
        await asyncio.sleep(0.01)
    assert outcome["status"] == "succeeded" and outcome["kept"] == "discard" and outcome["events"] == []
    assert (await stack.statuses(task))[first["itemId"]] == "discard"


async def test_allow_next_only_on_done_refuses_moving_on_from_an_item_without_a_status(stack):
    items = await stack.items(3)
    task = await stack.create_task([ANN1.email], allow_next_only_on_done=True)
    first = await stack.move_on(ANN1, task)
    refused = await stack.move_on(ANN1, task, first["itemId"])
    assert refused["type"] == "CommandRejected" and refused["reason"] == "conflict"
    await stack.set_status(ANN1, task, items[0], "completed")

    async def moved_on() -> bool:
        return (await stack.move_on(ANN1, task, items[0]))["type"] == "MovedOn"

    assert await eventually(moved_on)
    await stack.settings_of(ANN1, task, auto_next=True, auto_complete=True)
    assert (await stack.move_on(ANN1, task, items[1]))["completedItemId"] == items[1]


async def test_allow_next_only_on_done_lets_a_status_given_a_moment_ago_through(stack):
    """A status the read model has not heard of yet (here: never does) is looked up in the task
    service's data before moving on is refused."""
    await stack.items(3)
    task = await stack.create_task([ANN1.email], allow_next_only_on_done=True)
    first = await stack.move_on(ANN1, task)
    await status_unheard_of(stack, task, first["itemId"], "completed")
    moved = await stack.move_on(ANN1, task, first["itemId"])
    assert moved["type"] == "MovedOn" and moved["fromItemId"] == first["itemId"], moved


async def test_stepping_back_goes_through_the_items_worked_on(stack):
    items = await stack.items(4)
    task = await stack.create_task([ANN1.email])
    at = (await stack.move_on(ANN1, task))["itemId"]
    for _ in range(2):
        at = (await stack.move_on(ANN1, task, at))["itemId"]
    assert at == items[2]
    assert (await stack.step_back(ANN1, task))["itemId"] == items[1]
    assert (await stack.step_back(ANN1, task))["itemId"] == items[0]
    refused = await stack.step_back(ANN1, task)
    assert refused["type"] == "CommandRejected" and refused["reason"] == "conflict"
    assert (await stack.move_on(ANN1, task))["itemId"] == items[1]  # next after the one in hand


async def test_someone_without_an_assignment_is_refused(stack):
    await stack.items(2)
    task = await stack.create_task([ANN1.email])
    refused = await stack.move_on(ANN2, task)
    assert refused["type"] == "CommandRejected" and refused["reason"] == "not_found"


async def test_settings_changed_while_the_tasks_queues_are_being_written_are_not_refused(stack, settings, redis):
    """The task's meta and annotators are written before each annotator's queue: a command
    arriving in between finds the caller named by the task and seeds their queue, never
    answering 'you have no assignment'."""
    items = await stack.items(3)
    task = await stack.create_task([ANN1.email])
    rm = ReadModel(settings.namespace)
    for _ in range(200):
        if await redis.hget(rm.annotator(task["id"], ANN1.email, "state"), "assignment"):
            break
        await asyncio.sleep(0.02)
    await redis.delete(*(rm.annotator(task["id"], ANN1.email, part) for part in rm.ANNOTATOR_PARTS))
    changed = await stack.settings_of(ANN1, task, auto_next=True, auto_complete=True)
    assert changed["type"] == "WorkflowSettingsChanged", changed
    await redis.delete(rm.annotator(task["id"], ANN1.email, "state"))
    moved = await stack.move_on(ANN1, task)
    assert moved["type"] == "MovedOn" and moved["itemId"] == items[0], moved


async def test_a_redelivered_move_is_answered_again_and_not_applied_twice(stack):
    items = await stack.items(3)
    task = await stack.create_task([ANN1.email])
    await stack.settings_of(ANN1, task, auto_next=True, auto_complete=True)
    await stack.move_on(ANN1, task)
    from shared.contracts.workflow import MoveOn

    cmd = MoveOn(actor=ANN1, task_id=task["id"], project_id="p1", from_item_id=items[0])
    first = await stack.workflow_command(cmd)
    await stack.send(streams.WORKFLOW, cmd)
    await stack.wait(streams.WORKFLOW_EVENTS,
                     lambda b: b.get("correlationId") == cmd.id and b is not first and b["id"] == first["id"])
    assert (await stack.move_on(ANN1, task, items[1]))["itemId"] == items[2]
    set_status = [b for b in await stack.read(streams.STATUS) if b.get("itemId") == items[0]]
    assert len({b["id"] for b in set_status}) == 1


# --- pulling ---------------------------------------------------------------------------------


async def test_pulling_refills_in_batches_and_never_holds_more_than_the_maximum(stack):
    items = await stack.items(14)
    task = await stack.create_task([ANN1.email], allocation="pulling", batch_size=3, max_batch_workload=5)
    await stack.settings_of(ANN1, task, auto_next=True, auto_complete=True)
    pulled = await stack.pull(ANN1, task)
    assert len(pulled["itemIds"]) == 3
    moved, arrived = await stack.move_on(ANN1, task), []
    while moved.get("itemId"):
        arrived.append(moved["itemId"])
        assert len(await stack.open_items(task, ANN1.email)) <= 5
        moved = await stack.move_on(ANN1, task, moved["itemId"])
        if not moved.get("itemId"):  # the refill may still be on its way
            await asyncio.sleep(0.3)
            moved = await stack.move_on(ANN1, task, arrived[-1])
    assert sorted(arrived) == items and len(set(arrived)) == len(arrived)
    pulls = [b for b in await stack.read(streams.TASK_EVENTS) if b["type"] == "ItemsPulled"]
    assert all(len(p["itemIds"]) <= 3 and p["openItems"] <= 5 for p in pulls)


async def test_pulled_items_are_leased_and_an_idle_annotators_items_go_back_first_in_line(settings, redis):
    async with running(settings, redis, ttl_s=0.6) as stack:
        items = await stack.items(8)
        task = await stack.create_task([ANN1.email, ANN2.email], allocation="pulling", batch_size=3,
                                       max_batch_workload=5)
        taken = (await stack.pull(ANN1, task))["itemIds"]
        granted = await stack.wait(streams.WORKFLOW_EVENTS, lambda b: b["type"] == "LeasesGranted")
        assert granted["itemIds"] == taken and granted["annotator"] == ANN1.email
        expired = await stack.wait(streams.WORKFLOW_EVENTS, lambda b: b["type"] == "LeasesExpired")
        assert sorted(expired["itemIds"]) == sorted(taken)
        back = await stack.wait(streams.WORKFLOW_EVENTS, lambda b: b["type"] == "ItemsReturned")
        assert sorted(back["itemIds"]) == sorted(taken)
        assert await stack.open_items(task, ANN1.email) == []
        assert (await stack.pull(ANN2, task))["itemIds"] == taken  # first in line
        assert items[3] not in taken


async def test_heartbeats_keep_the_leases(settings, redis):
    # 8 heartbeats 0.3 s apart outlast a 1.5 s lease; a 0.6 s lease was outlived by one
    # late heartbeat on a loaded machine
    async with running(settings, redis, ttl_s=1.5) as stack:
        await stack.items(5)
        task = await stack.create_task([ANN1.email], allocation="pulling", batch_size=3, max_batch_workload=5)
        taken = (await stack.pull(ANN1, task))["itemIds"]
        await stack.wait(streams.WORKFLOW_EVENTS, lambda b: b["type"] == "LeasesGranted")
        for _ in range(8):
            renewed = await stack.heartbeat(ANN1, task)
            assert renewed["type"] == "LeasesRenewed" and sorted(renewed["itemIds"]) == sorted(taken)
            await asyncio.sleep(0.3)
        assert await stack.facts("LeasesExpired") == []
        assert sorted(await stack.open_items(task, ANN1.email)) == sorted(taken)


async def test_leaving_returns_unopened_items_at_once_and_opened_ones_when_their_lease_ends(settings, redis):
    async with running(settings, redis, ttl_s=1.0) as stack:
        await stack.items(6)
        task = await stack.create_task([ANN1.email, ANN2.email], allocation="pulling", batch_size=3,
                                       max_batch_workload=5)
        taken = (await stack.pull(ANN1, task))["itemIds"]
        opened = (await stack.move_on(ANN1, task))["itemId"]
        left = await stack.leave(ANN1, task)
        assert left["type"] == "LeftTask" and left["heldItemIds"] == [opened]
        assert sorted(left["returningItemIds"]) == sorted(set(taken) - {opened})
        first = await stack.wait(streams.WORKFLOW_EVENTS, lambda b: b["type"] == "ItemsReturned")
        assert sorted(first["itemIds"]) == sorted(left["returningItemIds"])
        assert await stack.open_items(task, ANN1.email) == [opened]
        expired = await stack.wait(streams.WORKFLOW_EVENTS, lambda b: b["type"] == "LeasesExpired")
        assert expired["itemIds"] == [opened] and expired["openedItemIds"] == [opened]
        await stack.wait(streams.WORKFLOW_EVENTS, lambda b: b["type"] == "ItemsReturned"
                         and b["itemIds"] == [opened])
        assert await stack.open_items(task, ANN1.email) == []


async def test_return_items_keeps_items_with_a_status_and_puts_the_rest_at_the_queue_cursor(stack):
    await stack.items(8)
    task = await stack.create_task([ANN1.email, ANN2.email], allocation="pulling", batch_size=3,
                                   max_batch_workload=5)
    taken = (await stack.pull(ANN1, task))["itemIds"]
    await stack.set_status(ANN1, task, taken[0], "completed")
    assignment = await stack.assignment_of(task, ANN1.email)
    cmd = ReturnItems(actor=MANAGER, task_id=task["id"], project_id="p1", assignment_id=assignment["_id"],
                      item_ids=taken)
    changed = await stack.outcome(streams.TASK_EVENTS, await stack.send(streams.TASKS, cmd))
    assert changed["change"] == "items-returned"
    assert changed["summary"]["returned"] == taken[1:] and changed["summary"]["kept"] == [taken[0]]
    await stack.send(streams.TASKS, cmd)  # a redelivery changes nothing more
    assert (await stack.pull(ANN2, task))["itemIds"][:2] == taken[1:]
    queue = await stack.mongo.assignments.find_one({"taskId": task["id"], "queue": True})
    assert queue["itemIds"].count(taken[1]) == 2  # passed once, handed out again from the cursor
    assert (await stack.assignment_of(task, ANN1.email))["itemIds"] == [taken[0]]


async def test_two_task_service_replicas_pulling_concurrently_never_hand_out_an_item_twice(settings, redis):
    """Pulls by four annotators on two task-service replicas, while items are given back and
    completed: an item is never held by two annotators at once (the e2e test makes 1,000
    pulls over HTTP; this one makes them truly concurrent)."""
    async with running(settings, redis, task_replicas=2, workflow=False) as stack:
        await stack.items(300)
        people = [annotator(n) for n in range(1, 5)]
        task = await stack.create_task([p.email for p in people], allocation="pulling", batch_size=3,
                                       max_batch_workload=6)
        holder: dict[str, str] = {}
        pulled = 0

        async def work(person, pulls: int) -> None:
            nonlocal pulled
            assignment = (await stack.assignment_of(task, person.email))["_id"]
            mine: list[str] = []
            for n in range(pulls):
                got = (await stack.pull(person, task))["itemIds"]
                pulled += len(got)
                for item in got:
                    assert holder.setdefault(item, person.email) == person.email and item not in mine, \
                        f"{item} handed to {person.email} while {holder[item]} holds it"
                mine += got
                if n % 10 == 0 and mine:  # finish one: it never comes back
                    await stack.set_status(person, task, mine.pop(), "completed")
                if n % 3 != 2:
                    continue
                for item in mine:  # give the rest back; someone else may get them next
                    del holder[item]
                cmd = ReturnItems(actor=MANAGER, task_id=task["id"], project_id="p1",
                                  assignment_id=assignment, item_ids=mine)
                if mine:
                    await stack.outcome(streams.TASK_EVENTS, await stack.send(streams.TASKS, cmd))
                mine = []

        await asyncio.gather(*(work(p, 100) for p in people))
        assert pulled > 400
        held: dict[str, str] = {}
        for p in people:  # the task service's records agree: no item in two assignments
            for item in (await stack.assignment_of(task, p.email))["itemIds"]:
                assert held.setdefault(item, p.email) == p.email


# --- the read model's scripts follow the pure rule --------------------------------------------


@hsettings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(n=st.integers(1, 12), data=st.data())
async def test_the_next_item_script_follows_the_pure_rule(redis, settings, n, data):
    rm = ReadModel(settings.namespace)
    keys = annotator_keys(rm, "t-hyp", "a@example.com")
    items = [f"i{k}" for k in range(n)]
    open_items = data.draw(st.lists(st.sampled_from(items), unique=True))
    current = data.draw(st.sampled_from(items + [""]))
    await redis.delete(*keys)
    await redis.hset(keys[2], mapping={i: k for k, i in enumerate(items)})
    if open_items:
        await redis.zadd(keys[1], {i: items.index(i) for i in open_items})
    await redis.hset(keys[0], mapping={"current": current, "assignment": "a"})
    from services.workflow.queue import due_member, scripts

    script = redis.register_script(scripts()["status"])  # an undo of nothing only refreshes `next`
    await script(keys=keys + [rm.annotator("t-hyp", "a@example.com", "seen")],
                 args=[due_member("t-hyp", "a"), 0, 1000, "0", "none", "undo", ""])
    expected = rules.next_after(sorted(open_items, key=items.index), {i: k for k, i in enumerate(items)},
                                current or None)
    stored = (await redis.hget(keys[0], "next") or b"").decode() or None
    assert stored == expected


async def test_a_status_fact_is_applied_as_said_only_when_clearly_the_items_newest(redis, settings):
    """Facts out of order, close to another, or older than the queue's seeding come back to
    be checked against the stored status (lua/status.lua); the newest word is applied."""
    from services.workflow.queue import FACT_GUARD_MS
    from services.workflow.repository import RedisQueues

    queues, g = RedisQueues(redis, settings.namespace, 60_000), FACT_GUARD_MS
    await queues.sync("t-order", "a@example.com", "asg", ["i1", "i2"], set(), False, 100_000)

    async def apply(item: str, has: str, made: int | None, now: int = 500_000) -> tuple[bool, list[str]]:
        [result] = await queues.apply_statuses("t-order", "a@example.com", [(item, has, made)], False, now)
        opened = await redis.zrange(queues.rm.annotator("t-order", "a@example.com", "open"), 0, -1)
        return result.verify, [o.decode() for o in opened]

    assert await apply("i1", "1", 100_000 + g - 1) == (True, ["i1", "i2"])  # made before seeding settled
    assert await apply("i1", "1", 200_000) == (False, ["i2"])  # the newest word: applied
    assert await apply("i1", "0", 190_000) == (True, ["i2"])  # older: checked, not applied
    assert await apply("i1", "0", 200_000 + g - 1) == (True, ["i2"])  # too close to tell
    assert await apply("i1", "0", 200_000 + g) == (False, ["i1", "i2"])  # clearly newer
    assert await apply("i2", "1", None, now=300_000) == (False, ["i1"])  # read just now: applied
    assert await apply("i2", "0", 300_000 + g - 1) == (True, ["i1"])  # close to that read


async def test_a_queue_seeded_by_two_replicas_at_once_keeps_the_newer_reading(redis, settings):
    """Two workflow replicas re-seed one annotator's queue from readings of different ages (two
    pulls' facts handled at once): the older reading, seeded last, is dropped (a lower
    allocation version), and an item whose status fact was applied after a reading began
    keeps what the fact said (lua/sync.lua). Seen under load: bench/replicas.py."""
    from services.workflow.repository import RedisQueues

    queues, who = RedisQueues(redis, settings.namespace, 60_000), ("t-two", "a@example.com")
    open_items = lambda: redis.zrange(queues.rm.annotator(*who, "open"), 0, -1)
    await queues.sync(*who, "asg", ["i1", "i2", "i3", "i4"], set(), True, 100_000, version=6, read_ms=99_000)
    await queues.sync(*who, "asg", ["i1", "i2"], set(), True, 100_100, version=5, read_ms=98_000)
    assert [o.decode() for o in await open_items()] == ["i1", "i2", "i3", "i4"]  # the older reading dropped

    [applied] = await queues.apply_statuses(*who, [("i2", "1", 110_000)], True, 110_000)
    assert not applied.verify
    # a reading begun before that fact (i2 still open in it) is seeded after it: i2 stays done
    await queues.sync(*who, "asg", ["i1", "i2", "i3", "i4"], set(), True, 110_050, version=6, read_ms=109_990)
    assert [o.decode() for o in await open_items()] == ["i1", "i3", "i4"]
    # a reading begun well after the fact is the truth
    await queues.sync(*who, "asg", ["i1", "i2", "i3", "i4"], set(), True, 130_000, version=7, read_ms=129_000)
    assert [o.decode() for o in await open_items()] == ["i1", "i2", "i3", "i4"]
