"""Seeds the demo project through the public API, and prints a token with example calls,
the studio's address and one-time sign-in links: the demo owner's, and the demo annotator's,
who has a single-class task on the demo dataset ready to work in."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from deploy.samples import samples
from gateway.admin import create_owner
from gateway.auth import issue_token
from gateway.repository import connect
from shared.platform.settings import Settings

DEMO_EMAIL = "demo@classifier.local"
ANNOTATOR_EMAIL = "annotator@classifier.local"
DEMO_TASK = "Catalogue photos: one class each"
DEMO_RECIPE: dict[str, Any] = {
    "title": "Clothing catalogue",
    "ontology": {
        "roots": [
            {"value": {"tag": "men's clothes", "color": "#1f77b4"},
             "children": [{"value": {"tag": "polo shirts", "color": "#ff7f0e"}},
                          {"value": {"tag": "jeans", "color": "#2ca02c"}}]},
            {"value": {"tag": "women's clothes", "color": "#d62728"},
             "children": [{"value": {"tag": "dresses", "color": "#9467bd"}},
                          {"value": {"tag": "jeans", "color": "#8c564b"}}]},
            {"value": {"tag": "not clothing", "color": "#7f7f7f"}},
        ],
        "attributes": [
            {"key": "condition", "title": "Condition", "type": "options", "values": ["new", "used"]},
            {"key": "sizes", "title": "Sizes", "type": "options", "multi": True,
             "values": ["S", "M", "L", "XL"]},
            {"key": "quality", "title": "Photo quality", "type": "range",
             "range": {"min": 1, "max": 5, "step": 1}},
            {"key": "branded", "title": "Visible brand", "type": "boolean"},
        ],
    },
}


async def _token(settings: Settings) -> str:
    catalog = connect(settings.mongodb_url, settings.mongodb_db)
    try:
        await catalog.create_indexes()
        user = await catalog.ensure_user(DEMO_EMAIL, "Demo owner")
        secret, _ = await issue_token(catalog, user, "dev runner")
        return secret
    finally:
        catalog.client.close()


async def _annotator_task(http: httpx.AsyncClient, project: dict[str, Any], dataset: dict[str, Any],
                          items: list[dict[str, Any]]) -> dict[str, Any]:
    """The demo annotator, a member, with a single-class task of every demo image (once)."""
    members = (await http.get(f"/api/v1/projects/{project['id']}/members")).json()["items"]
    if not any(m.get("email") == ANNOTATOR_EMAIL for m in members):
        (await http.post(f"/api/v1/projects/{project['id']}/members",
                         json={"email": ANNOTATOR_EMAIL, "role": "annotator"})).raise_for_status()
    tasks = f"/api/v1/projects/{project['id']}/tasks"
    found = (await http.get(tasks, params={"name": DEMO_TASK})).json()["items"]
    if not found:
        (await http.post(tasks, json={
            "name": DEMO_TASK, "datasetId": dataset["id"], "itemIds": [i["id"] for i in items],
            "assignees": [ANNOTATOR_EMAIL], "singleClass": True, "allocation": "distribution",
        })).raise_for_status()
    for _ in range(100):  # answered 202 past the gateway's wait: the task service is on it
        if found := (await http.get(tasks, params={"name": DEMO_TASK})).json()["items"]:
            return found[0]
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the demo task '{DEMO_TASK}' was not created")


async def seed(settings: Settings, base_url: str,
               transport: httpx.AsyncBaseTransport | None = None) -> dict[str, Any]:
    """Create (once) the demo project, recipe, dataset, images, annotator and task; return
    ids, a token and sign-in links."""
    token = await _token(settings)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30,
                                 transport=transport) as http:
        projects = (await http.get("/api/v1/projects")).json()["items"]
        project = next((p for p in projects if p["name"] == "Demo shop"), None)
        if project is None:
            project = (await http.post("/api/v1/projects", json={"name": "Demo shop"})).json()
            recipe = (await http.post(f"/api/v1/projects/{project['id']}/recipes", json=DEMO_RECIPE)).json()
            dataset = (await http.post(f"/api/v1/projects/{project['id']}/datasets",
                                       json={"name": "Catalogue photos", "recipeId": recipe["id"]})).json()
            for name, content in samples():
                r = await http.post(f"/api/v1/datasets/{dataset['id']}/items/upload",
                                    files={"file": (name, content, "image/png")}, data={"dir": "/photos"})
                r.raise_for_status()
        datasets = (await http.get(f"/api/v1/projects/{project['id']}/datasets")).json()["items"]
        dataset = datasets[0]
        items = (await http.get(f"/api/v1/datasets/{dataset['id']}/items")).json()["items"]
        task = await _annotator_task(http, project, dataset, items)
    link = await create_owner(settings, DEMO_EMAIL, "Demo owner")
    # create_owner makes the user if missing and a one-time sign-in link: the same for anyone
    annotator_link = await create_owner(settings, ANNOTATOR_EMAIL, "Demo annotator")
    return {"token": token, "project": project, "dataset": dataset, "items": items,
            "signInLink": link, "task": task, "annotatorSignInLink": annotator_link}


def banner(seeded: dict[str, Any], base_url: str) -> str:
    token, item = seeded["token"], seeded["items"][0]
    auth = f'-H "Authorization: Bearer {token}"'
    return f"""
Classifier platform is running at {base_url}
  API docs (OpenAPI):  {base_url}/schema
  Demo project:        {seeded['project']['name']} ({seeded['project']['id']})
  Dataset:             {seeded['dataset']['name']} ({seeded['dataset']['id']}), {len(seeded['items'])} images
  API token (shown once):  {token}
  Studio (in a browser):   {base_url}/
  Sign in as the demo owner (one-time link, then set a password at PUT /api/v1/users/me/password):
    {seeded['signInLink']}
  Sign in as the demo annotator ({ANNOTATOR_EMAIL}; task "{seeded['task']['name']}", single class):
    {seeded['annotatorSignInLink']}

Try:
  export TOKEN={token}
  curl -s {base_url}/api/v1/datasets/{seeded['dataset']['id']}/items -H "Authorization: Bearer $TOKEN"
  curl -s -X POST {base_url}/api/v1/items/{item['id']}/annotations -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' \\
       -d '{{"label": "men\\u0027s clothes.polo shirts", "attributes": {{"condition": "new", "sizes": ["M", "L"]}}}}'
  curl -s {base_url}/api/v1/items/{item['id']}/annotations {auth}
  curl -s {base_url}/api/v1/datasets/{seeded['dataset']['id']}/export -H "Authorization: Bearer $TOKEN"

Press Ctrl+C to stop everything.
"""


if __name__ == "__main__":
    s = Settings()
    print(banner(asyncio.run(seed(s, s.public_url)), s.public_url))
