"""The task service's MongoDB access (motor). The only module of the service that imports it."""

from __future__ import annotations

from motor.motor_asyncio import AsyncIOMotorClient


class MongoTaskRepository:
    def __init__(self, client: AsyncIOMotorClient, database: str) -> None:
        self.client = client
        self.db = client[database]

    async def ping(self) -> bool:
        try:
            await self.db.command("ping")
            return True
        except Exception:
            return False

    def close(self) -> None:
        self.client.close()


def connect(url: str, database: str) -> MongoTaskRepository:
    client: AsyncIOMotorClient = AsyncIOMotorClient(url, serverSelectionTimeoutMS=3000, tz_aware=True)
    return MongoTaskRepository(client, database)
