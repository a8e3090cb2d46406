"""The task service's status counts (`task_progress`) on a real MongoDB-wire server: each
command counts once, even when it is handled again after a crash before its outcome was
stored; tasks made before counts were kept are counted from their statuses on first use."""

from __future__ import annotations

import pytest

from services.task.repository import connect
from shared.rules.progress import status_deltas

pytestmark = pytest.mark.integration


@pytest.fixture
async def repo(settings):
    repo = connect(settings.mongodb_url, settings.mongodb_db)
    await repo.insert_task({"_id": "t1", "projectId": "p1"}, [])
    yield repo
    repo.close()


async def test_a_command_handled_twice_before_its_outcome_is_stored_counts_once(repo):
    done = status_deltas([("a1", None, "completed")])
    await repo.count("t1", "c1", done)
    await repo.count("t1", "c1", done)  # the redelivery after a crash
    assert await repo.status_counts("t1") == {("a1", "completed"): 1}


async def test_a_changed_status_moves_the_count_and_a_cleared_one_drops_it(repo):
    await repo.count("t1", "c1", status_deltas([("a1", None, "completed")]))
    await repo.count("t1", "c2", status_deltas([("a1", "completed", "discard")]))
    assert await repo.status_counts("t1") == {("a1", "discard"): 1}
    await repo.count("t1", "c3", status_deltas([("a1", "discard", None)]))
    assert await repo.status_counts("t1") == {}


async def test_guards_of_commands_whose_outcome_is_stored_are_cleared(repo):
    await repo.count("t1", "c1", {("a1", "completed"): 1})
    repo.counted("t1", "c1")
    await repo.count("t1", "c2", {("a1", "completed"): 1})
    progress = await repo.db.task_progress.find_one({"_id": "t1"})
    assert set(progress["applying"]) == {"c2"}


async def test_custom_statuses_with_dots_and_dollars_are_counted(repo):
    await repo.count("t1", "c1", {("a1", "needs.review"): 1, ("a1", "$pending"): 2})
    assert await repo.status_counts("t1") == {("a1", "needs.review"): 1, ("a1", "$pending"): 2}


async def test_a_task_made_before_counts_were_kept_is_counted_from_its_statuses(repo):
    await repo.db.item_statuses.insert_many([
        {"_id": "old:i1", "taskId": "old", "itemId": "i1", "assignmentId": "a1", "status": "completed"},
        {"_id": "old:i2", "taskId": "old", "itemId": "i2", "assignmentId": "a1", "status": None},
        {"_id": "old:i3", "taskId": "old", "itemId": "i3", "assignmentId": "a2", "status": "discard"}])
    await repo.db.tasks.insert_one({"_id": "old", "projectId": "p1"})
    assert await repo.status_counts("old") == {("a1", "completed"): 1, ("a2", "discard"): 1}
    await repo.count("old", "c9", {("a1", "completed"): 1})
    assert await repo.status_counts("old") == {("a1", "completed"): 2, ("a2", "discard"): 1}


# --- status writes from several replicas (repository.write_status) ----------------------------


def status_doc(command_id: str, status: str | None, position: str) -> tuple[dict, dict]:
    doc = {"_id": "t1:i1", "taskId": "t1", "itemId": "i1", "assignmentId": "a1", "status": status,
           "creator": "ann@example.com", "timestamp": "2026-01-01T00:00:00.000Z", "lastCommandId": command_id,
           "position": position}
    log = {"action": "created" if status else "deleted",
           "status": {"taskId": "t1", "assignmentId": "a1", "status": status, "creator": "ann@example.com",
                      "timestamp": "2026-01-01T00:00:00.000Z"}}
    return doc, log


async def stored(repo) -> str | None:
    return (await repo.db.item_statuses.find_one({"_id": "t1:i1"}))["status"]


async def test_a_status_command_older_than_the_items_last_written_one_is_superseded(repo):
    """Two replicas took a set (earlier in the stream) and a clear of one item; the clear was
    written first: the set must not overwrite it."""
    assert await repo.write_status(*status_doc("clear", None, "000000000000200-0000000000")) is not None
    assert await repo.write_status(*status_doc("set", "completed", "000000000000100-0000000000")) is None
    assert await stored(repo) is None


async def test_two_writers_reading_the_same_status_cannot_both_count_from_it(repo):
    """Both read the item without a status; the second write finds it changed and reads again,
    so it reports the first's status as the one it replaced."""
    first = await repo.write_status(*status_doc("c1", "completed", "000000000000100-0000000000"), None)
    second = await repo.write_status(*status_doc("c2", "discard", "000000000000200-0000000000"), None)
    assert (first.previous, second.previous) == (None, "completed")
    assert await stored(repo) == "discard"


async def test_a_command_written_then_overtaken_before_its_outcome_still_knows_what_it_replaced(repo):
    """Written, then its process died before counting; a later command won meanwhile. Its
    redelivery is not applied again, but says what it replaced, so its count is made once."""
    await repo.write_status(*status_doc("c1", "completed", "000000000000100-0000000000"))
    await repo.write_status(*status_doc("c2", None, "000000000000200-0000000000"))
    again = await repo.write_status(*status_doc("c1", "completed", "000000000000100-0000000000"))
    assert (again.previous, again.counted_under, again.current) == (None, "a1", False)
    assert await stored(repo) is None


async def test_a_redelivered_last_write_reports_what_it_replaced_even_after_a_clear(repo):
    for cid, status, pos in (("c1", "completed", "1"), ("c2", None, "2"), ("c3", "completed", "3")):
        await repo.write_status(*status_doc(cid, status, f"00000000000000{pos}-0000000000"))
    again = await repo.write_status(*status_doc("c3", "completed", "000000000000003-0000000000"))
    assert (again.previous, again.current) == (None, True)  # c2 had cleared it
