"""What Dataloop's SDK sends and expects, mapped to ours: query filters to MongoDB queries,
our documents to the entity JSON `dtlpy` builds its objects from. Pure, no I/O.

Only what classification scripts use is understood; anything else in a filter is refused
with the field named (docs/dtlpy.md lists what works and what does not).
"""

from __future__ import annotations

from typing import Any

from shared.rules.labels import Problem

# Filter fields dtlpy adds by itself and that hold for every item we have.
ALWAYS_TRUE = {("hidden", False), ("type", "file")}
ITEM_FIELDS = {"id": "_id", "name": "name", "dir": "dir", "filename": "filename"}
ANNOTATION_FIELDS = {"id": "_id", "itemId": "itemId", "label": "label", "type": "type"}
DATASET_FIELDS = {"id": "_id", "name": "name"}
TASK_FIELDS = {"id": "_id", "name": "name", "datasetId": "datasetId", "projectId": "projectId",
               "recipeId": "recipeId"}
FIELDS = {"items": ITEM_FIELDS, "annotations": ANNOTATION_FIELDS, "datasets": DATASET_FIELDS,
          "tasks": TASK_FIELDS}
OPERATORS = {"$eq", "$ne", "$in", "$nin"}


class FilterRefused(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.rule)
        self.problem = problem


def _condition(resource: str, field: str, value: Any) -> tuple[str, Any] | None:
    if resource == "items" and not isinstance(value, (dict, list)) and (field, value) in ALWAYS_TRUE:
        return None
    known = FIELDS[resource]
    if field not in known:
        raise FilterRefused(Problem(f"filter.{field}", f"is not supported on {resource}; "
                                    f"supported: {', '.join(sorted(known))}"))
    if isinstance(value, dict):
        unknown = set(value) - OPERATORS
        if unknown:
            raise FilterRefused(Problem(f"filter.{field}", f"operator {sorted(unknown)[0]} is not "
                                        f"supported; supported: {', '.join(sorted(OPERATORS))}"))
    if resource == "annotations" and field == "type" and isinstance(value, dict):
        return None  # dtlpy lists every geometry type by default: ours are all classes
    if field == "dir" and isinstance(value, str) and value.endswith("*"):
        return known[field], {"$regex": "^" + value[:-1].replace(".", r"\.")}
    return known[field], value


def mongo_query(resource: str, body: dict[str, Any]) -> dict[str, Any]:
    """A dtlpy `Filters.prepare()` body (`{"filter": {"$and": [...]}}`) as a MongoDB query."""
    if resource not in FIELDS:
        raise FilterRefused(Problem("resource", f"must be one of {', '.join(FIELDS)}"))
    spec = body.get("filter") or {}
    if not isinstance(spec, dict):
        raise FilterRefused(Problem("filter", "must be an object"))
    terms = spec.get("$and", [])
    if set(spec) - {"$and"} or not isinstance(terms, list):
        raise FilterRefused(Problem("filter", "only {\"$and\": [{field: value}, ...]} is supported"))
    query: dict[str, Any] = {}
    for term in terms:
        if not isinstance(term, dict):
            raise FilterRefused(Problem("filter.$and", "must hold objects {field: value}"))
        for field, value in term.items():
            if (found := _condition(resource, field, value)) is not None:
                query[found[0]] = found[1]
    return query


def paging(body: dict[str, Any]) -> tuple[int, int]:
    page, size = body.get("page", 0), body.get("pageSize", 1000)
    if not isinstance(page, int) or page < 0:
        raise FilterRefused(Problem("page", "must be a whole number from 0"))
    if not isinstance(size, int) or not 1 <= size <= 1000:
        raise FilterRefused(Problem("pageSize", "must be a whole number from 1 to 1000"))
    return page, size


def project_json(project: dict[str, Any]) -> dict[str, Any]:
    return {"id": project["id"], "name": project["name"], "createdAt": project.get("createdAt"),
            "creator": project.get("creator"), "org": project.get("organizationId"),
            "role": "owner", "accountId": None, "isBlocked": False}


def dataset_json(dataset: dict[str, Any], api: str) -> dict[str, Any]:
    return {"id": dataset["id"], "name": dataset["name"], "projects": [dataset["projectId"]],
            "createdAt": dataset.get("createdAt"), "creator": dataset.get("creator"),
            "url": f"{api}/datasets/{dataset['id']}", "items": f"{api}/datasets/{dataset['id']}/items",
            "itemsCount": dataset.get("itemsCount", 0), "annotated": 0, "readonly": False,
            "metadata": {"system": {"recipes": [dataset.get("recipeId")]}},
            "export": {}, "expirationOptions": None, "accessLevel": "custom"}


def user_json(user_id: str, email: str) -> dict[str, Any]:
    return {"id": email, "_id": user_id, "email": email, "username": email,
            "firstName": "", "lastName": "", "role": "user", "type": "human"}
