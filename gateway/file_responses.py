"""Answers carrying a stored file: `Range` (206, or 416 outside the file), `ETag` and
`If-None-Match` (304), `Accept-Ranges: bytes` on every answer, and the caller's caching.

The ETag is the GridFS file's id: a stored file never changes (a new upload is a new file),
so it identifies the bytes exactly. Bytes are streamed a chunk at a time, only those asked
for, so a video's range reads only its chunks and a whole video never sits in memory.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException
from litestar.response import Stream

from gateway.ranges import Unsatisfiable, none_match, range_applies, requested_range

# Cache-Control of an item's content and of its thumbnail (never changed for an item).
CONTENT_CACHE = "private, max-age=3600"
THUMBNAIL_CACHE = "private, max-age=31536000, immutable"


async def file_response(request: Request, catalog: Any, file_id: str, mimetype: str,
                        cache_control: str) -> Response[Any]:
    stored = await catalog.open_file(file_id)
    if stored is None:
        raise NotFoundException("the item's file is missing")
    etag = f'"{file_id}"'
    headers = {"ETag": etag, "Cache-Control": cache_control, "Accept-Ranges": "bytes"}
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(b"", status_code=304, headers=headers)
    size = stored.length
    try:
        wanted = requested_range(request.headers.get("range"), size) \
            if range_applies(request.headers.get("if-range"), etag) else None
    except Unsatisfiable as exc:
        raise HTTPException(status_code=416, detail=str(exc),
                            headers=headers | {"Content-Range": f"bytes */{size}"}) from None
    if wanted is None:
        return Stream(stored.read(0, size), media_type=mimetype,
                      headers=headers | {"Content-Length": str(size)})
    return Stream(stored.read(wanted.start, wanted.length), status_code=206, media_type=mimetype,
                  headers=headers | {"Content-Length": str(wanted.length),
                                     "Content-Range": wanted.content_range(size)})
