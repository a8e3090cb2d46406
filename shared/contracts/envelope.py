"""The one envelope every command and event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

SCHEMA_VERSION = 1
_EVENT_NS = uuid.UUID("6f1c3c0e-6d36-4a43-9a3e-0f3f5c8b2a11")


def new_id() -> str:
    return uuid.uuid4().hex


def derived_id(command_id: str, what: str) -> str:
    """A stable id for the event `what` caused by a command: re-handling emits the same id."""
    return uuid.uuid5(_EVENT_NS, f"{command_id}:{what}").hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """Base of all wire models: camelCase JSON, tolerant reading, immutable."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", alias_generator=to_camel, populate_by_name=True
    )

    def wire(self) -> dict:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Actor(Contract):
    """Who caused a message. Written by the gateway after authentication; services trust it."""

    user_id: str
    email: str
    role: str | None = None


class Envelope(Contract):
    """Fields common to every command and event.

    `id` is the message's own id; for a command it is the command id that handlers are
    idempotent on. `correlation_id` is the id of the command a message belongs to (a
    command correlates to itself).
    """

    id: str = Field(default_factory=new_id)
    correlation_id: str = ""
    actor: Actor
    occurred_at: datetime = Field(default_factory=utcnow)
    schema_version: int = SCHEMA_VERSION

    def model_post_init(self, _ctx: object) -> None:
        if not self.correlation_id:
            object.__setattr__(self, "correlation_id", self.id)
