"""The platform's Lua scripts (the `.lua` files beside the modules that run them), each run
against real Valkey: what it does at its edges. The workflow queue's scripts are driven
through the repository that runs them (services.workflow.repository.RedisQueues); the rest
of their behaviour is covered by tests/integration/test_workflow_service.py."""

from __future__ import annotations

import pytest

from services.workflow import queue
from services.workflow.repository import RedisQueues
from shared.platform.scripts import lua

pytestmark = pytest.mark.integration

WHO = ("t-lua", "ann@example.com")
TTL_MS = 60_000


def decoded(values) -> list[str]:
    return [v.decode() for v in values]


async def test_every_script_compiles_in_the_server(redis):
    texts = [lua("shared.platform", "xadd_many"), lua("gateway", "rate_check"), *queue.scripts().values()]
    for text in texts:
        assert len(await redis.script_load(text)) == 40  # a syntax error raises here


# --- shared/platform/lua/xadd_many.lua ------------------------------------------------------


async def test_xadd_many_adds_every_entry_in_order_and_answers_how_many(redis, settings):
    stream = f"{settings.namespace}:lua.xadd"
    xadd_many = redis.register_script(lua("shared.platform", "xadd_many"))
    assert await xadd_many(keys=[stream], args=["", "__data__", "a", "b", "c"]) == 3
    entries = await redis.xrange(stream)
    assert [fields[b"__data__"] for _, fields in entries] == [b"a", b"b", b"c"]
    assert all(list(fields) == [b"__data__"] for _, fields in entries)


async def test_xadd_many_with_nothing_to_add_creates_no_stream(redis, settings):
    stream = f"{settings.namespace}:lua.xadd.none"
    xadd_many = redis.register_script(lua("shared.platform", "xadd_many"))
    assert await xadd_many(keys=[stream], args=["", "__data__"]) == 0
    assert not await redis.exists(stream)


async def test_xadd_many_trims_to_about_maxlen_and_keeps_the_newest(redis, settings):
    stream = f"{settings.namespace}:lua.xadd.trimmed"
    xadd_many = redis.register_script(lua("shared.platform", "xadd_many"))
    values = [f"v{n}" for n in range(1_000)]
    assert await xadd_many(keys=[stream], args=["10", "__data__", *values]) == 1_000
    length = await redis.xlen(stream)
    assert 10 <= length < 1_000  # `~`: trimmed by whole nodes, never below MAXLEN
    last = await redis.xrevrange(stream, count=1)
    assert last[0][1][b"__data__"] == b"v999"


# --- gateway/lua/rate_check.lua -------------------------------------------------------------


@pytest.fixture
def rate_keys(settings) -> list[str]:
    return [f"{settings.namespace}:revoked:tok", f"{settings.namespace}:ratelimit:tok:1"]


async def test_rate_check_counts_the_windows_requests_and_sets_the_expiry_once(redis, rate_keys):
    check = redis.register_script(lua("gateway", "rate_check"))
    assert await check(keys=rate_keys, args=[100, 120]) == [0, 1]
    assert 0 < await redis.ttl(rate_keys[1]) <= 120
    await redis.expire(rate_keys[1], 50)
    assert await check(keys=rate_keys, args=[100, 120]) == [0, 2]
    assert await redis.ttl(rate_keys[1]) <= 50  # a later request does not push the window on


async def test_rate_check_without_a_limit_leaves_no_counter(redis, rate_keys):
    check = redis.register_script(lua("gateway", "rate_check"))
    assert await check(keys=rate_keys, args=[0, 120]) == [0, 0]
    assert not await redis.exists(rate_keys[1])


async def test_rate_check_tells_a_revoked_token_with_or_without_a_limit(redis, rate_keys):
    check = redis.register_script(lua("gateway", "rate_check"))
    await redis.set(rate_keys[0], "1")
    assert await check(keys=rate_keys, args=[0, 120]) == [1, 0]
    assert await check(keys=rate_keys, args=[5, 120]) == [1, 1]


# --- services/workflow/lua/*.lua: one annotator's queue -------------------------------------


@pytest.fixture
def queues(redis, settings) -> RedisQueues:
    return RedisQueues(redis, settings.namespace, TTL_MS)


async def open_items(queues: RedisQueues) -> list[str]:
    return decoded(await queues.redis.zrange(queues.rm.annotator(*WHO, "open"), 0, -1))


async def leases(queues: RedisQueues) -> dict[str, int]:
    found = await queues.redis.zrange(queues.rm.annotator(*WHO, "leases"), 0, -1, withscores=True)
    return {k.decode(): int(v) for k, v in found}


async def test_a_move_completes_the_item_left_and_arrives_at_the_next_open_one(queues):
    await queues.sync(*WHO, "asg", ["i1", "i2", "i3", "i4"], {"i2"}, False, 100_000)
    first = await queues.move(*WHO, None, False, False, 100_001, asked_ms=1)
    assert (first.from_item, first.completed, first.arrived, first.next_item) == (None, None, "i1", "i3")
    moved = await queues.move(*WHO, "i1", True, False, 100_002, asked_ms=2)
    assert (moved.completed, moved.arrived, moved.next_item, moved.open_items) == ("i1", "i3", "i4", 2)
    assert await open_items(queues) == ["i3", "i4"]
    closing = await queues.redis.zrange(queues.rm.annotator(*WHO, "closing"), 0, -1)
    assert decoded(closing) == ["i1"]  # auto completed: awaiting its status
    state = await queues.state(*WHO)
    assert (state["current"], state["next"]) == ("i3", "i4")


async def test_a_move_older_than_the_last_one_applied_changes_nothing(queues):
    await queues.sync(*WHO, "asg", ["i1", "i2", "i3"], set(), False, 100_000)
    await queues.move(*WHO, None, False, False, 100_001, asked_ms=20)
    stale = await queues.move(*WHO, "i1", True, False, 100_002, asked_ms=10)
    assert stale.stale and stale.completed is None and stale.arrived == "i1"  # where it still is
    assert await open_items(queues) == ["i1", "i2", "i3"]
    assert (await queues.state(*WHO))["current"] == "i1"


async def test_a_move_to_a_named_open_item_goes_there_and_wraps_round_at_the_end(queues):
    await queues.sync(*WHO, "asg", ["i1", "i2", "i3"], set(), False, 100_000)
    assert (await queues.move(*WHO, "i1", False, False, 1, to_item="i3", asked_ms=1)).arrived == "i3"
    wrapped = await queues.move(*WHO, "i3", False, False, 2, asked_ms=2)
    assert (wrapped.arrived, wrapped.next_item) == ("i1", "i2")


async def test_stepping_back_walks_the_history_and_stops_at_its_start(queues):
    await queues.sync(*WHO, "asg", ["i1", "i2", "i3"], set(), False, 100_000)
    for n, item in enumerate(["i1", "i2", "i3"], 1):
        assert (await queues.move(*WHO, None if n == 1 else f"i{n - 1}", False, False, n,
                                  to_item=item, asked_ms=n)).arrived == item
    assert (await queues.step_back(*WHO, False, 10)).item == "i2"
    assert (await queues.step_back(*WHO, False, 11)).item == "i1"
    assert (await queues.step_back(*WHO, False, 12)).item is None


async def test_a_look_answers_the_item_in_hand_and_whats_ahead_without_changing_anything(queues):
    await queues.sync(*WHO, "asg", ["i1", "i2", "i3", "i4"], set(), False, 100_000)
    await queues.move(*WHO, None, False, False, 1, asked_ms=1)
    before = await queues.state(*WHO)
    look = await queues.look(*WHO, None, 2, 2)
    assert (look.item, look.item_is_open, look.open_items, look.ahead) == ("i1", True, 4, ["i2", "i3"])
    assert await queues.state(*WHO) == before


async def test_seeding_a_pulling_queue_leases_its_open_items_and_indexes_the_earliest_expiry(queues):
    synced = await queues.sync(*WHO, "asg", ["i1", "i2", "i3"], {"i3"}, True, 100_000)
    assert (synced.granted, synced.released, synced.expires_ms) == (["i1", "i2"], [], 160_000)
    assert await leases(queues) == {"i1": 160_000, "i2": 160_000}
    assert await queues.due_leases(160_000) == [WHO]
    again = await queues.sync(*WHO, "asg", ["i1"], set(), True, 110_000)  # i2 no longer the annotator's
    assert (again.granted, again.released) == ([], ["i2"])
    assert await leases(queues) == {"i1": 160_000}


async def test_a_status_on_a_leased_item_releases_it_and_no_status_leases_it_again(queues):
    await queues.sync(*WHO, "asg", ["i1", "i2"], set(), True, 100_000)
    [done] = await queues.apply_statuses(*WHO, [("i1", "1", None)], True, 100_500)
    assert (done.changed, done.released, done.granted) == (True, True, False)
    assert await open_items(queues) == ["i2"] and "i1" not in await leases(queues)
    [cleared] = await queues.apply_statuses(*WHO, [("i1", "0", None)], True, 101_000)
    assert (cleared.changed, cleared.granted) == (True, True)
    assert await leases(queues) == {"i1": 161_000, "i2": 160_000}


async def test_an_auto_completion_holds_its_item_until_undone(queues):
    await queues.sync(*WHO, "asg", ["i1", "i2"], set(), False, 100_000)
    await queues.move(*WHO, None, False, False, 1, asked_ms=1)
    await queues.move(*WHO, "i1", True, False, 2, asked_ms=2)  # auto complete: i1 closing
    [cleared] = await queues.apply_statuses(*WHO, [("i1", "0", None)], False, 3)
    assert not cleared.changed and await open_items(queues) == ["i2"]  # still awaiting its status
    [undone] = await queues.apply_statuses(*WHO, [("i1", "undo", None)], False, 4)
    assert undone.changed and await open_items(queues) == ["i1", "i2"]
    [again] = await queues.apply_statuses(*WHO, [("i1", "undo", None)], False, 5)
    assert not again.changed  # nothing closing to undo


async def test_leases_are_renewed_only_once_half_their_time_is_gone_unless_forced(queues):
    await queues.sync(*WHO, "asg", ["i1", "i2"], set(), True, 100_000)
    assert (await queues.renew(*WHO, True, 110_000, force=False)).expires_ms == 0
    early = await queues.renew(*WHO, True, 111_000, force=True)
    assert (early.expires_ms, sorted(early.items)) == (171_000, ["i1", "i2"])
    due = await queues.renew(*WHO, True, 142_000, force=False)
    assert due.expires_ms == 202_000 and await leases(queues) == {"i1": 202_000, "i2": 202_000}


async def test_leaving_returns_unopened_items_at_once_and_holds_the_opened_one(queues):
    await queues.sync(*WHO, "asg", ["i1", "i2", "i3"], set(), True, 100_000)
    await queues.move(*WHO, None, False, True, 100_100, asked_ms=1)  # i1 opened on the page
    left = await queues.leave(*WHO, True, 100_200)
    assert (sorted(left.returning), left.held, left.held_until_ms) == (["i2", "i3"], ["i1"], 160_000)
    assert await open_items(queues) == ["i1"]
    assert sorted(await queues.returning(*WHO)) == ["i2", "i3"]
    assert (await queues.renew(*WHO, True, 150_000, force=True)).expires_ms == 0  # gone: no renewal
    assert (await queues.renew(*WHO, True, 150_000, force=True, back=True)).items == ["i1"]  # back


async def test_expired_leases_send_their_items_back_and_clear_the_item_in_hand(queues):
    await queues.sync(*WHO, "asg", ["i1", "i2"], set(), True, 100_000)
    await queues.move(*WHO, None, False, True, 100_100, asked_ms=1)  # i1 in hand, opened
    assert (await queues.expire(*WHO, 159_999)).expired == []  # not yet
    expiry = await queues.expire(*WHO, 160_000)
    assert (sorted(expiry.expired), expiry.opened, expiry.open_items, expiry.current) == \
        (["i1", "i2"], ["i1"], 0, None)
    assert sorted(await queues.returning(*WHO)) == ["i1", "i2"]
    assert await queues.due_leases(10**12) == []  # nothing left to expire


# --- shared/platform/lua/xadd_acked.lua -----------------------------------------------------


async def test_xadd_acked_adds_publishes_then_acknowledges_the_batch(redis, settings):
    read, written = f"{settings.namespace}:lua.acked.in", f"{settings.namespace}:lua.acked.out"
    await redis.xgroup_create(read, "g", id="0", mkstream=True)
    ids = [await redis.xadd(read, {"__data__": n}) for n in ("c1", "c2")]
    await redis.xreadgroup("g", "me", {read: ">"})
    assert (await redis.xpending(read, "g"))["pending"] == 2
    pubsub = redis.pubsub()
    await pubsub.subscribe("lua.acked.reply")
    await pubsub.get_message(timeout=1)  # the subscription's confirmation
    xadd_acked = redis.register_script(lua("shared.platform", "xadd_acked"))
    assert await xadd_acked(keys=[written, read], args=["", "__data__", "g", 2, 1, "e1", "e2",
                                                       "lua.acked.reply", "r1", *ids]) == 2
    assert [f[b"__data__"] for _, f in await redis.xrange(written)] == [b"e1", b"e2"]
    assert (await redis.xpending(read, "g"))["pending"] == 0
    heard = await pubsub.get_message(timeout=1)
    assert heard is not None and heard["data"] == b"r1"
    await pubsub.aclose()


async def test_xadd_acked_acknowledges_nothing_when_an_entry_cannot_be_added(redis, settings):
    read, written = f"{settings.namespace}:lua.acked.in2", f"{settings.namespace}:lua.acked.notastream"
    await redis.xgroup_create(read, "g", id="0", mkstream=True)
    entry = await redis.xadd(read, {"__data__": "c1"})
    await redis.xreadgroup("g", "me", {read: ">"})
    await redis.set(written, "a string, not a stream")  # XADD on it fails
    xadd_acked = redis.register_script(lua("shared.platform", "xadd_acked"))
    with pytest.raises(Exception, match="WRONGTYPE"):
        await xadd_acked(keys=[written, read], args=["", "__data__", "g", 1, 0, "e1", entry])
    assert (await redis.xpending(read, "g"))["pending"] == 1  # left for redelivery
