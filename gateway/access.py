"""Looking up resources the caller may see; anything else is 404, so ids do not leak."""

from __future__ import annotations

from typing import Any

from cachetools import TTLCache
from litestar.exceptions import NotFoundException

from gateway.auth import Principal
from gateway.repository import Catalog
from shared.dataloop import Ontology

_MISSING = object()


class Access:
    """Cached reads of the catalog for the hot path (a few seconds; ids are immutable)."""

    def __init__(self, catalog: Catalog, ttl: float = 2.0) -> None:
        self.catalog = catalog
        self.cache: TTLCache[tuple[str, str], dict[str, Any] | None] = TTLCache(100_000, ttl)

    async def _get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        # One lookup, not `in` then `[]`: an entry may expire between the two.
        key = (collection, doc_id)
        found = self.cache.get(key, _MISSING)
        if found is _MISSING:
            found = self.cache[key] = await self.catalog.get(collection, doc_id)
        return found

    def forget(self, collection: str, doc_id: str) -> None:
        self.cache.pop((collection, doc_id), None)
        self.cache.pop(("ontology", doc_id), None)

    async def ontology(self, recipe_id: str) -> Ontology:
        """The parsed ontology of a recipe (parsing once per cache period, not per request)."""
        key = ("ontology", recipe_id)
        found = self.cache.get(key, _MISSING)
        if found is _MISSING:
            recipe = await self._get("recipes", recipe_id)
            found = Ontology.model_validate(recipe["ontology"]) if recipe else Ontology()
            self.cache[key] = found
        return found

    async def project(self, user: Principal, project_id: str) -> dict[str, Any]:
        project = await self._get("projects", project_id)
        if project is None or not any(m["userId"] == user.user_id for m in project["members"]):
            raise NotFoundException(f"no project {project_id}")
        return project

    async def dataset(self, user: Principal, dataset_id: str) -> dict[str, Any]:
        dataset = await self._get("datasets", dataset_id)
        if dataset is None:
            raise NotFoundException(f"no dataset {dataset_id}")
        try:
            await self.project(user, dataset["projectId"])
        except NotFoundException:
            raise NotFoundException(f"no dataset {dataset_id}") from None
        return dataset

    async def item(self, user: Principal, item_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        item = await self._get("items", item_id)
        if item is None:
            raise NotFoundException(f"no item {item_id}")
        try:
            return item, await self.dataset(user, item["datasetId"])
        except NotFoundException:
            raise NotFoundException(f"no item {item_id}") from None

    async def recipe(self, user: Principal, recipe_id: str) -> dict[str, Any]:
        recipe = await self._get("recipes", recipe_id)
        if recipe is None:
            raise NotFoundException(f"no recipe {recipe_id}")
        for project_id in recipe["projectIds"]:
            try:
                await self.project(user, project_id)
                return recipe
            except NotFoundException:
                continue
        raise NotFoundException(f"no recipe {recipe_id}")
