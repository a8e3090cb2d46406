"""Input limits of every route, set here once: body size, how deep JSON may nest, the range
of its integers, and dates that stay within years 1-9999 in UTC.

Free-form JSON (an item's `metadata`, a classification's `attributes`) is stored as it came,
so without these a hostile body reached MongoDB and failed there with a 500: BSON holds
signed 8-byte integers, documents nested at most 100 levels (metadata is stored two levels
down) and no NUL in a key; Python's JSON decoder gives up on bodies nested about a
thousand levels deep. `LimitedRequest` checks every JSON body before validation, so a body
that breaks a limit is refused with a 422 naming the field, before anything is changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import Empty

from gateway.errors import unprocessable
from shared.rules.labels import Problem

MAX_BODY = 8 * 1024 * 1024  # a task of 200,000 item ids is 5.4 MB; uploads have their own
MAX_DEPTH = 32  # levels of JSON objects and arrays, the body itself being the first
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # BSON's signed 8-byte integer
MAX_PROBLEMS = 10
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
DATE_RULE = "must fall within years 1 to 9999 once converted to UTC"


def beyond_limits(value: dict[str, Any] | list[Any], path: str = "", top: str = "body",
                  depth: int = 1) -> Iterator[Problem]:
    """Where a decoded JSON body breaks a limit: an integer by its dotted path, nesting by
    the top-level field it is in."""
    if depth > MAX_DEPTH:
        yield Problem(top, f"must not nest deeper than {MAX_DEPTH} levels")
        return
    is_dict = type(value) is dict
    for key, inner in value.items() if is_dict else enumerate(value):  # type: ignore[union-attr]
        kind = type(inner)
        if is_dict and "\x00" in key:
            yield Problem(f"{path}.{key}" if path else key, "must not contain a NUL character")
        if kind is int:
            if not INT_MIN <= inner <= INT_MAX:
                yield Problem(f"{path}.{key}" if path else str(key),
                              "must be an integer from -2^63 to 2^63-1")
        elif kind is dict or kind is list:
            here = f"{path}.{key}" if path else str(key)
            yield from beyond_limits(inner, here, top if path else here, depth + 1)


def _too_deep_field(body: bytes) -> str:
    """The top-level field whose value nests too deep for the decoder (which has given up,
    so the body is scanned: strings skipped whole, only brackets counted)."""
    depth, key, field = 0, b'"body"', b'"body"'
    in_object = body.lstrip()[:1] == b"{"
    for token in _TOKENS.finditer(body):
        mark = token.group()
        if mark[:1] == b'"':
            key = mark if depth == 1 else key
        elif mark in b"[{":
            depth += 1
            field = key if depth == 2 and in_object else field
            if depth > MAX_DEPTH:
                break
        else:
            depth -= 1
    try:
        return str(msgspec.json.decode(field))
    except msgspec.DecodeError:
        return "body"


def decode_within_limits(body: bytes) -> Any:
    """The JSON value of a request body, or a 422 naming where it breaks a limit."""
    try:
        value = msgspec.json.decode(body)
    except RecursionError:
        field = _too_deep_field(body)
        raise unprocessable([Problem(field, f"must not nest deeper than {MAX_DEPTH} levels")],
                            "the body breaks an input limit") from None
    except msgspec.DecodeError as exc:
        raise unprocessable([Problem("body", f"must be valid JSON: {exc}")],
                            "the body is not valid JSON") from None
    if type(value) in (dict, list) and (problems := list(islice(beyond_limits(value), MAX_PROBLEMS))):
        raise unprocessable(problems, "the body breaks an input limit")
    return value


class LimitedRequest(Request):
    """Litestar's request whose JSON body is checked against the limits as it is decoded."""

    async def json(self) -> Any:
        if self._json is Empty and self._connection_state.json is Empty:
            body = await self.body()
            self._json = self._connection_state.json = decode_within_limits(body or b"null")
        return await super().json()


def outside_utc_years(moment: datetime) -> bool:
    """Whether an aware moment falls outside years 1-9999 in UTC (which BSON cannot hold)."""
    if moment.tzinfo is None:
        return False
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return True
    return False


def within_utc_years(moment: Any, field: str, source: str = "query") -> None:
    if isinstance(moment, datetime) and outside_utc_years(moment):
        raise unprocessable([Problem(field, DATE_RULE)], source=source)


def too_large_handler(request: Request, exc: HTTPException) -> Response[dict[str, Any]]:
    """413 in the API's error shape, with the limit of the route asked."""
    limit = request.route_handler.resolve_request_max_body_size() or MAX_BODY
    errors = [{"field": "body", "rule": f"must be at most {limit} bytes", "source": "body"}]
    return Response({"status_code": 413, "detail": exc.detail, "errors": errors}, status_code=413)
