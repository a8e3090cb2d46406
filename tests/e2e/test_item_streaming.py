"""An uploaded item's content in ranges (what <video> asks for), and the validators that
let a browser keep content and thumbnails: ETag, If-None-Match, Cache-Control."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

pytestmark = pytest.mark.e2e


async def _upload(platform) -> tuple[dict, bytes]:
    buffer = io.BytesIO()
    # noise, so the PNG is several GridFS chunks (255 KiB each) long and ranges cross them
    Image.frombytes("RGB", (600, 400), os.urandom(600 * 400 * 3)).save(buffer, "PNG")
    r = await platform.client.post(
        f"/api/v1/datasets/{platform.ids['dataset']}/items/upload",
        files={"file": ("noise.png", buffer.getvalue(), "image/png")}, headers=platform.auth())
    assert r.status_code == 201, r.text
    return r.json(), buffer.getvalue()


async def _get(platform, path: str, **headers: str):
    return await platform.client.get(path, headers=platform.auth() | headers)


async def test_a_range_of_an_uploaded_file_answers_206_with_exactly_those_bytes(platform):
    item, content = await _upload(platform)
    path, size = f"/api/v1/items/{item['id']}/stream", len(content)
    assert size > 2 * 255 * 1024
    whole = await _get(platform, path)
    assert whole.status_code == 200 and whole.content == content
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-length"] == str(size)
    start, end = 255 * 1024 - 10, 2 * 255 * 1024 + 10  # across two chunk boundaries
    for header, first, last in [(f"bytes={start}-{end}", start, end), ("bytes=0-0", 0, 0),
                                (f"bytes={size - 7}-", size - 7, size - 1),
                                ("bytes=-100", size - 100, size - 1),
                                (f"bytes=10-{size + 1000}", 10, size - 1)]:
        part = await _get(platform, path, Range=header)
        assert part.status_code == 206, (header, part.text)
        assert part.content == content[first:last + 1], header
        assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert part.headers["content-length"] == str(last - first + 1)
        assert part.headers["accept-ranges"] == "bytes" and part.headers["content-type"] == "image/png"
        assert part.headers["etag"] == whole.headers["etag"]


async def test_a_range_outside_the_file_answers_416_and_a_foreign_if_range_the_whole_file(platform):
    item, content = await _upload(platform)
    path, size = f"/api/v1/items/{item['id']}/stream", len(content)
    for header in (f"bytes={size}-", f"bytes={size}-{size + 5}", "bytes=-0", "bytes=9-5"):
        r = await _get(platform, path, Range=header)
        assert r.status_code == 416, header
        assert r.headers["content-range"] == f"bytes */{size}"
        assert r.headers["accept-ranges"] == "bytes"
    several = await _get(platform, path, Range="bytes=0-1,5-9")  # one range per request
    assert several.status_code == 200 and several.content == content
    etag = several.headers["etag"]
    same = await _get(platform, path, Range="bytes=0-9", **{"If-Range": etag})
    assert same.status_code == 206 and same.content == content[:10]
    other = await _get(platform, path, Range="bytes=0-9", **{"If-Range": '"another"'})
    assert other.status_code == 200 and other.content == content


async def test_content_and_thumbnail_carry_an_etag_and_if_none_match_answers_304(platform):
    item, _ = await _upload(platform)
    for path in (f"/api/v1/items/{item['id']}/stream", f"/api/v1/items/{item['id']}/thumbnail"):
        first = await _get(platform, path)
        etag = first.headers["etag"]
        assert first.status_code == 200 and etag.startswith('"') and etag.endswith('"')
        again = await _get(platform, path, **{"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag and again.headers["accept-ranges"] == "bytes"
        assert again.headers["cache-control"] == first.headers["cache-control"]
        weak_in_a_list = await _get(platform, path, **{"If-None-Match": f'"x", W/{etag}'})
        assert weak_in_a_list.status_code == 304
        changed = await _get(platform, path, **{"If-None-Match": '"not it"'})
        assert changed.status_code == 200 and changed.content == first.content
    thumb = await _get(platform, f"/api/v1/items/{item['id']}/thumbnail")
    content = await _get(platform, f"/api/v1/items/{item['id']}/stream")
    assert thumb.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert content.headers["cache-control"] == "private, max-age=3600"
    assert thumb.headers["etag"] != content.headers["etag"]


async def test_an_item_registered_by_url_still_redirects_to_it(platform):
    r = await _get(platform, f"/api/v1/items/{platform.ids['item']}/stream", Range="bytes=0-9")
    assert r.status_code in (302, 307) and r.headers["location"] == "http://example.com/shirt.jpg"
