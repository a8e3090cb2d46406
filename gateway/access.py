"""Looking up resources the caller may see, and the caller's role in their project.

A resource of a project the caller is not a member of answers 404, never 403, so ids do
not leak; a member whose role is too low gets 403 naming the role needed.
"""

from __future__ import annotations

from typing import Any

from cachetools import TTLCache
from litestar.exceptions import NotFoundException, PermissionDeniedException

from gateway.auth import Principal
from gateway.cache import fill, read_through
from gateway.repository import Catalog
from gateway.roles import ACTIONS, at_least
from shared.contracts.dataloop import Ontology


class Access:
    """Cached reads of the catalog for the hot path (a few seconds; every replica drops an
    entry at once when it changes, see gateway.invalidation)."""

    def __init__(self, catalog: Catalog, ttl: float = 2.0) -> None:
        self.catalog = catalog
        self.cache: TTLCache[tuple[str, str], Any] = TTLCache(100_000, ttl)

    async def cached(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        """The document, from the cache when it is there."""
        return await read_through(self.cache, (collection, doc_id),
                                  lambda: self.catalog.get(collection, doc_id))

    async def read_ahead(self, collection: str, doc_ids: list[str]) -> None:
        """Cache the documents among `doc_ids` not cached yet, in one query: what a page will
        ask for next (an annotator's next items) costs one read for many."""
        missing = [i for i in dict.fromkeys(doc_ids) if (collection, i) not in self.cache]
        if missing:
            found = await self.catalog.get_many(collection, missing)
            fill(self.cache, {(collection, doc_id): doc for doc_id, doc in found.items()})

    def forget(self, collection: str, doc_id: str) -> None:
        self.cache.pop((collection, doc_id), None)
        self.cache.pop(("ontology", doc_id), None)

    async def ontology(self, recipe_id: str) -> Ontology:
        """The parsed ontology of a recipe (parsing once per cache period, not per request)."""
        async def parse() -> Ontology:
            recipe = await self.cached("recipes", recipe_id)
            return Ontology.model_validate(recipe["ontology"]) if recipe else Ontology()

        return await read_through(self.cache, ("ontology", recipe_id), parse)

    # projects and roles ----------------------------------------------------------------------

    @staticmethod
    def role_of(user: Principal, project: dict[str, Any]) -> str | None:
        """The caller's role in `project`; None when not a member."""
        for member in project.get("members", ()):
            if member["userId"] == user.user_id:
                return member["role"]
        return None

    async def membership(
        self, user: Principal, project_id: str
    ) -> tuple[dict[str, Any], str] | None:
        project = await self.cached("projects", project_id)
        role = self.role_of(user, project) if project else None
        return (project, role) if role else None

    async def project(
        self, user: Principal, project_id: str, role: str | None = None
    ) -> dict[str, Any]:
        """The project; 404 unless the caller is a member, 403 when their role is below `role`."""
        found = await self.membership(user, project_id)
        if found is None:
            raise NotFoundException(f"no project {project_id}")
        project, own = found
        if role is not None and not at_least(own, role):
            raise PermissionDeniedException(
                f"this needs the {role} role in project {project_id}; you are {own}")
        return project

    async def require(self, user: Principal, project_id: str, action: str) -> str:
        """The caller's role if it may try `action` (see gateway.roles.ACTIONS) in the
        project; 404 for non-members, 403 below the action's role. For "annotate" an
        annotator passes: the caller must then limit them to their own task assignments."""
        project = await self.project(user, project_id, ACTIONS[action])
        return self.role_of(user, project)  # type: ignore[return-value]

    # resources, each answering 404 outside the caller's projects -----------------------------

    async def dataset(self, user: Principal, dataset_id: str) -> dict[str, Any]:
        dataset = await self.cached("datasets", dataset_id)
        if dataset is None or await self.membership(user, dataset["projectId"]) is None:
            raise NotFoundException(f"no dataset {dataset_id}")
        return dataset

    async def item(self, user: Principal, item_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        item = await self.cached("items", item_id)
        if item is None:
            raise NotFoundException(f"no item {item_id}")
        try:
            return item, await self.dataset(user, item["datasetId"])
        except NotFoundException:
            raise NotFoundException(f"no item {item_id}") from None

    async def recipe(self, user: Principal, recipe_id: str) -> dict[str, Any]:
        recipe = await self.cached("recipes", recipe_id)
        if recipe is None or not await self.recipe_projects(user, recipe):
            raise NotFoundException(f"no recipe {recipe_id}")
        return recipe

    async def recipe_projects(
        self, user: Principal, recipe: dict[str, Any]
    ) -> list[tuple[dict, str]]:
        """The caller's memberships among the projects sharing `recipe`."""
        found = [await self.membership(user, p) for p in recipe["projectIds"]]
        return [m for m in found if m is not None]

    async def organization(self, user: Principal, organization_id: str) -> dict[str, Any]:
        """An organisation is visible to its members and to members of its projects."""
        org = await self.catalog.get("organizations", organization_id)
        if org is None or not (
            any(m["userId"] == user.user_id for m in org["members"])
            or await self.catalog.member_of_any(user.user_id, {"organizationId": organization_id})
        ):
            raise NotFoundException(f"no organization {organization_id}")
        return org
