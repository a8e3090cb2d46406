"""Page assets the gateway serves itself, so no page loads anything from a CDN: the vendored
front-end files (gateway/static/vendor, listed in its VERSIONS.md) at /static/vendor/, and
the OpenAPI viewers, which use them (Swagger UI at /schema and /schema/swagger)."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.static_files import create_static_files_router

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
VENDOR_PATH = "/static/vendor"
YEAR = 365 * 24 * 3600


@cache
def vendor_url(name: str) -> str:
    """The URL of a vendored file, with a digest of its content in the query: a browser may
    keep it for a year (immutable), and a new version of the file gets a new URL."""
    digest = hashlib.sha256((VENDOR_DIR / name).read_bytes()).hexdigest()[:12]
    return f"{VENDOR_PATH}/{name}?v={digest}"


def vendor_router() -> Router:
    """GET and HEAD /static/vendor/{file}: public (no token, no session), outside the OpenAPI
    document, cached a year (the rule `vendor_file` in gateway.roles)."""
    return create_static_files_router(
        path=VENDOR_PATH, directories=[VENDOR_DIR], name="vendor", include_in_schema=False,
        cache_control=CacheControlHeader(public=True, max_age=YEAR, immutable=True),
        opt={"exclude_from_auth": True, "permission": "vendor_file"},
    )


def docs_viewers() -> list[OpenAPIRenderPlugin]:
    """The OpenAPI document (JSON, YAML) and Swagger UI on local files; the other viewers
    Litestar offers (ReDoc, RapiDoc, Elements) load from CDNs, so they are not served."""
    icon = vendor_url("swagger-ui/favicon-32x32.png")
    swagger = SwaggerRenderPlugin(
        path=["/", "/swagger"],
        js_url=vendor_url("swagger-ui/swagger-ui-bundle.js"),
        css_url=vendor_url("swagger-ui/swagger-ui.css"),
        standalone_preset_js_url=vendor_url("swagger-ui/swagger-ui-standalone-preset.js"),
        favicon=f"<link rel='icon' type='image/png' href='{icon}'>",
    )
    return [swagger, JsonRenderPlugin(), YamlRenderPlugin(path=["/openapi.yaml", "/openapi.yml"])]
