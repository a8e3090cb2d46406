"""HTTP bodies of the task endpoints (strict, camelCase)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from gateway.schemas import Body

ACTION = r"^[A-Za-z0-9][\w .-]{0,49}$"


class StatusIn(Body):
    action: str = Field(pattern=ACTION)
    display_name: str = Field(min_length=1, max_length=100)
    color: str = Field("#999999", pattern=r"^#[0-9a-fA-F]{6}$")
    icon: str | None = Field(None, max_length=100)


class WorkloadIn(Body):
    assignee_id: str = Field(min_length=3, max_length=320)
    load: float = Field(ge=0, le=100)


class FilterIn(Body):
    dir: str | None = Field(None, max_length=1000)
    mimetype_prefix: str | None = Field(None, max_length=100)
    name_prefix: str | None = Field(None, max_length=500)


class Selection(Body):
    item_ids: list[str] | None = Field(None, min_length=1, max_length=200_000)
    filter: FilterIn | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Selection:
        if self.item_ids is not None and self.filter is not None:
            raise ValueError("give itemIds or filter, not both")
        return self


class TaskIn(Selection):
    name: str = Field(min_length=1, max_length=200)
    dataset_id: str
    recipe_id: str | None = None
    due_date: datetime | None = None
    priority: Literal[1, 2, 3] = 2
    assignees: list[str] = Field(min_length=1, max_length=500)
    workload: list[WorkloadIn] | None = None
    available_actions: list[StatusIn] | None = Field(None, min_length=1, max_length=50)
    single_class: bool = True
    allocation: Literal["distribution", "pulling"] = "distribution"
    batch_size: int | None = None
    max_batch_workload: int | None = None
    allowed_assignees: list[str] | None = None
    consensus: bool = False
    allow_next_only_on_done: bool = False


class TaskPatch(Body):
    name: str | None = Field(None, min_length=1, max_length=200)
    add_statuses: list[StatusIn] = Field(default_factory=list, max_length=50)
    remove_statuses: list[str] = Field(default_factory=list, max_length=50)


class RedistributeIn(Body):
    workload: list[WorkloadIn] = Field(min_length=1, max_length=500)


class ReassignIn(Body):
    annotator: str = Field(min_length=3, max_length=320)


class ItemStatusIn(Body):
    status: str = Field(min_length=1, max_length=50)
