"""One contract for the annotation service's repository, run against the in-memory fake
(tests/fakes/annotation.py, what the handler tests use) and the MongoDB one on a real
MongoDB-wire server: the fake stays honest."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.annotation.repository import AnnotationRepository, connect
from tests.fakes.annotation import FakeAnnotationRepository

pytestmark = pytest.mark.integration

EARLY, LATE = "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"


@pytest.fixture(params=["fake", "mongodb"])
async def repo(request: pytest.FixtureRequest) -> AsyncIterator[AnnotationRepository]:
    if request.param == "fake":
        yield FakeAnnotationRepository()
        return
    client, mongo = connect(request.getfixturevalue("mongodb_url"), f"c_{uuid.uuid4().hex[:10]}")
    try:
        yield mongo
    finally:
        await client.drop_database(mongo.db.name)
        client.close()


def image_class(i: str, *, item: str = "i1", label: str = "cat", at: str = EARLY, **extra: Any) -> dict:
    return {"_id": i, "itemId": item, "type": "class", "label": label, "createdAt": at,
            "metadata": {"system": {"attributes": {}}}} | extra


def scene(i: str, *, item: str = "i1", rev: str | None = "c1", **extra: Any) -> dict:
    return {"_id": i, "itemId": item, "type": "class", "label": "run", "createdAt": EARLY,
            "metadata": {"system": {"frame": 0, "endFrame": 10}}, "_scene": {"open": False, "rev": rev}} | extra


async def test_insert_new_reports_the_ids_that_existed_and_keeps_the_first_document(repo):
    assert await repo.insert_new([image_class("a1"), image_class("a2")]) == set()
    assert await repo.insert_new([image_class("a2", label="dog"), image_class("a3")]) == {"a2"}
    stored = await repo.get_many(["a1", "a2", "a3", "missing"])
    assert sorted(stored) == ["a1", "a2", "a3"] and stored["a2"]["label"] == "cat"
    assert await repo.insert_new([]) == set()


async def test_replace_many_replaces_stored_documents_only(repo):
    await repo.insert_new([image_class("a1")])
    await repo.replace_many([image_class("a1", label="dog"), image_class("ghost")])
    assert (await repo.get_many(["a1"]))["a1"]["label"] == "dog"
    assert await repo.get_many(["ghost"]) == {}
    await repo.replace_many([])


async def test_an_outcome_is_stored_once_and_read_back_by_command_id(repo):
    first = {"_id": "c1", "commandType": "Classify", "status": "succeeded", "actorId": "u1",
             "projectId": "p1", "event": {"type": "ItemClassified"}, "events": [{"type": "ItemClassified"}]}
    await repo.save_outcomes([first])
    await repo.save_outcomes([first | {"status": "rejected"}, first | {"_id": "c2"}])
    found = await repo.outcomes(["c1", "c2", "c3"])
    assert sorted(found) == ["c1", "c2"] and found["c1"] == first
    await repo.save_outcomes([])


async def test_replacing_classes_tombstones_the_items_earlier_live_image_classes(repo):
    await repo.insert_new([
        image_class("old"), image_class("keep"), image_class("later", at=LATE),
        image_class("other-item", item="i2"), image_class("gone", _deleted={"commandId": "x"}),
        scene("a-scene"), image_class("a-box", type="box"),
    ])
    tombstone = {"commandId": "c9", "replacedBy": "keep"}
    assert await repo.replace_classes("i1", "keep", EARLY, tombstone) == ["old"]
    stored = await repo.get_many(["old", "keep", "later", "other-item", "gone", "a-scene", "a-box"])
    assert stored["old"]["_deleted"] == tombstone
    assert sorted(i for i, d in stored.items() if "_deleted" in d) == ["gone", "old"]


async def test_video_object_ids_are_reserved_per_item_one_after_the_other(repo):
    assert await repo.next_object_ids({"i1": 2, "i2": 1}) == {"i1": 1, "i2": 1}
    assert await repo.next_object_ids({"i1": 3}) == {"i1": 3}
    assert await repo.next_object_ids({}) == {}


async def test_a_scene_is_replaced_only_while_its_revision_is_the_one_read(repo):
    await repo.insert_new([scene("s1"), scene("s2")])
    assert await repo.replace_unless_changed([(scene("s1", rev="c2", label="walk"), "c1")]) == set()
    lost = await repo.replace_unless_changed([(scene("s1", rev="c3"), "c1"), (scene("s2", rev="c3"), "c1")])
    assert lost == {"s1"}
    stored = await repo.get_many(["s1", "s2"])
    assert (stored["s1"]["_scene"]["rev"], stored["s1"]["label"]) == ("c2", "walk")
    assert stored["s2"]["_scene"]["rev"] == "c3"
    assert await repo.replace_unless_changed([]) == set()


async def test_live_scenes_are_the_items_undeleted_scenes(repo):
    await repo.insert_new([scene("s1"), scene("s2", _deleted={"commandId": "x"}), scene("s3", item="i2"),
                           image_class("a1")])
    assert sorted(await repo.live_scenes("i1")) == ["s1"]


async def test_a_bulk_plan_is_kept_as_first_written_with_its_progress_beside_it(repo):
    assert await repo.bulk_record("b1") is None
    plan = {"_id": "b1", "commandId": "c1", "total": 3, "classified": [["i1", "a"]], "unchanged": [],
            "replaced": {}}
    await repo.save_bulk_record(plan)
    await repo.save_bulk_record(plan | {"total": 99})
    await repo.bulk_progressed("b1", 2)
    await repo.bulk_progressed("b1", 1)
    await repo.mark_bulk("b1", {"state": "completed"})
    assert await repo.bulk_record("b1") == plan | {"done": 2, "state": "completed"}


async def test_live_classes_are_each_items_live_image_classes(repo):
    await repo.insert_new([image_class("a1"), image_class("a2", item="i2", label="dog"),
                           image_class("gone", _deleted={"commandId": "x"}), scene("s1"),
                           image_class("other", item="i3")])
    found = await repo.live_classes(["i1", "i2", "i9"])
    assert {k: sorted((d["_id"], d["label"]) for d in v) for k, v in found.items() if v} == {
        "i1": [("a1", "cat")], "i2": [("a2", "dog")]}


async def test_revive_brings_back_only_what_the_command_tombstoned(repo):
    await repo.insert_new([image_class("a1"), image_class("a2"), image_class("a3", _deleted={"commandId": "x"})])
    await repo.tombstone(["a1", "a2"], {"commandId": "bulk"})
    await repo.revive(["a1", "a3"], "bulk")
    stored = await repo.get_many(["a1", "a2", "a3"])
    assert "_deleted" not in stored["a1"]
    assert stored["a2"]["_deleted"] == {"commandId": "bulk"} and stored["a3"]["_deleted"] == {"commandId": "x"}


async def test_the_repository_answers_its_health_check(repo):
    assert await repo.ping() is True


async def test_calls_made_at_once_each_get_their_own_answer(repo):
    # The runner's handlers call the repository concurrently; the MongoDB one sends calls
    # made at once as one request (shared.platform.coalescing).
    await repo.insert_new([image_class("a1")])
    existed = await asyncio.gather(repo.insert_new([image_class("a1"), image_class("b1")]),
                                   repo.insert_new([image_class("c1")]), repo.insert_new([]))
    assert existed == [{"a1"}, set(), set()]
    found = await asyncio.gather(repo.get_many(["a1", "b1"]), repo.get_many(["c1", "zz"]), repo.get_many([]))
    assert [sorted(f) for f in found] == [["a1", "b1"], ["c1"], []]
    await asyncio.gather(repo.replace_many([image_class("a1", label="dog")]),
                         repo.replace_many([image_class("c1", label="owl")]))
    assert {i: d["label"] for i, d in (await repo.get_many(["a1", "c1"])).items()} == {"a1": "dog", "c1": "owl"}


async def test_a_bulk_chunk_is_inserted_leaving_what_is_there(repo):
    await repo.insert_new([image_class("a1")])
    await repo.insert_chunk([image_class("a1", label="dog"), image_class("a2")])
    stored = await repo.get_many(["a1", "a2"])
    assert (stored["a1"]["label"], stored["a2"]["label"]) == ("cat", "cat")
