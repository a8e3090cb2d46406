"""The annotation service against real Redis and MongoDB-wire servers."""

from __future__ import annotations

import asyncio

import pytest
from bson import ObjectId

from services.annotation.bootstrap import build
from shared.contracts import streams
from shared.contracts.commands import Classify
from shared.contracts.envelope import Actor

pytestmark = pytest.mark.integration

ACTOR = Actor(user_id="u1", email="ann@example.com", role="annotator")


def classify(**over) -> Classify:
    fields = dict(
        annotation_id=str(ObjectId()), item_id="i1", dataset_id="d1", project_id="p1",
        label="cat", attributes={}, actor=ACTOR,
    )
    return Classify(**(fields | over))


async def test_classify_command_is_stored_and_announced(settings, redis):
    svc = build(settings)
    async with svc.app:
        cmd = classify()
        await svc.broker.publish(cmd.wire(), stream=streams.stream(streams.CLASSIFY, settings.namespace))
        for _ in range(100):
            doc = await svc.repo.annotations.find_one({"_id": cmd.annotation_id})
            if doc:
                break
            await asyncio.sleep(0.05)
        assert doc["label"] == "cat" and doc["creator"] == "ann@example.com"
        events = await redis.xrange(streams.stream(streams.ANNOTATION_EVENTS, settings.namespace))
        for _ in range(50):
            if events:
                break
            await asyncio.sleep(0.05)
            events = await redis.xrange(streams.stream(streams.ANNOTATION_EVENTS, settings.namespace))
        assert len(events) == 1
