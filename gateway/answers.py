"""Typed answers: what an endpoint returns, declared as its return type so the OpenAPI
document describes the answer (field names as on the wire, camelCase). HTTP schemas, apart
from the event contracts: they change for different reasons."""

from __future__ import annotations

import msgspec


class Answer(msgspec.Struct, rename="camel", kw_only=True):
    """An answer's fields in snake_case here, camelCase in the JSON."""


class Me(Answer):
    """The caller (GET /users/me)."""

    id: str
    email: str


class WorkflowSettings(Answer):
    """The caller's Auto next item and Auto complete settings in a task, and whether the
    task allows them (Auto complete comes only with Auto next, which only single-class
    tasks allow)."""

    task_id: str
    auto_next: bool
    auto_complete: bool
    auto_next_available: bool
    auto_complete_available: bool
