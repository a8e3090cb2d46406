"""The input limits as pure functions: where a decoded body breaks one, which field a body
too deep for the decoder is deep in, and which dates BSON cannot hold."""

from __future__ import annotations

from datetime import datetime

import pytest

from gateway.errors import Unprocessable
from gateway.limits import MAX_DEPTH, beyond_limits, decode_within_limits, outside_utc_years

pytestmark = pytest.mark.unit


def fields(body: bytes) -> list[str]:
    with pytest.raises(Unprocessable) as refused:
        decode_within_limits(body)
    return [e["field"] for e in refused.value.extra]


def test_integers_are_named_by_their_path_and_may_reach_both_ends_of_64_bits():
    body = {"a": [2**63 - 1, -(2**63)], "b": {"c": [0, 2**63]}, "d": -(2**63) - 1, "e": True}
    assert [p.field for p in beyond_limits(body)] == ["b.c.1", "d"]


def test_nesting_is_named_by_the_top_level_field_it_is_in():
    deep: object = 1
    for _ in range(MAX_DEPTH):
        deep = [deep]
    assert [p.field for p in beyond_limits({"ok": [[1]], "metadata": deep})] == ["metadata"]
    assert not list(beyond_limits({"metadata": deep[0]}))  # type: ignore[index]


def test_a_body_too_deep_for_the_decoder_names_its_field_past_strings_that_look_like_brackets():
    body = b'{"x": "a\\"{[", "y": [1], "metadata": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert fields(body) == ["metadata"]
    assert fields(b"[" * 5000 + b"]" * 5000) == ["body"]
    assert fields(b"{not json") == ["body"]


def test_a_date_is_refused_when_utc_would_leave_years_1_to_9999():
    assert outside_utc_years(datetime.fromisoformat("9999-12-31T23:59:59-14:00"))
    assert outside_utc_years(datetime.fromisoformat("0001-01-01T00:00:00+01:00"))
    assert not outside_utc_years(datetime.fromisoformat("9999-12-31T09:59:59-14:00"))
    assert not outside_utc_years(datetime.fromisoformat("9999-12-31T23:59:59"))  # naive: UTC
