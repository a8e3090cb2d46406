"""Request/reply reads (shared.contracts.queries), the owner's side: a service answers the
gateway's reads of its data from a table of named reads (the asking side: gateway.owners).

A read asked of the owner is consistent with the writes it has made durable: a command's
outcome reaches the gateway only after its change is stored, so a read asked after it sees
it, whichever gateway replica asks (no read model to lag behind)."""

import asyncio
import contextlib
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
PRESENCE_EVERY_S = 1.0  # a replica says it is there this often...
PRESENCE_TTL_MS = 3000  # ...and is taken for gone this long after it last said so (killed)

# A read: (arguments, where to start, how many) -> (documents, where the next page starts).
Read = Callable[[dict[str, Any], Any, int], Awaitable[tuple[list[Any], Any]]]


class Presence:
    """A replica's presence as an owner of queries: the owner's presence key
    (queries.presence) set again every PRESENCE_EVERY_S with a PRESENCE_TTL_MS time to live,
    from the service's start to its stop. The key is shared by the owner's replicas and not
    deleted on stop (another may run): it expires PRESENCE_TTL_MS after the last one stopped
    or was killed."""

    def __init__(self, redis: Any, key: str) -> None:
        self.redis, self.key = redis, key
        self.beating: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.redis is None:  # no presence kept (an in-memory broker's tests)
            return
        await self.redis.set(self.key, "1", px=PRESENCE_TTL_MS)
        self.beating = asyncio.ensure_future(self._beat())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_EVERY_S)
            try:
                await self.redis.set(self.key, "1", px=PRESENCE_TTL_MS)
            except Exception as exc:  # noqa: BLE001 - Redis down: the asker cannot ask either
                log.warning("presence %s not renewed: %s", self.key, exc)

    async def stop(self) -> None:
        if self.beating is not None:
            self.beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.beating


def serve(broker: RedisBroker, settings: Settings, owner: str, model: type[queries.Query],
          table: Mapping[str, Read], redis: Any = None) -> Presence:
    """The owner's query subscriber: one list, answered by whichever replica pops it; and
    its presence, which the service starts and stops with itself. (No postponed annotations
    in this module: the subscriber's parameter is typed with `model`.)"""

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

    return Presence(redis, queries.presence(owner, settings.namespace))


FILTER_OPS = {"eq": "$eq", "ne": "$ne", "in": "$in", "nin": "$nin"}


def filtered(filters: list[dict[str, Any]], fields: set[str]) -> dict[str, Any]:
    """The MongoDB query of a read's plain filters, [{field, op, value}] (all must hold), on
    the fields the owner lets a caller filter on: a list's filter goes over the wire as plain
    JSON, never as MongoDB operators. A field or an operation outside those is refused."""
    query: dict[str, Any] = {}
    for f in filters:
        field, op = f["field"], f.get("op", "eq")
        if field not in fields or op not in FILTER_OPS:
            raise ValueError(f"cannot filter on {field} {op}")
        query.setdefault(field, {})[FILTER_OPS[op]] = f["value"]
    return query


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
