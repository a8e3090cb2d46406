"""The task service's status counts (`task_progress`) on a real MongoDB-wire server: each
command counts once, even when it is handled again after a crash before its outcome was
stored; tasks made before counts were kept are counted from their statuses."""

from __future__ import annotations

import pytest

from services.task.repository import connect
from shared.tasks import status_deltas

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
    await repo.count_uncounted_tasks()
    assert await repo.status_counts("old") == {("a1", "completed"): 1, ("a2", "discard"): 1}
    await repo.count("old", "c9", {("a1", "completed"): 1})
    assert await repo.status_counts("old") == {("a1", "completed"): 2, ("a2", "discard"): 1}
