"""The task service's answers to the gateway's reads (shared.contracts.queries): tasks,
assignments, item statuses, progress, who holds which items, and bulks, read from its own
collections. Each read is `(arguments, after, limit) -> (documents, after)`; the large ones
(a task's holders and statuses, a dataset's memberships) are paged by `_id`, the others
answer at once."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.platform.mongo import find_in
from shared.platform.queries import ASC, RAW, Read, filtered, paged
from shared.rules.progress import progress_counts, status_count_pipeline

ASSIGNMENTS_PER_PAGE = 20  # an assignment carries its item ids: a page stays a few MB at most
TASK_FILTER_FIELDS = {"_id", "name", "datasetId", "projectId", "recipeId"}  # the API's and dtlpy's
TASKS_PER_PAGE = 1000


SHOWN = [  # an assignment as shown: its item count, not its ids
    {"$addFields": {"totalItems": {"$size": "$itemIds"}}},
    {"$project": {"itemIds": 0}},
]


def table(db: Any) -> dict[str, Read]:
    """The service's reads over its motor database."""
    raw = db.with_options(codec_options=RAW)  # documents passed on as read

    async def task(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        doc = await db.tasks.find_one({"_id": args["taskId"]}, args.get("fields"))
        return ([doc] if doc else []), None

    async def tasks(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """A page of the tasks matching `filters` (`skip`, `limit`, in `_id` order) and the
        total: one document {tasks, total}."""
        query = filtered(args.get("filters") or [], TASK_FILTER_FIELDS)
        size = min(int(args.get("limit", TASKS_PER_PAGE)), TASKS_PER_PAGE)
        total = await db.tasks.count_documents(query)
        docs = await db.tasks.find(query).sort("_id", ASC).skip(int(args.get("skip", 0))).limit(size).to_list(size)
        return [{"tasks": docs, "total": total}], None

    async def task_names(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """The tasks of a dataset or a project: name, dataset, available actions."""
        query = {k: args[k] for k in ("datasetId", "projectId") if k in args}
        fields = {"name": 1, "datasetId": 1, "availableActions": 1}
        return await db.tasks.find(query, fields).to_list(None), None

    async def assignments(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """The task's assignments (not its hidden queue), each with `totalItems`, without ids."""
        match = {"taskId": args["taskId"], "queue": {"$ne": True}}
        return await db.assignments.aggregate([{"$match": match}, *SHOWN, {"$sort": {"_id": ASC}}]).to_list(None), None

    async def assignment(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """An annotator's assignment: with its items (`withItems`; the workflow service's
        copy, when it lags behind the task facts), or as shown (`totalItems`, no ids)."""
        if args.get("withItems", True):
            doc = await db.assignments.find_one({"_id": args["assignmentId"], "queue": {"$ne": True}})
            return ([doc] if doc else []), None
        found = await db.assignments.aggregate([
            {"$match": {"_id": args["assignmentId"], "queue": {"$ne": True}}}, *SHOWN]).to_list(1)
        return found[:1], None

    async def queue_remaining(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """How many items a pulling task's hidden queue has still to hand out."""
        queue = await db.assignments.find_one({"taskId": args["taskId"], "queue": True}, {"itemIds": 1, "next": 1})
        return [max(0, len(queue["itemIds"]) - queue["next"]) if queue else 0], None

    async def status_counts(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """[assignment, status, items], as counted in `task_progress`; for a task not
        counted yet, from the status documents."""
        task_id = args["taskId"]
        progress = await db.task_progress.find_one({"_id": task_id}, {"counts": 1})
        if progress is not None:
            counts = progress_counts(progress)
        else:
            counts = {(d["_id"]["a"], d["_id"]["s"]): d["n"]
                      async for d in db.item_statuses.aggregate(status_count_pipeline(task_id))}
        return [[a, s, n] for (a, s), n in counts.items()], None

    async def statuses(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """The status documents of some items in a task (the workflow service checks the
        items ahead of a move against them while task facts are on their way)."""
        task_id = args["taskId"]
        return await find_in(db.item_statuses, "_id", [f"{task_id}:{i}" for i in args["itemIds"]]), None

    async def statuses_by_id(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """Status documents by `<task>:<item>` id."""
        return await find_in(raw.item_statuses, "_id", args["ids"]), None

    async def memberships(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """Active assignments (not queues) holding the given items, or of every task of a
        dataset: `_id`, `taskId`, and `itemIds` (only the given ones, when items are given).
        Paged by assignment."""
        if "datasetId" in args:
            tasks = [t["_id"] async for t in db.tasks.find({"datasetId": args["datasetId"]}, {"_id": 1})]
            query: dict[str, Any] = {"taskId": {"$in": tasks}}
        else:
            query = {"itemIds": {"$in": args.get("itemIds") or []}}
        docs, after = await paged(db.assignments, query | {"active": True, "queue": {"$ne": True}},
                                   {"itemIds": 1, "taskId": 1}, after, min(limit, ASSIGNMENTS_PER_PAGE),
                                   raw="itemIds" not in args)
        if "itemIds" in args:
            wanted = set(args["itemIds"])
            for d in docs:
                d["itemIds"] = [i for i in d["itemIds"] if i in wanted]
        return docs, after

    async def task_view(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """What a task's view shows, in one answer: the task, its assignments as shown, its
        status counts and, for a pulling task, what its queue has still to hand out
        ({task, assignments, counts, remaining}); none for a task that does not exist."""
        found, _ = await task({"taskId": args["taskId"]}, None, 1)
        if not found:
            return [], None
        pulling = found[0].get("allocation") == "pulling"
        reads = [assignments(args, None, 0), status_counts(args, None, 0)]
        if pulling:
            reads.append(queue_remaining(args, None, 0))
        shown, counts, *queue = [docs for docs, _ in await asyncio.gather(*reads)]
        return [{"task": found[0], "assignments": shown, "counts": counts,
                 "remaining": queue[0][0] if queue else None}], None

    async def item_refs(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """What an item view shows of the tasks, in one answer: the active assignments
        holding the given items (`memberships`, all its pages) and the items' status
        documents in those tasks, as one document {memberships, statuses}."""
        held: list[Any] = []
        page_after = None
        while True:
            docs, page_after = await memberships({"itemIds": args.get("itemIds") or []}, page_after,
                                                 ASSIGNMENTS_PER_PAGE)
            held += docs
            if page_after is None:
                break
        ids = [f"{a['taskId']}:{item}" for a in held for item in a["itemIds"]]
        statuses = await find_in(raw.item_statuses, "_id", ids) if ids else []
        return [{"memberships": held, "statuses": statuses}], None

    async def browse_holders(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """The task's active assignments and queue, with their items (paged by assignment)."""
        return await paged(db.assignments, {"taskId": args["taskId"], "active": True},
                            {"itemIds": 1, "queue": 1, "next": 1, "annotator": 1}, after,
                            min(limit, ASSIGNMENTS_PER_PAGE))

    async def browse_statuses(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """The task's items' statuses: `itemId` and `status`, paged in `_id` order."""
        task_id = args["taskId"]
        lower = {"$gt": after} if after is not None else {"$gte": f"{task_id}:"}
        docs = await raw.item_statuses.find(
            {"_id": lower | {"$lt": f"{task_id};"}}, {"itemId": 1, "status": 1}).sort("_id", ASC).limit(limit).to_list(limit)
        return docs, (docs[-1]["_id"] if len(docs) == limit else None)

    async def bulk(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """A bulk's record in the task, its state and, once its statuses are written, their
        changes."""
        bulk_id = args["bulkId"]
        record = await db.bulk_operations.find_one({"_id": bulk_id, "taskId": args["taskId"]})
        if record is None:
            return [], None
        record |= await db.bulk_states.find_one({"_id": bulk_id}) or {}
        if "statusChanges" not in record and record.get("state", "accepted") != "accepted":  # found as written
            record["statusChanges"] = (await db.bulk_status_changes.find_one({"_id": bulk_id}) or {}).get(
                "statusChanges", [])
        return [record], None

    return {"task": task, "tasks": tasks, "task_names": task_names, "assignments": assignments,
            "assignment": assignment, "queue_remaining": queue_remaining, "status_counts": status_counts,
            "statuses": statuses, "statuses_by_id": statuses_by_id, "memberships": memberships, "item_refs": item_refs,
            "task_view": task_view,
            "browse_holders": browse_holders, "browse_statuses": browse_statuses, "bulk": bulk}
