"""The workflow service skips, unread, the annotation facts it never acts on."""

from __future__ import annotations

import json
from types import SimpleNamespace

from services.workflow import reactions as module
from services.workflow.reactions import Reactions


def fact(kind: str, task_id: str | None, spaced: bool = True) -> bytes:
    system = {"taskId": task_id, "assignmentId": "a1"} if task_id else {}
    body = {"id": "e1", "correlationId": "c1", "type": kind, "itemId": "i1",
            "annotation": {"type": "class", "metadata": {"system": system}}}
    return json.dumps(body, separators=(", ", ": ") if spaced else (",", ":")).encode()


def test_only_classifications_outside_known_allocation_tasks_are_read() -> None:
    reactions = Reactions(SimpleNamespace(queues=None))
    assert reactions.classification_may_matter(fact("ItemClassified", "t1"))  # not known yet
    reactions.allocation_tasks["t1"] = True
    assert not reactions.classification_may_matter(fact("ItemClassified", "t1"))
    assert not reactions.classification_may_matter(fact("ItemClassified", "t1", spaced=False))
    assert reactions.classification_may_matter(fact("ItemClassified", "t2"))
    assert reactions.classification_may_matter(fact("ItemClassified", None))
    assert not reactions.classification_may_matter(fact("AnnotationDeleted", "t2"))
    assert reactions.classification_may_matter({"type": "ItemClassified"})  # not as sent: read it


def test_the_allocation_tasks_remembered_are_bounded_and_a_forgotten_one_is_read_again(monkeypatch) -> None:
    monkeypatch.setattr(module, "ALLOCATION_TASKS_KEPT", 2)
    reactions = Reactions(SimpleNamespace(queues=None))
    reactions.allocation_tasks["t1"] = True
    reactions.allocation_tasks["t2"] = True
    assert not reactions.classification_may_matter(fact("ItemClassified", "t1"))  # t1 used last
    reactions.allocation_tasks["t3"] = True  # t2, the least recently used, is forgotten
    assert len(reactions.allocation_tasks) == 2
    assert reactions.classification_may_matter(fact("ItemClassified", "t2"))
    assert not reactions.classification_may_matter(fact("ItemClassified", "t1"))
    assert not reactions.classification_may_matter(fact("ItemClassified", "t3"))
