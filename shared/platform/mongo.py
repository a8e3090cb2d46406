"""MongoDB reads and writes over many values, in slices.

The embedded MongoDB-wire server (secantus) checks every document a query finds against the
whole `$in` list, so one query over a long list costs (documents found x values listed) and
grows with the square of the list. MongoDB itself does not mind; slicing costs it a few round
trips. Every `$in` over a caller-sized list goes through here. Figures and who uses it:
docs/fast-paths.md, `$in` in slices.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

IN_SLICE = 50  # found documents each slice checks against: small while slices find much
MAX_SLICE = 500  # a slice finding almost nothing grows up to this: one that then finds all
# of its values costs MAX_SLICE² checks, the worst a wrong guess can cost


def slices(values: Iterable[Any], size: int = IN_SLICE) -> Iterator[list[Any]]:
    values = list(values)
    for n in range(0, len(values), size):
        yield values[n:n + size]


async def find_in(collection: Any, field: str, values: Iterable[Any], query: dict[str, Any] | None = None,
                  projection: dict[str, Any] | None = None,
                  sort: list[tuple[str, int]] | None = None) -> list[dict[str, Any]]:
    """Documents whose `field` is one of `values` (and match `query`), read slice by slice.
    A slice that finds little doubles the next one, a slice that finds much starts small
    again: 10,000 ids of which none exist are a few queries, 10,000 that all exist are two
    hundred small ones. `sort`
    orders each slice, so documents sharing a value keep their order."""
    values, found, size, n = list(values), [], IN_SLICE, 0
    while n < len(values):
        part = values[n:n + size]
        cursor = collection.find({field: {"$in": part}} | (query or {}), projection)
        if sort:
            cursor = cursor.sort(sort)
        docs = [d async for d in cursor]
        found += docs
        n += len(part)
        size = min(size * 2, MAX_SLICE) if len(docs) * 10 < len(part) else IN_SLICE
    return found


async def update_in(collection: Any, field: str, values: Iterable[Any], update: dict[str, Any],
                    query: dict[str, Any] | None = None) -> None:
    """`update_many` on the documents whose `field` is one of `values`, slice by slice (the
    documents to update are expected to exist)."""
    for part in slices(values):
        await collection.update_many({field: {"$in": part}} | (query or {}), update)
