"""Recipes: the labels (hierarchical, coloured) and attribute definitions of a dataset."""

from __future__ import annotations

from collections import Counter
from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from gateway.access import Access
from gateway.answers import LabelUsage, Paged, Recipe
from gateway.controllers.common import Page, PageSize, now_iso, paged
from gateway.errors import unprocessable
from gateway.guards import Grant
from gateway.repository import Catalog, new_id
from gateway.schemas import OntologyIn, RecipeIn
from shared.contracts.dataloop import Ontology
from shared.rules.labels import Problem


def ontology_problems(data: OntologyIn) -> list[Problem]:
    ontology = Ontology(roots=data.roots)
    problems: list[Problem] = []

    def walk(nodes: list, path: str, where: str) -> None:
        counts = Counter(n.value.tag for n in nodes)
        for i, node in enumerate(nodes):
            if counts[node.value.tag] > 1:
                problems.append(Problem(f"{where}[{i}].value.tag",
                                        f"'{node.value.tag}' appears twice under '{path or 'the root'}'"))
            walk(node.children, f"{path}.{node.value.tag}".strip("."), f"{where}[{i}].children")

    walk(ontology.roots, "", "ontology.roots")
    keys = Counter(a.key for a in data.attributes)
    for i, attr in enumerate(data.attributes):
        where = f"ontology.attributes[{i}]"
        if keys[attr.key] > 1:
            problems.append(Problem(f"{where}.key", f"'{attr.key}' is defined twice"))
        if attr.type == "options" and not attr.values:
            problems.append(Problem(f"{where}.values", "an options attribute needs values"))
        if attr.type == "range" and (attr.range is None or attr.range.min >= attr.range.max):
            problems.append(Problem(f"{where}.range", "a range attribute needs min < max"))
    return problems


def recipe_doc(data: JSONBody[RecipeIn], project_id: FromPath[str], creator: str) -> dict[str, Any]:
    if problems := ontology_problems(data.ontology):
        raise unprocessable(problems, "the ontology is not valid")
    ontology_id = new_id()
    return {
        "_id": new_id(), "title": data.title, "projectIds": [project_id],
        "ontologyIds": [ontology_id], "instructions": data.instructions,
        "creator": creator, "createdAt": now_iso(), "uiSettings": {}, "metadata": {},
        "ontology": _ontology(ontology_id, data.title, data.ontology),
    }


def _ontology(ontology_id: str, title: str, data: OntologyIn) -> dict[str, Any]:
    return {
        "id": ontology_id, "title": title,
        "roots": [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in data.roots],
        "metadata": {"attributes": [a.model_dump(mode="json", by_alias=True, exclude_none=True)
                                    for a in data.attributes]},
    }


class RecipeController(Controller):
    path = "/api/v1"
    tags = ["recipes"]

    @post("/projects/{project_id:str}/recipes")
    async def create_recipe(
        self, project_id: FromPath[str], data: JSONBody[RecipeIn], request: Request,
        catalog: NamedDependency[Catalog],
    ) -> Recipe:
        return await catalog.insert("recipes", recipe_doc(data, project_id, request.user.email))

    @get("/projects/{project_id:str}/recipes")
    async def list_recipes(
        self, project_id: FromPath[str], catalog: NamedDependency[Catalog], page: Page = 0,
        page_size: PageSize = 100,
    ) -> Paged[Recipe]:
        items, total = await catalog.page(
            "recipes", {"projectIds": project_id}, page * page_size, page_size
        )
        return paged(items, total, page, page_size)

    @get("/recipes/{recipe_id:str}")
    async def get_recipe(
        self, recipe_id: FromPath[str], grant: NamedDependency[Grant],
    ) -> Recipe:
        return grant.recipe

    @get("/recipes/{recipe_id:str}/label-usage")
    async def recipe_label_usage(
        self, recipe_id: FromPath[str], grant: NamedDependency[Grant],
        catalog: NamedDependency[Catalog], labels: FromQuery[list[str] | None] = None,
    ) -> LabelUsage:
        """How many annotations (in the datasets of this recipe) hold each of `labels` (full
        paths): what replacing the ontology without them would orphan. The ontology PUT does
        not check it; the studio's recipe editor asks here first and has the change confirmed."""
        recipe = grant.recipe
        datasets = [d["id"] async for d in catalog.iterate(
            "datasets", {"recipeId": recipe["id"]})]
        counts = await catalog.label_counts(datasets, (labels or [])[:500])
        return {"datasets": len(datasets), "labels": counts}

    @put("/recipes/{recipe_id:str}/ontology")
    async def replace_ontology(
        self, recipe_id: FromPath[str], data: JSONBody[OntologyIn], grant: NamedDependency[Grant],
        access: NamedDependency[Access], catalog: NamedDependency[Catalog],
    ) -> Recipe:
        recipe = grant.recipe
        if problems := ontology_problems(data):
            raise unprocessable(problems, "the ontology is not valid")
        ontology = _ontology(recipe["ontology"]["id"], recipe["title"], data)
        access.forget("recipes", recipe_id)
        return await catalog.update("recipes", recipe_id, {"ontology": ontology})
