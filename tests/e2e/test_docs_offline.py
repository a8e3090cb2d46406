"""The API documents work with no Internet: Swagger UI loads only files the gateway serves,
and the OpenAPI document describes the JSON API, not the page assets."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from gateway.assets import VENDOR_DIR

pytestmark = pytest.mark.e2e

VENDORED = ["swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css",
            "swagger-ui/swagger-ui-standalone-preset.js", "swagger-ui/favicon-32x32.png",
            "htmx.min.js", "alpine.min.js"]


async def test_swagger_ui_references_only_local_urls_each_served_without_a_token(platform):
    for page in ("/schema/swagger", "/schema"):
        r = await platform.client.get(page)
        assert r.status_code == 200 and "SwaggerUIBundle" in r.text
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", r.text)
        assert len(urls) == 4, urls  # the stylesheet, two scripts, the icon
        assert not re.search(r"https?://", r.text.split("<body>")[0]), "a CDN in the page's head"
        for url in urls:
            assert url.startswith("/static/vendor/"), url
            asset = await platform.client.get(url)  # no Authorization, no cookie
            assert asset.status_code == 200, url
            assert "max-age=31536000" in asset.headers["cache-control"]
            name = url.removeprefix("/static/vendor/").split("?")[0]
            assert asset.content == (VENDOR_DIR / name).read_bytes()


async def test_each_vendored_file_is_served_and_listed_with_its_licence(platform):
    listed = (VENDOR_DIR / "VERSIONS.md").read_text()
    for name in VENDORED:
        r = await platform.client.get(f"/static/vendor/{name}")
        assert r.status_code == 200, name
        assert f"`{name}`" in listed, name
    for licence in re.findall(r"`licenses/([^`]+)`", listed):
        assert (VENDOR_DIR / "licenses" / licence).is_file(), licence
    assert (await platform.client.get("/static/vendor/../app.py")).status_code == 404
    assert (await platform.client.get("/static/vendor/nothing.js")).status_code == 404


async def test_the_openapi_document_names_no_page_asset_and_no_cdn_viewer(platform):
    doc = (await platform.client.get("/schema/openapi.json")).json()
    assert not [p for p in doc["paths"] if p.startswith("/static")]
    pages = [(p, m) for p, ops in doc["paths"].items() for m, op in ops.items()
             if "text/html" in str(op.get("responses", {}))]
    assert not pages, "an HTML page in the OpenAPI document"
    prefixes = ("/api/v1/", "/dtlpy/api/v1/", "/health/", "/docs/")  # dtlpy: docs/dtlpy.md
    assert all(p.startswith(prefixes) for p in doc["paths"]), doc["paths"]
    assert "/api/v1/users/me/keymap" in doc["paths"]
    for viewer in ("/schema/redoc", "/schema/rapidoc", "/schema/elements"):
        assert (await platform.client.get(viewer)).status_code == 404, viewer


def test_the_package_data_ships_every_vendored_file():
    root = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["gateway"]
    shipped = {path for pattern in patterns for path in (root / "gateway").glob(pattern)}
    vendored = [path for path in VENDOR_DIR.rglob("*") if path.is_file()]
    assert len(vendored) >= len(VENDORED) + 3
    assert not [str(path) for path in vendored if path not in shipped]
