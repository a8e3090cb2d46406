"""Request/reply reads (shared.contracts.queries), the owner's side: a service answers the
gateway's reads of its data from a table of named reads (the asking side: gateway.owners).

A read asked of the owner is consistent with the writes it has made durable: a command's
outcome reaches the gateway only after its change is stored, so a read asked after it sees
it, whichever gateway replica asks (no read model to lag behind)."""

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import bson
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from faststream.redis import RedisBroker

from shared.contracts import queries
from shared.platform.settings import Settings

log = logging.getLogger("classifier.queries")
CODEC = CodecOptions(tz_aware=True)
RAW = CodecOptions(document_class=RawBSONDocument, tz_aware=True)  # documents passed on as read
ASC = 1
WORKERS = 16  # queries answered at once per replica: each is one or two MongoDB reads

# A read: (arguments, where to start, how many) -> (documents, where the next page starts).
Read = Callable[[dict[str, Any], Any, int], Awaitable[tuple[list[Any], Any]]]


def serve(broker: RedisBroker, settings: Settings, owner: str, model: type[queries.Query],
          table: Mapping[str, Read]) -> None:
    """The owner's query subscriber: one list, answered by whichever replica pops it. (No
    postponed annotations in this module: the subscriber's parameter is typed with `model`.)"""

    @broker.subscriber(
        list=queries.channel(owner, settings.namespace), max_workers=WORKERS,
        title=f"{queries.channel(owner, settings.namespace)}:{owner}-svc",
        description=f"Reads of the {owner} service's data, asked by the gateway; answered on the "
        "request's reply channel with a BSON {docs, after} or {error}.",
    )
    async def answer(query: model) -> bytes:  # type: ignore[valid-type]
        try:
            docs, after = await table[query.query](query.args, query.after, query.limit)
            return bson.encode({"docs": docs, "after": after})
        except Exception as exc:  # the asker is told, instead of waiting until it gives up
            log.exception("query %s failed", query.query)
            return bson.encode({"error": f"{type(exc).__name__}: {exc}"})


async def paged(collection: Any, query: dict[str, Any], projection: dict[str, Any] | None,
                after: Any, limit: int, raw: bool = True) -> tuple[list[Any], Any]:
    """Documents of `query` in `_id` order from past `after`, at most `limit`; where the next
    page starts, or None when this one is the last. An owner's paged reads share it."""
    if after is not None:
        query = {"$and": [query, {"_id": {"$gt": after}}]}
    if raw:  # passed on as read: no decoding and encoding again of what the gateway decodes
        collection = collection.with_options(codec_options=RAW)
    docs = await collection.find(query, projection).sort("_id", ASC).limit(limit).to_list(limit)
    return docs, (docs[-1]["_id"] if len(docs) == limit else None)
