"""HTTP bodies of the bulk classification endpoints (strict, camelCase)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from gateway.schemas import Body
from shared.bulk import MAX_ITEMS


class BulkFilterIn(Body):
    """A saved filter over the task's items: an assignment, an item status ("none": items
    without a status), or both."""

    assignment_id: str | None = Field(None, max_length=100)
    status: str | None = Field(None, min_length=1, max_length=50)


class BulkClassifyIn(Body):
    item_ids: list[str] | None = Field(None, min_length=1, max_length=MAX_ITEMS)
    filter: BulkFilterIn | None = None
    label: str = Field(min_length=1, max_length=1000)
    attributes: dict[str, Any] = Field(default_factory=dict)
    mode: Literal["classify", "classify-and-set-status"] = "classify"
    status: str | None = Field(None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _consistent(self) -> BulkClassifyIn:
        if (self.item_ids is None) == (self.filter is None):
            raise ValueError("give itemIds or filter (exactly one)")
        if self.status is not None and self.mode != "classify-and-set-status":
            raise ValueError("status goes with mode 'classify-and-set-status'")
        return self
