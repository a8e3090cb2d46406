"""The caller's task-browser preferences (thumbnail size, items per page), kept on the server
so they follow them to any browser."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, Request, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from pydantic import BaseModel, Field

from gateway.repository import Catalog
from gateway.schemas import Body
from shared.contracts.envelope import utcnow

ThumbnailSize = Literal[64, 96, 128, 192, 256]
PageSize = Literal[25, 50, 100, 200]
DEFAULTS = {"thumbnailSize": 128, "pageSize": 50}


class Preferences(Body):
    thumbnail_size: ThumbnailSize = Field(description="thumbnail edge in px: 64, 96, 128, 192 or 256")
    page_size: PageSize = Field(description="items per page: 25, 50, 100 or 200")


class PreferencesView(BaseModel):
    thumbnailSize: ThumbnailSize  # noqa: N815 - the JSON's own names
    pageSize: PageSize  # noqa: N815


class PreferencesController(Controller):
    path = "/api/v1/users/me/preferences"
    tags = ["users"]

    @get("/", description="The caller's task-browser preferences; the defaults (thumbnailSize 128, "
                          "pageSize 50) until some are saved.")
    async def get_preferences(
        self, request: Request, catalog: NamedDependency[Catalog],
    ) -> PreferencesView:
        saved = await catalog.preferences(request.user.user_id)
        return PreferencesView.model_validate(DEFAULTS | (saved or {}))

    @put("/", description="Replace the caller's task-browser preferences (both fields; 422 naming "
                          "a value outside the allowed sizes).")
    async def save_preferences(self, data: JSONBody[Preferences], request: Request,
                               catalog: NamedDependency[Catalog]) -> PreferencesView:
        values = data.model_dump(by_alias=True)
        await catalog.save_preferences(request.user.user_id, values, utcnow())
        return PreferencesView.model_validate(values)
