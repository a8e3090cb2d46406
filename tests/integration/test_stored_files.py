"""Reading a span of a GridFS file against a real MongoDB-wire server: the bytes asked for,
from exactly the chunks that hold them, and a loud failure when a chunk is missing."""

from __future__ import annotations

import os
from typing import Any

import pytest
from gridfs.errors import CorruptGridFile

from gateway.repository import StoredFile, connect

pytestmark = pytest.mark.integration

CHUNK = 255 * 1024  # GridFS's default chunk size


class Recorded:
    """The chunks collection, noting each query's filter and every chunk it returned."""

    def __init__(self, chunks: Any) -> None:
        self.chunks, self.filters, self.seen = chunks, [], []

    def find(self, filter: dict[str, Any], **kw: Any) -> Any:
        self.filters.append(filter)
        cursor = self.chunks.find(filter, **kw)
        seen = self.seen

        class Noting:
            def __aiter__(self):
                return self

            async def __anext__(self):
                chunk = await cursor.__anext__()
                seen.append(chunk["n"])
                return chunk

        return Noting()


@pytest.fixture
async def catalog(settings):
    catalog = connect(settings.mongodb_url, settings.mongodb_db)
    yield catalog
    catalog.client.close()


async def _read(stored: StoredFile, start: int, length: int) -> bytes:
    return b"".join([part async for part in stored.read(start, length)])


async def test_a_span_is_read_from_exactly_the_chunks_holding_it(catalog):
    content = os.urandom(5 * CHUNK + 123)
    file_id = await catalog.put_file("noise.bin", content, "application/octet-stream")
    stored = await catalog.open_file(file_id)
    assert stored is not None and stored.length == len(content)
    for start, length in [(0, len(content)), (0, 1), (CHUNK - 1, 2), (2 * CHUNK + 5, CHUNK),
                          (len(content) - 10, 10), (3 * CHUNK, CHUNK)]:
        doc = await catalog.db["files.files"].find_one({"_id": stored.id})
        recorded = Recorded(catalog.db["files.chunks"])
        assert await _read(StoredFile(recorded, doc), start, length) == content[start:start + length]
        first, last = start // CHUNK, (start + length - 1) // CHUNK
        assert recorded.seen == list(range(first, last + 1)), (start, length)
    assert await catalog.open_file("0" * 24) is None and await catalog.open_file("not an id") is None


async def test_a_missing_chunk_fails_the_read_instead_of_shortening_it(catalog):
    content = os.urandom(3 * CHUNK)
    stored = await catalog.open_file(await catalog.put_file("holes.bin", content, "image/png"))
    await catalog.db["files.chunks"].delete_one({"files_id": stored.id, "n": 1})
    with pytest.raises(CorruptGridFile):
        await _read(stored, 0, len(content))
    assert await _read(stored, 2 * CHUNK, 10) == content[2 * CHUNK:2 * CHUNK + 10]
