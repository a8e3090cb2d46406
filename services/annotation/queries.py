"""The annotation service's answers to the gateway's reads (shared.contracts.queries):
annotations and bulk classification progress, read from its own collections. Each read is
`(arguments, after, limit) -> (documents, after)`; a dataset's annotations are paged by
`_id`, the other reads answer at once (they are bounded by the items asked)."""

from __future__ import annotations

from typing import Any

from shared.platform.mongo import find_in
from shared.platform.queries import ASC, RAW, Read, filtered, paged

LIVE = {"_deleted": {"$exists": False}}
CLASSES = {"type": "class"} | LIVE
CLASS_FIELDS = {"itemId": 1, "label": 1}
FILTER_FIELDS = {"_id", "itemId", "label", "type"}  # what dtlpy filters a dataset's annotations on
PER_PAGE = 1000


def table(db: Any) -> dict[str, Read]:
    """The service's reads over its motor database."""
    raw = db.with_options(codec_options=RAW)  # documents passed on as read

    async def annotation(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        doc = await db.annotations.find_one({"_id": args["annotationId"]} | LIVE)
        return ([doc] if doc else []), None

    async def of_items(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """The live annotations of some items, each item's in creation order."""
        return await find_in(raw.annotations, "itemId", args["itemIds"], LIVE, sort=[("createdAt", ASC)]), None

    async def of_dataset(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """A dataset's live annotations (only `fields`, if given), paged."""
        return await paged(db.annotations, {"datasetId": args["datasetId"]} | LIVE, args.get("fields"),
                            after, limit)

    async def page_of_dataset(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """A page (`skip`, `limit`, in `_id` order) of a dataset's live annotations matching
        `filters` (plain: [{field, op, value}]), and their total: one document {annotations, total}."""
        query = {"datasetId": args["datasetId"]} | filtered(args.get("filters") or [], FILTER_FIELDS) | LIVE
        size = min(int(args.get("limit", PER_PAGE)), PER_PAGE)
        total = await db.annotations.count_documents(query)
        docs = await db.annotations.find(query).sort("_id", ASC).skip(int(args.get("skip", 0))).limit(size).to_list(size)
        return [{"annotations": docs, "total": total}], None

    async def classes_of_items(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """The live class annotations of some items: id, item and label."""
        return await find_in(raw.annotations, "itemId", args["itemIds"], CLASSES, CLASS_FIELDS), None

    async def classes_of_dataset(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """A dataset's live class annotations (id, item, label), paged."""
        return await paged(db.annotations, {"datasetId": args["datasetId"]} | CLASSES, CLASS_FIELDS, after, limit)

    async def labels_of_dataset(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """The labels a dataset's live annotations use."""
        return await db.annotations.distinct("label", {"datasetId": args["datasetId"]} | LIVE), None

    async def label_counts(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """[label, live annotations holding it] in some datasets, per label asked."""
        datasets = args["datasetIds"]
        return [[label, await db.annotations.count_documents(
            {"datasetId": {"$in": datasets}, "label": label} | LIVE)] for label in args["labels"]], None

    async def bulk(args: dict[str, Any], after: Any, limit: int) -> tuple[list[Any], Any]:
        """A bulk's classes side: what it classifies and how far it got."""
        bulk_id = args["bulkId"]
        return [(await db.bulk_classifications.find_one({"_id": bulk_id}) or {}) |
                (await db.bulk_progress.find_one({"_id": bulk_id}) or {})], None

    return {"annotation": annotation, "of_items": of_items, "of_dataset": of_dataset, "page_of_dataset": page_of_dataset,
            "classes_of_items": classes_of_items, "classes_of_dataset": classes_of_dataset,
            "labels_of_dataset": labels_of_dataset, "label_counts": label_counts, "bulk": bulk}
