"""The web studio: server-rendered pages (Jinja templates) and the small ES modules that
call the same JSON API as every other client (see docs: the studio paragraph of the README).
`ROUTES` and `template_config()` are what gateway.app mounts."""

from __future__ import annotations

from pathlib import Path

from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from gateway.studio.manage import ManagePages
from gateway.studio.pages import StudioPages

HERE = Path(__file__).parent


def template_config() -> TemplateConfig:
    return TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine)


static = create_static_files_router(
    path="/studio/static", directories=[HERE / "static"], name="studio_static",
    opt={"exclude_from_auth": True, "permission": "studio_static"}, include_in_schema=False)

ROUTES = [StudioPages, ManagePages, static]
