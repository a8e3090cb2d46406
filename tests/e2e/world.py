"""A project with something of every kind, its members in every role, and callers from
outside it: what the access matrix tries every endpoint against."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field

from PIL import Image

from tests.platform import RECIPE, Platform

POLO = "men's clothes.polo shirts"
EMAILS = {"manager": "manager@example.com", "annotator": "annotator@example.com"}


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class World:
    p: Platform
    tokens: dict[str, str | None] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    async def ok(self, method: str, path: str, **kw) -> dict:
        r = await self.p.request(method, path, **kw)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else {}

    async def build(self) -> World:
        org = await self.ok("POST", "/api/v1/organizations", json={"name": "acme"})
        project = await self.ok("POST", "/api/v1/projects", json={"name": "team a", "organizationId": org["id"]})
        self.ids |= {"organization_id": org["id"], "project_id": project["id"]}
        self.p.ids = {"project": project["id"]}
        recipe = await self.ok("POST", f"/api/v1/projects/{project['id']}/recipes", json=RECIPE)
        dataset = await self.ok("POST", f"/api/v1/projects/{project['id']}/datasets",
                                json={"name": "catalog", "recipeId": recipe["id"]})
        self.ids |= {"recipe_id": recipe["id"], "dataset_id": dataset["id"]}
        item = await self.ok("POST", f"/api/v1/datasets/{dataset['id']}/items/upload",
                             files={"file": ("shirt.png", png(), "image/png")})
        self.ids["item_id"] = item["id"]
        for role, email in EMAILS.items():
            self.tokens[role] = await self.p.add_member(email, role)
        self.tokens["owner"] = self.p.token
        await self._outsiders()
        await self._annotation_and_operation()
        await self._tasks()
        return self

    async def _outsiders(self) -> None:
        self.tokens["stranger"] = await self.p.new_user("stranger@example.com")
        await self.ok("POST", "/api/v1/projects", json={"name": "team b"}, token=self.tokens["stranger"])
        made = await self.ok("POST", "/api/v1/users/me/tokens", json={"scopes": ["read"]})
        self.tokens["read-only"] = made["token"]
        revoked = await self.ok("POST", "/api/v1/users/me/tokens", json={"name": "old"})
        await self.ok("DELETE", f"/api/v1/users/me/tokens/{revoked['id']}")
        self.tokens["revoked"] = revoked["token"]
        self.tokens["no token"] = None

    async def _annotation_and_operation(self) -> None:
        self.ids["annotation_id"] = await self.annotation()
        owner = await self.p.catalog.db.users.find_one({"email": "owner@example.com"})
        operation = await self.p.catalog.db.operations.find_one({"actorId": owner["_id"]})
        self.ids["operation_id"] = operation["_id"]

    async def _tasks(self) -> None:
        self.ids["task_id"] = await self.task()
        rows = await self.ok("GET", f"/api/v1/tasks/{self.ids['task_id']}/assignments")
        self.ids["assignment_id"] = rows[0]["id"]
        self.ids["pulling_task"] = await self.task(
            assignees=["owner@example.com", *EMAILS.values()], allocation="pulling",
            batchSize=3, maxBatchWorkload=5)

    # fresh things for requests that use them up ------------------------------------------------

    async def annotation(self) -> str:
        made = await self.ok("POST", f"/api/v1/items/{self.ids['item_id']}/annotations", json={"label": POLO})
        return made["id"]

    async def item(self) -> str:
        made = await self.ok("POST", f"/api/v1/datasets/{self.ids['dataset_id']}/items",
                             json={"name": unique("img") + ".jpg", "url": "http://example.com/a.jpg",
                                   "mimetype": "image/jpeg"})
        return made["id"]

    async def video(self) -> str:
        made = await self.ok("POST", f"/api/v1/datasets/{self.ids['dataset_id']}/items",
                             json={"name": unique("clip") + ".webm", "url": "http://example.com/a.webm",
                                   "mimetype": "video/webm", "fps": 25, "frameCount": 100, "duration": 4})
        return made["id"]

    async def scene(self, video: str) -> str:
        made = await self.ok("POST", f"/api/v1/items/{video}/scenes", json={"label": POLO, "frame": 10})
        return made["id"]

    async def task(self, **over) -> str:
        body = {"name": unique("task"), "datasetId": self.ids["dataset_id"],
                "itemIds": [self.ids["item_id"]], "assignees": [EMAILS["annotator"]]} | over
        return (await self.ok("POST", f"/api/v1/projects/{self.ids['project_id']}/tasks", json=body))["id"]

    async def member(self) -> str:
        email = unique("member") + "@example.com"
        made = await self.ok("POST", f"/api/v1/projects/{self.ids['project_id']}/members",
                             json={"email": email, "role": "annotator"})
        return made["userId"]

    async def owner_token(self) -> str:
        return (await self.ok("POST", "/api/v1/users/me/tokens", json={"name": unique("t")}))["id"]
