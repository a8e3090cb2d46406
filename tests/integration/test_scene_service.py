"""The annotation service's `scene` stream against real Redis and MongoDB-wire servers: scene
commands in, Dataloop scene annotations stored, annotation events out, redelivery harmless."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from bson import ObjectId
from faststream.redis.parser import BinaryMessageFormatV1

from services.annotation.bootstrap import build
from services.annotation.bootstrap import handle_commands as handle_scene_commands
from shared.contracts import streams
from shared.contracts.envelope import Actor
from shared.contracts.scene_commands import (
    DeleteScene,
    HideFrames,
    PaintScenes,
    SceneCommand,
    SetSceneEnd,
    StartScene,
    SwitchIn,
    UnhideFrames,
)
from shared.rules.scenes import Video

pytestmark = pytest.mark.integration

ACTOR = Actor(user_id="u1", email="ann@example.com", role="manager")
VIDEO = Video(fps=25, frame_count=75, duration=3.0)
COMMON = dict(actor=ACTOR, item_id="i1", dataset_id="d1", project_id="p1", recipe_id="r1",
              video=VIDEO)


def start_cmd(**over: Any) -> StartScene:
    return StartScene(**(COMMON | {"annotation_id": str(ObjectId()), "frame": 10,
                                   "label": "running"} | over))


async def publish(svc, settings, cmd: SceneCommand) -> None:
    await svc.broker.publish(cmd.wire(), stream=streams.stream(streams.SCENE, settings.namespace))


async def events_of(redis, settings, command_id: str, count: int = 1) -> list[dict]:
    """The events answering `command_id` (waits until `count` arrived)."""
    name = streams.stream(streams.ANNOTATION_EVENTS, settings.namespace)
    for _ in range(200):
        found = []
        for _, fields in await redis.xrange(name):
            body = json.loads(BinaryMessageFormatV1.parse(fields[b"__data__"])[0])
            if body.get("correlationId") == command_id:
                found.append(body)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.025)
    raise AssertionError(f"no event for {command_id}")


async def send(svc, settings, redis, cmd: SceneCommand) -> dict:
    await publish(svc, settings, cmd)
    return (await events_of(redis, settings, cmd.id))[0]


def system(doc: dict) -> dict:
    return doc["metadata"]["system"]


async def test_a_started_scene_is_stored_open_to_the_last_frame_and_announced(settings, redis):
    svc = build(settings)
    async with svc.app:
        cmd = start_cmd()
        event = await send(svc, settings, redis, cmd)
        assert event["type"] == "ItemClassified" and event["itemId"] == "i1"
        doc = await svc.repo.annotations.find_one({"_id": cmd.annotation_id})
        assert (system(doc)["frame"], system(doc)["endFrame"], system(doc)["endTime"]) == (10, 74, 3.0)
        assert system(doc)["startTime"] == 0.4 and system(doc)["snapshots_"] == []
        assert system(doc)["objectId"] == "1" and doc["_scene"]["open"] is True
        assert event["annotation"]["metadata"]["system"]["endFrame"] == 74
        assert "_scene" not in event["annotation"]
        second = start_cmd(frame=0, label="walking")
        await send(svc, settings, redis, second)
        doc2 = await svc.repo.annotations.find_one({"_id": second.annotation_id})
        assert system(doc2)["objectId"] == "2"


async def test_end_hide_unhide_and_delete_travel_through_the_scene_stream(settings, redis):
    svc = build(settings)
    async with svc.app:
        cmd = start_cmd()
        await send(svc, settings, redis, cmd)
        ids = {"annotation_id": cmd.annotation_id}
        ended = await send(svc, settings, redis, SetSceneEnd(**COMMON, **ids, end_frame=60))
        assert ended["type"] == "AnnotationUpdated"
        assert ended["previous"]["endFrame"] == 74 and ended["annotation"]["metadata"]["system"]["endTime"] == 2.4
        await send(svc, settings, redis, HideFrames(**COMMON, **ids, first=20, last=40))
        await send(svc, settings, redis, UnhideFrames(**COMMON, **ids, first=25, last=30))
        doc = await svc.repo.annotations.find_one({"_id": cmd.annotation_id})
        assert [(s["frame"], s["objectVisible"]) for s in system(doc)["snapshots_"]] == [
            (20, False), (25, True), (31, False), (41, True)]
        assert doc["_scene"]["open"] is False and system(doc)["endFrame"] == 60
        gone = await send(svc, settings, redis, DeleteScene(**COMMON, **ids))
        assert gone["type"] == "AnnotationDeleted"
        assert (await svc.repo.annotations.find_one({"_id": cmd.annotation_id}))["_deleted"]
        late = await send(svc, settings, redis, HideFrames(**COMMON, **ids, first=20, last=21))
        assert late["type"] == "CommandRejected" and late["reason"] == "not_found"


async def test_a_refused_scene_command_stores_nothing_and_says_why(settings, redis):
    svc = build(settings)
    async with svc.app:
        bad = start_cmd(frame=80)
        event = await send(svc, settings, redis, bad)
        assert event["type"] == "CommandRejected" and event["reason"] == "invalid"
        assert event["details"]["errors"][0]["field"] == "frame"
        assert await svc.repo.annotations.find_one({"_id": bad.annotation_id}) is None
        cmd = start_cmd()
        await send(svc, settings, redis, cmd)
        before = await svc.repo.annotations.find_one({"_id": cmd.annotation_id})
        hidden_start = HideFrames(**COMMON, annotation_id=cmd.annotation_id, first=10, last=12)
        event = await send(svc, settings, redis, hidden_start)
        assert event["reason"] == "invalid" and event["details"]["errors"][0]["field"] == "from"
        assert await svc.repo.annotations.find_one({"_id": cmd.annotation_id}) == before


async def test_play_to_paint_stores_every_scene_in_one_command(settings, redis):
    svc = build(settings)
    async with svc.app:
        cmd = PaintScenes(**COMMON, annotation_ids=[str(ObjectId()), str(ObjectId())], switches=[
            SwitchIn(frame=0, label="running"), SwitchIn(frame=10), SwitchIn(frame=20, label="running"),
            SwitchIn(frame=50, label="walking")])
        event = await send(svc, settings, redis, cmd)
        assert event["type"] == "ItemClassified" and len(event["annotations"]) == 2
        run, walk = [await svc.repo.annotations.find_one({"_id": i}) for i in cmd.annotation_ids]
        assert (system(run)["frame"], system(run)["endFrame"], run["_scene"]["open"]) == (0, 49, False)
        assert [(s["frame"], s["objectVisible"]) for s in system(run)["snapshots_"]] == [(10, False), (20, True)]
        assert (system(walk)["frame"], system(walk)["endFrame"], walk["_scene"]["open"]) == (50, 74, True)
        assert {system(run)["objectId"], system(walk)["objectId"]} == {"1", "2"}


async def test_a_redelivered_scene_command_changes_nothing_and_answers_the_same(settings, redis):
    svc = build(settings)
    async with svc.app:
        cmd = start_cmd()
        first = await send(svc, settings, redis, cmd)
        await publish(svc, settings, cmd)  # the same command id again
        again = (await events_of(redis, settings, cmd.id, 2))[1]
        assert again["id"] == first["id"] and again["annotation"] == first["annotation"]
        assert await svc.repo.annotations.count_documents({}) == 1
        hide = HideFrames(**COMMON, annotation_id=cmd.annotation_id, first=20, last=30)
        hidden = await send(svc, settings, redis, hide)
        await publish(svc, settings, hide)
        replay = (await events_of(redis, settings, hide.id, 2))[1]
        assert replay == hidden
        assert await svc.repo.operations.count_documents({}) == 2


async def test_a_command_redelivered_after_a_crash_before_its_outcome_was_saved(settings):
    # The effect is durable but the outcome is not (the process died in between): the
    # redelivery must not apply the change twice, and must emit the same event again.
    svc = build(settings)
    async with svc.app:
        published: list[Any] = []

        async def collect(events: list[Any]) -> None:
            published.extend(events)

        run = dict(repo=svc.repo, base_url="http://testserver", publish=collect)
        cmd = start_cmd()
        hide = HideFrames(**COMMON, annotation_id=cmd.annotation_id, first=20, last=30)
        unhide = UnhideFrames(**COMMON, annotation_id=cmd.annotation_id, first=25, last=25)
        await handle_scene_commands([cmd, hide, unhide], **run)
        stored = await svc.repo.annotations.find_one({"_id": cmd.annotation_id})
        await svc.repo.operations.delete_many({})
        again = await handle_scene_commands([cmd, hide, unhide], **run)
        assert [e.id for e in again] == [e.id for e in published[:3]]
        assert await svc.repo.annotations.find_one({"_id": cmd.annotation_id}) == stored
        assert [(s["frame"], s["objectVisible"]) for s in system(stored)["snapshots_"]] == [
            (20, False), (25, True), (26, False), (31, True)]


async def test_two_consumers_changing_one_scene_at_once_keep_both_changes(settings):
    # Two replicas of the service each hold one command for the same scene: each reads the
    # scene, changes it and writes it back. Writes are conditional on the revision read, so
    # the later writer reads again instead of overwriting the other's change.
    svc = build(settings)
    async with svc.app:
        async def ignore(_: list[Any]) -> None:
            return None

        run = dict(repo=svc.repo, base_url="http://testserver", publish=ignore)
        cmd = start_cmd()
        await handle_scene_commands([cmd], **run)
        for round_ in range(5):
            first = 20 + 10 * round_
            hide = HideFrames(**COMMON, annotation_id=cmd.annotation_id, first=first, last=first + 2)
            end = SetSceneEnd(**COMMON, annotation_id=cmd.annotation_id, end_frame=70 - round_)
            results = await asyncio.gather(handle_scene_commands([hide], **run),
                                           handle_scene_commands([end], **run))
            assert [r[0].type for r in results] == ["AnnotationUpdated", "AnnotationUpdated"]
        doc = await svc.repo.annotations.find_one({"_id": cmd.annotation_id})
        assert system(doc)["endFrame"] == 66
        assert [(s["frame"], s["objectVisible"]) for s in system(doc)["snapshots_"]] == [
            (f, visible) for start in (20, 30, 40, 50, 60) for f, visible in ((start, False), (start + 3, True))]
