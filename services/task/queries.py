"""The task service's answers to the gateway's reads (shared.contracts.queries): tasks, item
statuses, who holds which items, and bulks, read from its own collections. Each read is
`(arguments, after, limit) -> (documents, after)`; the large ones (a task's holders and
statuses, a dataset's memberships) are paged by `_id`, the others answer at once."""

from __future__ import annotations

from typing import Any

from shared.platform.mongo import find_in
from shared.platform.queries import ASC, RAW, Read, paged

ASSIGNMENTS_PER_PAGE = 20  # an assignment carries its item ids: a page stays a few MB at most


def table(db: Any) -> dict[str, Read]:
    """The service's reads over its motor database."""
    raw = db.with_options(codec_options=RAW)  # documents passed on as read

    async def task(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        doc = await db.tasks.find_one({"_id": args["taskId"]}, args.get("fields"))
        return ([doc] if doc else []), None

    async def task_names(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """The tasks of a dataset or a project: name, dataset, available actions."""
        query = {k: args[k] for k in ("datasetId", "projectId") if k in args}
        fields = {"name": 1, "datasetId": 1, "availableActions": 1}
        return await db.tasks.find(query, fields).to_list(None), None

    async def assignment(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """An annotator's assignment with its items (the workflow service's copy, when it
        lags behind the task facts)."""
        doc = await db.assignments.find_one({"_id": args["assignmentId"], "queue": {"$ne": True}})
        return ([doc] if doc else []), None

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

    return {"task": task, "task_names": task_names, "assignment": assignment, "statuses": statuses,
            "statuses_by_id": statuses_by_id, "memberships": memberships,
            "browse_holders": browse_holders, "browse_statuses": browse_statuses, "bulk": bulk}
