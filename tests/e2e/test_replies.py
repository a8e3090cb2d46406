"""Outcomes come back by request/reply: the service that answers a command sends its
outcome to the reply channel the gateway named, and the gateway answers from it without
reading the event streams for it (gateway.outcomes)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

POLO = "men's clothes.polo shirts"


def event_streams_unread_for_outcomes(gateway) -> list[str]:
    """Makes the gateway's event reader unable to resolve any request; the commands it was
    asked to look for are recorded."""
    looked_for: list[str] = []
    original = gateway.hub.deliver

    def deliver(raws):
        looked_for.extend(gateway.hub.scanned)
        gateway.hub.scanned.clear()
    gateway.hub.deliver = deliver
    return looked_for


async def test_a_classify_is_answered_from_its_reply_not_from_the_event_streams(platform):
    looked_for = event_streams_unread_for_outcomes(platform.gateway)
    r = await platform.post(f"/api/v1/items/{platform.ids['item']}/annotations", {"label": POLO})
    assert r.status_code == 201, r.text
    assert r.json()["label"] == POLO
    assert looked_for == []
