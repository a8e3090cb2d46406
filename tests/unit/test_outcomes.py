"""For the commands whose outcome the gateway looks for on the event streams (those not
replied to, gateway.outcomes), it decodes only the events a request waits for: the
correlation id is found in the bytes as sent."""

from __future__ import annotations

import asyncio
import json

from gateway.outcomes import OutcomeHub, correlation_of
from shared.contracts.envelope import Actor
from shared.contracts.events import CommandRejected

ACTOR = Actor(user_id="u1", email="a@x.io", role="annotator")


def test_correlation_is_read_from_either_json_spelling_without_decoding() -> None:
    body = {"id": "e1", "correlationId": "c1", "nested": {"correlationId": "other"}}
    assert correlation_of(json.dumps(body).encode()) == "c1"
    assert correlation_of(json.dumps(body, separators=(",", ":")).encode()) == "c1"
    assert correlation_of(body) == "c1"
    assert correlation_of(b'{"id": "e1", "correlationId": null}') == ""
    assert correlation_of(b"not json") == ""


def test_hub_resolves_only_the_awaited_outcome_and_skips_what_it_cannot_read() -> None:
    async def scenario() -> None:
        hub = OutcomeHub()
        waited = hub.expect("cmd-1", replied=False)
        rejected = CommandRejected(correlation_id="cmd-1", actor=ACTOR, command_type="Classify",
                                   reason="invalid", message="no")
        other = CommandRejected(correlation_id="cmd-2", actor=ACTOR, command_type="Classify",
                                reason="invalid", message="no")
        hub.deliver([b'{"correlationId": "cmd-1", broken', other.model_dump_json(by_alias=True).encode()])
        assert not waited.done()
        hub.deliver([json.dumps(rejected.wire()).encode()])
        assert isinstance(waited.result(), CommandRejected)
        assert waited.result().correlation_id == "cmd-1"

    asyncio.run(scenario())
