"""HTTP range and validator rules for served files (RFC 9110 §13-14): which bytes a `Range`
header asks for, and whether an `If-None-Match` or `If-Range` matches an ETag. Pure, no I/O.

One range per request is served (what `<video>` and `<audio>` ask for); a header naming
several ranges, another unit or bad syntax is ignored and the whole file is sent, which the
RFC allows. A range that is well formed but outside the file is unsatisfiable (416).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as Content-Range writes it

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


class Unsatisfiable(ValueError):
    """The range names no byte of the file: answer 416 with `Content-Range: bytes */size`."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the range is outside the file's {size} bytes")
        self.size = size


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range `header` asks for within a file of `size` bytes, clamped to it;
    None for the whole file. Raises Unsatisfiable."""
    if not header or "," in header:
        return None
    match = _SPEC.match(header)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # a suffix: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable(size)
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or (last != "" and int(last) < start):
        raise Unsatisfiable(size)
    return ByteRange(start, end)


def _tags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]


def none_match(header: str | None, etag: str) -> bool:
    """True when `If-None-Match` names this ETag (weak comparison) or is `*`: answer 304."""
    if not header:
        return False
    tags = _tags(header)
    return "*" in tags or etag.removeprefix("W/") in tags


def range_applies(if_range: str | None, etag: str) -> bool:
    """`If-Range`: the range holds only while the file is the one the client has (a strong
    ETag match); a date or another tag means send the whole file."""
    return if_range is None or (not if_range.strip().startswith("W/") and if_range.strip() == etag)
