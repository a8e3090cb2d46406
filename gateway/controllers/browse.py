"""The task browser's item lists: a task's items filtered, sorted and paged, and every
matching id (for "select all matching"). Answered from the gateway's in-memory index
(gateway.browse); the filter's rules are gateway.browse_rules."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from gateway.access import Access
from gateway.answers import BrowsedItem, MatchingIds, Paged
from gateway.browse import Browser
from gateway.browse_index import TaskIndex
from gateway.browse_rules import MAX_IDS, SORTS, BrowseFilter, check_filter
from gateway.controllers.common import Page, paged
from gateway.errors import unprocessable
from gateway.guards import Grant
from shared.rules.labels import Problem

ACCESS = ("Any member of the task's project (annotators too: they read the project's items and "
          "annotations) sees every item of the task.")
FILTERS = (
    "Filters combine with AND: `status` (a status of the task, or `none`), `label` (a label "
    "path of the recipe; its child labels match too), `assignee` (an annotator's email), "
    "`annotated` (`true`/`false`), `name` (case-insensitive substring), `dir` (a folder and "
    "the folders below it). A bad parameter answers 422 naming it and the rule.")

Status = Annotated[str | None, QueryParameter(
    description="a status of the task (`completed`, `discard`, a custom one), or `none` for items "
                "without a status")]
Label = Annotated[str | None, QueryParameter(
    description="a label path of the task's recipe (`men's clothes.polo shirts`); items holding a "
                "class with that label or a label below it")]
Assignee = Annotated[str | None, QueryParameter(
    description="an annotator's email: the items of their assignment")]
Annotated_ = Annotated[str | None, QueryParameter(
    name="annotated", description="`true`: items with at least one class annotation; `false`: none")]
Name = Annotated[str | None, QueryParameter(description="case-insensitive substring of the item's name")]
Dir = Annotated[str | None, QueryParameter(
    name="dir", description="a folder (`/shirts`): items in it or in a folder below it")]
Sort = Annotated[str | None, QueryParameter(description="one of " + ", ".join(SORTS) + " (default name)")]
BrowsePageSize = Annotated[int, QueryParameter(ge=1, le=200, name="pageSize",
                                               description="items per page, 1 to 200")]


async def checked_index(
    task: dict[str, Any], access: Access, browse: Browser, raw: dict[str, Any],
    field_prefix: str = "", source: str = "query",
) -> tuple[TaskIndex, BrowseFilter]:
    """The task's index and the checked filter; 422 naming each broken rule."""
    labels = set((await access.ontology(task["recipeId"])).labels())
    index = await browse.index(task["_id"])
    f, problems = check_filter(raw, index.statuses(), labels)
    if problems:
        raise unprocessable([Problem(field_prefix + p.field, p.rule) for p in problems],
                            "the filter breaks a rule", source)
    return index, f


class TaskItemsReads:
    """The routes of the task browser, mixed into TaskController (Litestar takes one controller
    per path: `POST /tasks/{id}/items` adds items there)."""

    @get("/tasks/{task_id:str}/items", tags=["task browser"], description="The task's items (held by its assignments and, in a pulling task, "
                          "waiting in its queue) with their status, assignee and classes, "
                          "filtered, sorted and paged. " + FILTERS + " " + ACCESS)
    async def task_items(
        self, task_id: FromPath[str], grant: NamedDependency[Grant],
        access: NamedDependency[Access], browse: NamedDependency[Browser],
        api: NamedDependency[str], status: Status = None, label: Label = None,
        assignee: Assignee = None, annotated: Annotated_ = None, name: Name = None,
        folder: Dir = None, sort: Sort = None, page: Page = 0, page_size: BrowsePageSize = 50,
    ) -> Paged[BrowsedItem]:
        raw = {"status": status, "label": label, "assignee": assignee, "annotated": annotated,
               "name": name, "dir": folder, "sort": sort}
        index, f = await checked_index(grant.task, access, browse, raw)
        found = index.select(f)
        rows = [index.row(int(p), api) for p in found[page * page_size:(page + 1) * page_size]]
        return paged(rows, len(found), page, page_size)

    @get("/tasks/{task_id:str}/items/ids", tags=["task browser"], description="Every id matching the filter, in the sort order (for \"select all "
                             f"matching\"); at most {MAX_IDS:,} (422 beyond). " + FILTERS + " "
                             + ACCESS)
    async def task_item_ids(
        self, task_id: FromPath[str], grant: NamedDependency[Grant],
        access: NamedDependency[Access], browse: NamedDependency[Browser], status: Status = None,
        label: Label = None, assignee: Assignee = None, annotated: Annotated_ = None,
        name: Name = None, folder: Dir = None, sort: Sort = None,
    ) -> MatchingIds:
        raw = {"status": status, "label": label, "assignee": assignee, "annotated": annotated,
               "name": name, "dir": folder, "sort": sort}
        index, f = await checked_index(grant.task, access, browse, raw)
        found = index.select(f)
        if len(found) > MAX_IDS:
            raise unprocessable([Problem("filter", f"matches {len(found):,} items; at most "
                                                   f"{MAX_IDS:,} ids are listed: narrow it")],
                                "too many items match", "query")
        ids = index.ids
        return {"ids": [ids[p] for p in found.tolist()], "totalItemsCount": len(found)}
