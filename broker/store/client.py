"""The MongoDB client and the tenant → database mapping (one database per tenant + the catalog)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

CATALOG_SUFFIX = "catalog"


class Databases:
    """One AsyncMongoClient per process; database names `<prefix>`, `<prefix>-<tenant>`, `<prefix>-catalog`."""

    def __init__(self, url: str, prefix: str, timeout_ms: int = 5000, event_listeners: list[Any] | None = None,
                 query_timeout_ms: int = 30_000) -> None:
        self.prefix = prefix
        self.client: AsyncMongoClient = AsyncMongoClient(
            url,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            # above KYODO_QUERY_TIMEOUT_MS: a long query ends by maxTimeMS (504), not by the socket (503)
            socketTimeoutMS=max(timeout_ms * 6, query_timeout_ms + 30_000),
            tz_aware=True,
            appname="kyodo",
            event_listeners=event_listeners or [],
        )
        self.catalog: AsyncDatabase = self.client[f"{prefix}-{CATALOG_SUFFIX}"]
        # per request the same few databases: building an AsyncDatabase each time was ~3 % of a retrieve
        self._tenants: dict[str | None, AsyncDatabase] = {}

    def tenant(self, tenant: str | None) -> AsyncDatabase:
        """The database of a tenant; None is the default tenant."""
        db = self._tenants.get(tenant)
        if db is None:
            if len(self._tenants) > 10_000:
                self._tenants.clear()
            db = self._tenants[tenant] = self.client[f"{self.prefix}-{tenant}" if tenant else self.prefix]
        return db

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def drop_tenant(self, tenant: str) -> None:
        await self.client.drop_database(f"{self.prefix}-{tenant}")

    async def close(self) -> None:
        await self.client.close()
