"""Another team's service consumes the platform's events the way docs/service-to-service.md
says: the documented ACL line, applied to a real server, lets it read the event streams in
its own group and nothing else; the documented decoder reads the entries."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import pytest
from faststream.redis import RedisBroker, StreamSub
from redis.asyncio import Redis
from redis.exceptions import NoPermissionError, ResponseError

from shared.contracts import streams

pytestmark = pytest.mark.e2e

DOC = (Path(__file__).resolve().parents[2] / "docs" / "service-to-service.md").read_text()
POLO = "men's clothes.polo shirts"


def documented_rules(namespace: str, password: str) -> list[str]:
    line = next(ln for ln in DOC.splitlines() if ln.startswith("user events-reader on "))
    line = line.replace("${REDIS_EVENTS_PASSWORD}", password).replace("~clf.", f"~{namespace}.")
    return line.split()[2:]


def documented_decoder():
    code = re.search(r"```python\n(import json.*?def event_of.*?)```", DOC, re.S).group(1)
    scope: dict = {}
    exec(code, scope)  # the snippet other teams copy
    return scope["event_of"]


def as_user(url: str, user: str, password: str) -> str:
    return url.replace("redis://", f"redis://{user}:{password}@", 1)


@pytest.fixture
async def reader(settings, redis):
    """The documented read-only user (under a unique name), and a client signed in as it."""
    name, password = f"events-reader-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    await redis.execute_command("ACL", "SETUSER", name, *documented_rules(settings.namespace, password))
    url = as_user(settings.redis_url, name, password)
    client = Redis.from_url(url)
    yield client, url
    await client.aclose()
    await redis.execute_command("ACL", "DELUSER", name)


async def test_another_team_reads_events_in_its_own_group_and_cannot_touch_anything_else(
    platform, reader, settings
):
    client, _ = reader
    manager = await platform.add_member("mgr@example.com", "manager")
    made = (await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations", {"label": POLO},
                                token=manager)).json()
    events = streams.stream(streams.ANNOTATION_EVENTS, settings.namespace)
    await client.xgroup_create(events, "analytics", id="0", mkstream=True)
    [(_, entries)] = await client.xreadgroup("analytics", "analytics-1", {events: ">"}, count=10)
    event = documented_decoder()(entries[0][1])
    assert event["type"] == "ItemClassified" and event["annotation"]["id"] == made["id"]
    assert event["actor"]["email"] == "mgr@example.com" and event["actor"]["role"] == "manager"
    assert event["projectId"] == platform.ids["project"]
    assert await client.xack(events, "analytics", entries[0][0]) == 1

    commands = streams.stream(streams.CLASSIFY, settings.namespace)
    refused = [
        client.xadd(events, {"__data__": b"forged"}),
        client.xtrim(events, maxlen=0),
        client.xdel(events, entries[0][0]),
        client.xgroup_destroy(events, streams.WORKFLOW_GROUP),
        client.xgroup_setid(events, streams.WORKFLOW_GROUP, "0"),
        client.xrange(commands),
        client.xreadgroup(streams.ANNOTATION_GROUP, "x", {commands: ">"}),
        client.get(f"{settings.namespace}:revoked:x"),
        client.delete(events),
        client.publish(f"{settings.namespace}:gateway:invalidate", "projects:x"),
    ]
    for attempt in refused:
        with pytest.raises(NoPermissionError):
            await attempt


async def test_a_faststream_consumer_of_another_team_works_with_the_read_only_user(
    platform, reader, settings
):
    client, url = reader
    events = streams.stream(streams.ANNOTATION_EVENTS, settings.namespace)
    await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations", {"label": POLO})
    try:
        await client.xgroup_create(events, "billing", id="0", mkstream=True)
    except ResponseError as exc:  # pragma: no cover - BUSYGROUP
        assert "BUSYGROUP" in str(exc)
    seen: asyncio.Queue = asyncio.Queue()
    broker = RedisBroker(url, logger=None)

    @broker.subscriber(stream=StreamSub(events, group="billing", consumer="billing-1"))
    async def on_event(event: dict) -> None:
        await seen.put(event)

    await broker.start()
    try:
        event = await asyncio.wait_for(seen.get(), 10)
    finally:
        await broker.stop()
    assert event["type"] == "ItemClassified" and event["actor"]["role"] == "owner"


async def test_the_command_on_the_stream_carries_the_actor_and_role_the_gateway_checked(platform, redis):
    annotator = await platform.add_member("ann@example.com", "annotator")
    commands = streams.stream(streams.CLASSIFY, platform.settings.namespace)
    await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations", {"label": POLO})
    refused = await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations", {"label": POLO},
                                  token=annotator)
    assert refused.status_code == 403
    entries = await redis.xrange(commands)
    assert len(entries) == 1  # the annotator's attempt never reached the stream
    command = documented_decoder()(entries[0][1])
    assert command["actor"]["email"] == "owner@example.com" and command["actor"]["role"] == "owner"
