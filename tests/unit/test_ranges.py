"""Which bytes a Range header asks for, and when If-None-Match / If-Range match an ETag."""

from __future__ import annotations

import pytest

from gateway.ranges import ByteRange, Unsatisfiable, none_match, range_applies, requested_range

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("header", "expected"), [
    ("bytes=0-99", ByteRange(0, 99)),
    ("bytes=100-", ByteRange(100, 999)),
    ("bytes=-100", ByteRange(900, 999)),
    ("bytes=-5000", ByteRange(0, 999)),  # a suffix longer than the file: all of it
    ("bytes=990-5000", ByteRange(990, 999)),  # an end past the file is clamped
    ("bytes=999-999", ByteRange(999, 999)),
    ("Bytes = 5 - 9", ByteRange(5, 9)),
])
def test_a_single_range_is_clamped_to_the_file(header, expected):
    assert requested_range(header, 1000) == expected


@pytest.mark.parametrize("header", [None, "", "bytes=0-1,5-9", "items=0-9", "bytes=a-b", "bytes=-",
                                    "0-9", "bytes=1-2-3"])
def test_no_range_several_ranges_another_unit_or_bad_syntax_mean_the_whole_file(header):
    assert requested_range(header, 1000) is None


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=-0", "bytes=9-5"])
def test_a_range_outside_the_file_is_unsatisfiable(header):
    with pytest.raises(Unsatisfiable) as refused:
        requested_range(header, 1000)
    assert refused.value.size == 1000


def test_an_empty_file_satisfies_no_range():
    with pytest.raises(Unsatisfiable):
        requested_range("bytes=0-", 0)
    with pytest.raises(Unsatisfiable):
        requested_range("bytes=-1", 0)


def test_a_range_writes_its_content_range_and_length():
    assert ByteRange(0, 99).content_range(1000) == "bytes 0-99/1000"
    assert ByteRange(0, 99).length == 100


def test_if_none_match_compares_weakly_and_accepts_a_list_or_a_star():
    assert none_match('"abc"', '"abc"')
    assert none_match('W/"abc"', '"abc"')
    assert none_match('"x", "abc"', '"abc"')
    assert none_match("*", '"abc"')
    assert not none_match('"abcd"', '"abc"')
    assert not none_match(None, '"abc"')


def test_if_range_keeps_the_range_only_for_the_same_strong_etag():
    assert range_applies(None, '"abc"')
    assert range_applies('"abc"', '"abc"')
    assert not range_applies('"other"', '"abc"')
    assert not range_applies('W/"abc"', '"abc"')
    assert not range_applies("Wed, 21 Oct 2015 07:28:00 GMT", '"abc"')
