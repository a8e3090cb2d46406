"""HTTP bodies of the workflow endpoints (next/previous item, settings, heartbeats): strict,
camelCase."""

from __future__ import annotations

from pydantic import Field

from gateway.schemas import Body


class WorkflowSettingsIn(Body):
    auto_next: bool = Field(description="Auto next item: a classification moves on at once "
                            "(single-class tasks only)")
    auto_complete: bool = Field(False, description="Auto complete: the item left gets the status "
                                "'completed' (only with autoNext)")


class MoveOnIn(Body):
    item_id: str | None = Field(None, min_length=1, max_length=64,
                                description="the item in hand; default: the one the queue holds")


class HeartbeatIn(Body):
    item_id: str | None = Field(None, min_length=1, max_length=64,
                                description="the item open on the page")
