"""One task's items in memory for the task browser: in name order, with numpy arrays of
each item's status, assignment, folder and class labels, so a filter is a few vectorised
masks and a page is a slice. Pure, no I/O: gateway.browse loads it from MongoDB and feeds it
the platform's events (as sent: camelCase JSON objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gateway.browse_rules import NO_STATUS, BrowseFilter, in_dir, label_matches

NONE = -1


@dataclass
class Rows:
    """What a task's index is built from, as read from the stores."""

    items: list[dict[str, Any]]  # {_id, name, dir, createdAt, thumbnailFileId?}
    holders: dict[str, str | None]  # item -> assignment id (None: waiting in a pulling queue)
    annotators: dict[str, str | None]  # assignment id -> annotator's email
    statuses: dict[str, str] = field(default_factory=dict)  # item -> status
    classes: dict[str, dict[str, str]] = field(default_factory=dict)  # item -> {annotation: label}
    offered: list[str] = field(default_factory=list)  # the task's statuses


class TaskIndex:
    def __init__(self, rows: Rows) -> None:
        items = sorted((i for i in rows.items if i["_id"] in rows.holders),
                       key=lambda i: (i["name"].casefold(), i["name"], i["_id"]))
        n = self.n = len(items)
        self.ids = [i["_id"] for i in items]
        self.pos = {item: p for p, item in enumerate(self.ids)}
        self.names = [i["name"] for i in items]
        self.lows = [name.lower() for name in self.names]
        self.created = [i.get("createdAt") or "" for i in items]
        self.thumbs = np.array([bool(i.get("thumbnailFileId")) for i in items], dtype=bool)
        self.by_created = np.array(sorted(range(n), key=lambda p: (self.created[p], self.ids[p])),
                                   dtype=np.int64)
        self.dir_names: list[str] = sorted({i.get("dir") or "/" for i in items})
        codes = {d: c for c, d in enumerate(self.dir_names)}
        self.dirs = np.array([codes[i.get("dir") or "/"] for i in items], dtype=np.int32)
        self.offered = list(rows.offered)
        self.status_names: list[str] = []
        self.status_codes: dict[str, int] = {}
        self.status = np.full(n, NONE, dtype=np.int16)
        self.assignment_ids: list[str] = []
        self.annotators: list[str | None] = []
        self.assignment_codes: dict[str, int] = {}
        self.assignment = np.full(n, NONE, dtype=np.int32)
        for a, email in rows.annotators.items():
            self._assignment_code(a, email)
        self.classes: dict[int, dict[str, str]] = {}
        self.label_counts: dict[str, np.ndarray] = {}
        self.class_count = np.zeros(n, dtype=np.int32)
        for p, item in enumerate(self.ids):
            if (holder := rows.holders.get(item)) is not None:
                self.assignment[p] = self._assignment_code(holder, rows.annotators.get(holder))
            if (st := rows.statuses.get(item)) is not None:
                self.status[p] = self._status_code(st)
            for annotation, label in rows.classes.get(item, {}).items():
                self._add_class(p, annotation, label)

    def item_facts(self) -> dict[str, dict[str, Any]]:
        """What the index knows of its items that never changes (an item is not renamed or
        moved): a rebuild reads only the items it does not hold yet."""
        return {item: {"_id": item, "name": self.names[p], "dir": self.dir_names[self.dirs[p]],
                       "createdAt": self.created[p], "thumbnailFileId": bool(self.thumbs[p])}
                for p, item in enumerate(self.ids)}

    # codes ----------------------------------------------------------------------------------

    def _status_code(self, status: str) -> int:
        if status not in self.status_codes:
            self.status_codes[status] = len(self.status_names)
            self.status_names.append(status)
        return self.status_codes[status]

    def _assignment_code(self, assignment: str, annotator: str | None) -> int:
        if assignment not in self.assignment_codes:
            self.assignment_codes[assignment] = len(self.assignment_ids)
            self.assignment_ids.append(assignment)
            self.annotators.append(annotator)
        return self.assignment_codes[assignment]

    def statuses(self) -> set[str]:
        """The statuses a filter may name: the task's, and any an item still holds."""
        held = {self.status_names[c] for c in np.unique(self.status) if c != NONE}
        return set(self.offered) | held

    # classes --------------------------------------------------------------------------------

    def _add_class(self, p: int, annotation: str, label: str) -> None:
        mine = self.classes.setdefault(p, {})
        if annotation in mine:
            self._remove_class(p, annotation)
            mine = self.classes.setdefault(p, {})
        mine[annotation] = label
        counts = self.label_counts.get(label)
        if counts is None:
            counts = self.label_counts[label] = np.zeros(self.n, dtype=np.int32)
        counts[p] += 1
        self.class_count[p] += 1

    def _remove_class(self, p: int, annotation: str) -> None:
        mine = self.classes.get(p)
        if not mine or annotation not in mine:
            return
        label = mine.pop(annotation)
        self.label_counts[label][p] -= 1
        self.class_count[p] -= 1
        if not mine:
            del self.classes[p]

    # facts ----------------------------------------------------------------------------------

    def holds(self, item: str) -> bool:
        return item in self.pos

    def apply(self, fact: dict[str, Any]) -> bool:
        """Apply one event; False when the index cannot follow it and must be rebuilt."""
        kind = fact.get("type")
        if kind == "ItemStatusChanged":
            return self._status_changed(fact)
        if kind == "ItemsPulled":
            code = self._assignment_code(fact["assignmentId"], (fact.get("actor") or {}).get("email"))
            for item in fact.get("itemIds", []):
                if item in self.pos:
                    self.assignment[self.pos[item]] = code
            return True
        if kind == "TaskChanged":
            return self._task_changed(fact)
        p = self.pos.get(fact.get("itemId", ""))
        if p is None:
            return True
        if kind == "ItemClassified":
            for annotation in fact.get("annotations") or [fact["annotation"]]:
                if annotation.get("type") == "class":
                    self._add_class(p, annotation["id"], annotation["label"])
            for replaced in fact.get("replaced", []):
                self._remove_class(p, replaced)
        elif kind == "AnnotationUpdated":
            annotation = fact["annotation"]
            if annotation["id"] in self.classes.get(p, {}):
                self._add_class(p, annotation["id"], annotation["label"])
        elif kind == "AnnotationDeleted":
            self._remove_class(p, fact["annotationId"])
        return True

    def _status_changed(self, fact: dict[str, Any]) -> bool:
        p = self.pos.get(fact["itemId"])
        if p is None or fact["assignmentId"] not in self.assignment_codes:
            return False  # an item or assignment this index has not seen: rebuild
        status = fact.get("status")
        self.status[p] = NONE if status is None else self._status_code(status)
        self.assignment[p] = self.assignment_codes[fact["assignmentId"]]
        return True

    def _task_changed(self, fact: dict[str, Any]) -> bool:
        change = fact.get("change")
        if change == "statuses":
            self.offered = [a["action"] for a in (fact.get("task") or {}).get("availableActions", [])]
            return True
        if change == "items-returned":
            for item in (fact.get("summary") or {}).get("returned", []):
                if item in self.pos:
                    self.assignment[self.pos[item]] = NONE
            return True
        return False  # items added or removed, redistributed, reassigned: who holds what moved

    # queries --------------------------------------------------------------------------------

    def mask(self, f: BrowseFilter) -> np.ndarray:
        keep = np.ones(self.n, dtype=bool)
        if f.status is not None:
            code = NONE if f.status == NO_STATUS else self.status_codes.get(f.status, -2)
            keep &= self.status == code
        if f.assignee is not None:
            codes = [c for c, email in enumerate(self.annotators) if email == f.assignee]
            keep &= np.isin(self.assignment, codes)
        if f.assignment_id is not None:
            keep &= self.assignment == self.assignment_codes.get(f.assignment_id, -2)
        if f.annotated is not None:
            keep &= (self.class_count > 0) if f.annotated else (self.class_count == 0)
        if f.label is not None:
            labelled = np.zeros(self.n, dtype=bool)
            for label, counts in self.label_counts.items():
                if label_matches(label, f.label):
                    labelled |= counts > 0
            keep &= labelled
        if f.dir is not None:
            keep &= np.isin(self.dirs, [c for c, d in enumerate(self.dir_names) if in_dir(d, f.dir)])
        if f.name is not None:
            needle = f.name
            keep &= np.fromiter((needle in s for s in self.lows), dtype=bool, count=self.n)
        return keep

    def select(self, f: BrowseFilter) -> np.ndarray:
        """Positions of the matching items, in the filter's sort order."""
        keep = self.mask(f)
        if f.sort.lstrip("-") == "createdAt":
            found = self.by_created[keep[self.by_created]]
        else:
            found = np.flatnonzero(keep)
        return found[::-1] if f.sort.startswith("-") else found

    def row(self, p: int, api: str) -> dict[str, Any]:
        item = self.ids[p]
        a = int(self.assignment[p])
        s = int(self.status[p])
        return {
            "id": item, "name": self.names[p], "dir": self.dir_names[self.dirs[p]],
            "createdAt": self.created[p] or None,
            "thumbnail": f"{api}/items/{item}/thumbnail" if self.thumbs[p] else None,
            "stream": f"{api}/items/{item}/stream",
            "status": None if s == NONE else self.status_names[s],
            "assignmentId": None if a == NONE else self.assignment_ids[a],
            "assignee": None if a == NONE else self.annotators[a],
            "classes": [{"annotationId": k, "label": v} for k, v in self.classes.get(p, {}).items()],
        }
