"""Reads of an owner's data by request/reply: the gateway asks the owning service, which
answers from its own collections. A query is named (the owner's table says what each name
reads), its arguments are plain JSON, and a read that can be large is paged: the answer says
where the next page starts (`after`), and the asker asks again until it is None.

Requests go on one Redis list per owner (`queries.<owner>`, one replica pops each); the
answer goes to the request's reply channel (FastStream's reply-to and correlation id) as a
BSON document `{"docs": [...], "after": ...}` or `{"error": "..."}`, BSON so that dates and
ids read back exactly as the owner stored them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

TASK = "task"
ANNOTATION = "annotation"
OWNERS = (TASK, ANNOTATION)
PAGE = 1000  # documents per answer of a paged read: each answer stays small, the asker's memory flat

TaskQueryName = Literal[
    "task", "tasks", "task_names", "assignments", "assignment", "queue_remaining", "status_counts",
    "statuses", "statuses_by_id", "memberships", "browse_holders", "browse_statuses", "bulk", "item_refs",
    "task_view",
]
AnnotationQueryName = Literal[
    "annotation", "of_items", "of_dataset", "page_of_dataset", "classes_of_items", "classes_of_dataset", "labels_of_dataset",
    "label_counts", "bulk",
]


class Query(BaseModel):
    """One read asked of an owner: the query's name in its table, its arguments, and for a
    paged read where to start (`after`, from the previous answer) and how many to answer."""

    query: str
    args: dict[str, Any] = Field(default_factory=dict)
    after: Any = None
    limit: int = Field(PAGE, ge=1, le=10 * PAGE)


class TaskQuery(Query):
    query: TaskQueryName


class AnnotationQuery(Query):
    query: AnnotationQueryName


class Answer(BaseModel):
    """What the reply carries (BSON-encoded): the documents, where the next page starts
    (None: the read is complete), or why the owner could not answer."""

    docs: list[Any] = Field(default_factory=list)
    after: Any = None
    error: str | None = None


def channel(owner: str, namespace: str) -> str:
    """The Redis list an owner's replicas take queries from."""
    name = f"queries.{owner}"
    return f"{namespace}.{name}" if namespace else name


def presence(owner: str, namespace: str) -> str:
    """The Redis key that exists while a replica of the owner answers queries: each replica
    sets it again, with a short time to live, while it runs (shared.platform.queries), so
    the asker knows at once that none runs instead of waiting for an answer."""
    return channel(owner, namespace) + ".alive"
