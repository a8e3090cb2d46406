"""Helpers shared by the controllers: paging and the caller's identity."""

from __future__ import annotations

from typing import Annotated, Any

from litestar.params import QueryParameter

from shared.contracts.envelope import utcnow

Page = Annotated[int, QueryParameter(ge=0, le=1_000_000, description="page number, from 0")]
PageSize = Annotated[int, QueryParameter(ge=1, le=1000, name="pageSize", description="items per page")]


def paged(items: list[dict[str, Any]], total: int, page: int, size: int) -> dict[str, Any]:
    """Dataloop's paged-entity shape."""
    return {
        "items": items,
        "totalItemsCount": total,
        "totalPagesCount": (total + size - 1) // size,
        "page": page,
        "pageSize": size,
        "hasNextPage": (page + 1) * size < total,
    }


def now_iso() -> str:
    moment = utcnow()
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
