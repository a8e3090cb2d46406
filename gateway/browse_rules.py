"""The task browser's filter: what the query parameters of `GET /tasks/{id}/items` (and a
bulk's browse filter) may say, checked and normalised. Pure, no I/O: the index that answers
it is gateway.browse.

Every parameter is optional and they combine with AND:
- `status`: a status of the task (its `availableActions`, or one its items still hold after
  it was removed from the task), or `none` for items without a status;
- `label`: a label path of the task's recipe; an item matches when one of its class
  annotations has that label **or a label below it** (`men's clothes` matches
  `men's clothes.polo shirts`);
- `assignee`: an annotator's email: items of that annotator's assignment;
- `annotated`: `true` (at least one class annotation) or `false` (none);
- `name`: a case-insensitive substring of the item's name;
- `dir`: a folder: items in it or in any folder below it (`/a` matches `/a` and `/a/b`,
  not `/ab`);
- `sort`: `name` (the default), `-name`, `createdAt`, `-createdAt`; ties by item id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.rules.labels import Problem

SORTS = ("name", "-name", "createdAt", "-createdAt")
NO_STATUS = "none"
MAX_IDS = 100_000
MAX_NAME = 200
MAX_DIR = 1000
MAX_LABEL = 1000
MAX_EMAIL = 320


@dataclass(frozen=True)
class BrowseFilter:
    """A checked filter; None means "any"."""

    status: str | None = None  # a status, or NO_STATUS
    label: str | None = None
    assignee: str | None = None
    annotated: bool | None = None
    name: str | None = None  # lower case
    dir: str | None = None  # normalised: "/" or "/a/b" (no trailing slash)
    assignment_id: str | None = None  # bulk filters only
    sort: str = "name"

    @property
    def narrows(self) -> bool:
        return any(v is not None for v in (self.status, self.label, self.assignee, self.annotated,
                                           self.name, self.dir, self.assignment_id))


def _text_problem(value: str, most: int) -> str | None:
    if not value:
        return "must not be empty"
    if len(value) > most:
        return f"has at most {most} characters"
    if any(ord(c) < 32 for c in value):
        return "must not hold control characters"
    return None


def normal_dir(value: str) -> str:
    return "/" + value.strip("/") if value.strip("/") else "/"


def in_dir(item_dir: str, folder: str) -> bool:
    """Whether an item's folder is `folder` or below it (both normalised)."""
    return folder == "/" or item_dir == folder or item_dir.startswith(folder + "/")


def label_matches(label: str, wanted: str) -> bool:
    """Whether a class with `label` answers a filter on `wanted`: the same path or a child."""
    return label == wanted or label.startswith(wanted + ".")


def parse_annotated(value: str | None) -> tuple[bool | None, list[Problem]]:
    if value is None:
        return None, []
    if value in ("true", "false"):
        return value == "true", []
    return None, [Problem("annotated", "must be true or false")]


def check_filter(raw: dict[str, Any], statuses: set[str], labels: set[str] | None,
                 ) -> tuple[BrowseFilter, list[Problem]]:
    """The filter from the raw query values (strings or None, `annotated` as the string sent),
    and every rule broken. `statuses`: what the task's items may hold; `labels`: the recipe's
    label paths (None: not checked)."""
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    for field, most in (("status", 50), ("label", MAX_LABEL), ("assignee", MAX_EMAIL),
                        ("name", MAX_NAME), ("dir", MAX_DIR), ("assignmentId", 100)):
        value = raw.get(field)
        if value is None:
            continue
        if (why := _text_problem(value, most)) is not None:
            problems.append(Problem(field, why))
        else:
            values[field] = value
    status = values.get("status")
    if status is not None and status != NO_STATUS and status not in statuses:
        shown = ", ".join(sorted(statuses)) or "none offered"
        problems.append(Problem("status", f"is not a status of this task ({shown}), nor 'none' "
                                          "for items without a status"))
    label = values.get("label")
    if label is not None and labels is not None and label not in labels:
        problems.append(Problem("label", "is not a label path of the task's recipe (e.g. "
                                         "'men's clothes.polo shirts')"))
    assignee = values.get("assignee")
    if assignee is not None and "@" not in assignee:
        problems.append(Problem("assignee", "must be an annotator's email"))
    directory = values.get("dir")
    if directory is not None and not directory.startswith("/"):
        problems.append(Problem("dir", "must be a folder path starting with '/'"))
    annotated, annotated_problems = parse_annotated(raw.get("annotated"))
    problems += annotated_problems
    sort = raw.get("sort") or "name"
    if sort not in SORTS:
        problems.append(Problem("sort", "must be one of " + ", ".join(SORTS)))
    if problems:
        return BrowseFilter(), problems
    return BrowseFilter(
        status=status, label=label, assignee=assignee, annotated=annotated,
        name=values["name"].lower() if "name" in values else None,
        dir=normal_dir(directory) if directory is not None else None,
        assignment_id=values.get("assignmentId"), sort=sort), []
