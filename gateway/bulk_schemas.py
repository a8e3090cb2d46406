"""HTTP bodies of the bulk classification endpoints (strict, camelCase)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from gateway.schemas import Body
from shared.contracts.bulk import MAX_ITEMS


class BulkFilterIn(Body):
    """A filter over the task's items (combined with AND): an assignment, an item status
    ("none": items without a status), and the task browser's fields (gateway.browse_rules).
    With any browser field the gateway resolves the filter to item ids itself."""

    assignment_id: str | None = Field(None, max_length=100)
    status: str | None = Field(None, min_length=1, max_length=50)
    label: str | None = Field(None, min_length=1, max_length=1000,
                              description="a label path; its child labels match too")
    assignee: str | None = Field(None, min_length=3, max_length=320, description="an annotator's email")
    annotated: bool | None = Field(None, description="holds at least one class annotation, or none")
    name: str | None = Field(None, min_length=1, max_length=200,
                             description="case-insensitive substring of the item's name")
    dir: str | None = Field(None, min_length=1, max_length=1000,
                            description="a folder: items in it or below it")

    @property
    def browses(self) -> bool:
        """Whether a browser field is set (the gateway resolves the filter to ids)."""
        return any(v is not None for v in (self.label, self.assignee, self.annotated, self.name, self.dir))

    def browse_query(self) -> dict[str, str | None]:
        """The filter as the task browser's query values (gateway.browse_rules.check_filter)."""
        annotated = None if self.annotated is None else str(self.annotated).lower()
        return {"status": self.status, "label": self.label, "assignee": self.assignee,
                "annotated": annotated, "name": self.name, "dir": self.dir,
                "assignmentId": self.assignment_id}


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
