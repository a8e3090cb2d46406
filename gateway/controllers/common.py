"""Helpers shared by the controllers: paging and the caller's identity."""

from __future__ import annotations

from typing import Annotated, TypeVar

from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from gateway.answers import Paged, PendingOperation
from shared.contracts.envelope import utcnow

T = TypeVar("T")


def accepted(kind: type = PendingOperation) -> dict[int, ResponseSpec]:
    """The OpenAPI description of a command's 202 (gateway.dispatch.answer): still running
    past the wait, its outcome at the operation URL."""
    return {202: ResponseSpec(kind, generate_examples=False,
                              description="Accepted, still running: the operation URL (also in "
                              "`Location`) answers its outcome")}


# A delete made by a command answers 204 once done (the route's 200 is never sent).
GONE = {204: ResponseSpec(None, description="Done: nothing to answer")}

Page = Annotated[int, QueryParameter(ge=0, le=1_000_000, description="page number, from 0")]
PageSize = Annotated[int, QueryParameter(ge=1, le=1000, name="pageSize", description="items per page")]


def paged(items: list[T], total: int, page: int, size: int) -> Paged[T]:
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
