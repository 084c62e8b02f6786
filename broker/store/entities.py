"""Entity persistence for one tenant: create, read, compare-and-swap modify, delete (5.6, 5.7.1).

Writes that depend on the stored entity (append, update, merge, attribute operations) read the
document, apply the pure change from broker/ngsild/update.py and write it back only if its
version `v` is unchanged, retrying on a concurrent write: two round trips, no lost updates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from broker.ngsild.errors import AlreadyExists, InternalError, ResourceNotFound
from broker.ngsild.model import Entity
from broker.ngsild.update import WriteOutcome
from broker.store.documents import encode_key, from_document, to_document, version_of

ENTITIES = "entities"
_MAX_CAS_ATTEMPTS = 20
_ENTITY_FIELDS = ("_id", "type", "scope", "createdAt", "modifiedAt", "expiresAt", "v")


async def ensure_entity_indexes(db: AsyncDatabase) -> None:
    """Indexes every entity query path relies on (idempotent)."""
    collection = db[ENTITIES]
    await collection.create_index([("type", ASCENDING)], name="type")
    await collection.create_index([("attrNames", ASCENDING)], name="attrNames")
    await collection.create_index([("modifiedAt", DESCENDING)], name="modifiedAt")
    # single-field on a scalar, so `distinct` reads only index keys (discovery, documents.py)
    await collection.create_index([("shape", ASCENDING)], name="shape")


class EntityStore:
    """The entities collection of one tenant database."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[ENTITIES]

    async def count(self) -> int:
        """How many entities the tenant holds, counted by the database (quotas, admin usage)."""
        return await self.collection.count_documents({})

    async def existing_ids(self, entity_ids: list[str]) -> set[str]:
        """Which of these ids are stored (one index-only query)."""
        cursor = self.collection.find({"_id": {"$in": entity_ids}}, {"_id": 1})
        return {doc["_id"] async for doc in cursor}

    async def create(self, entity: Entity) -> None:
        try:
            await self.collection.insert_one(to_document(entity, 1))
        except DuplicateKeyError:
            raise AlreadyExists(f"Entity {entity['id']} already exists") from None

    async def get(self, entity_id: str, *, types: list[str] | None = None,
                  attrs: frozenset[str] | None = None) -> Entity:
        """The entity, optionally only with some attributes; 404 if absent or of another type."""
        projection: dict[str, int] | None = None
        if attrs is not None:
            projection = dict.fromkeys(_ENTITY_FIELDS, 1)
            for name in attrs:
                projection[f"attrs.{encode_key(name)}"] = 1
        doc = await self.collection.find_one(self._filter(entity_id, types), projection)
        if doc is None:
            raise ResourceNotFound(f"Entity {entity_id} not found" + (" with the requested type" if types else ""))
        return from_document(doc)

    async def delete(self, entity_id: str, *, types: list[str] | None = None) -> Entity:
        """Delete and return the entity as it was (notifications need it)."""
        doc = await self.collection.find_one_and_delete(self._filter(entity_id, types))
        if doc is None:
            raise ResourceNotFound(f"Entity {entity_id} not found" + (" with the requested type" if types else ""))
        return from_document(doc)

    async def modify(self, entity_id: str, change: Callable[[Entity], WriteOutcome], *,
                     types: list[str] | None = None) -> WriteOutcome:
        """Apply a pure change to the stored entity atomically (compare-and-swap on `v`)."""
        for _ in range(_MAX_CAS_ATTEMPTS):
            doc = await self.collection.find_one(self._filter(entity_id, types))
            if doc is None:
                raise ResourceNotFound(f"Entity {entity_id} not found")
            version = version_of(doc)
            outcome = change(from_document(doc))
            if outcome.entity["modifiedAt"] == doc["modifiedAt"]:
                return outcome  # nothing changed (e.g. noOverwrite skipped every attribute)
            replaced = await self.collection.replace_one(
                {"_id": entity_id, "v": version}, to_document(outcome.entity, version + 1))
            if replaced.matched_count:
                return outcome
        raise InternalError(f"Entity {entity_id} is being modified concurrently; try again")

    @staticmethod
    def _filter(entity_id: str, types: list[str] | None) -> dict[str, Any]:
        query: dict[str, Any] = {"_id": entity_id}
        if types:
            query["type"] = {"$in": types}
        return query
