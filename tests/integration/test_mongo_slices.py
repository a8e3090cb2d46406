"""Reads over many ids go in slices (shared/mongo.py): every document comes back once,
whether few or all of the ids exist, and a value's documents keep their sort order."""

from __future__ import annotations

from motor.motor_asyncio import AsyncIOMotorClient

from shared.platform.mongo import IN_SLICE, MAX_SLICE, find_in, update_in


async def test_slices_find_everything_once_and_update_everything(settings) -> None:
    client = AsyncIOMotorClient(settings.mongodb_url)
    coll = client[settings.mongodb_db]["slices_probe"]
    try:
        n = MAX_SLICE * 3
        await coll.insert_many([{"_id": f"d{i}", "k": f"v{i // 2}", "at": i % 2} for i in range(n)])
        missing = [f"none{i}" for i in range(MAX_SLICE * 2)]
        wanted = missing + [f"d{i}" for i in range(n)] + missing  # grows, meets all, shrinks
        docs = await find_in(coll, "_id", wanted)
        assert sorted(d["_id"] for d in docs) == sorted(f"d{i}" for i in range(n))

        by_value = await find_in(coll, "k", [f"v{i}" for i in range(n // 2)], {"at": {"$gte": 0}},
                                 {"k": 1, "at": 1}, sort=[("at", -1)])
        order: dict[str, list[int]] = {}
        for d in by_value:
            order.setdefault(d["k"], []).append(d["at"])
        assert len(by_value) == n and set(map(tuple, order.values())) == {(1, 0)}

        await update_in(coll, "_id", [f"d{i}" for i in range(IN_SLICE * 3 + 1)], {"$set": {"seen": True}})
        assert await coll.count_documents({"seen": True}) == IN_SLICE * 3 + 1
        assert await find_in(coll, "_id", []) == []
    finally:
        await coll.drop()
        client.close()
