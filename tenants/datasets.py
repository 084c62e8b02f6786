"""Published datasets in the shared catalog: request bodies, the stored document and its collection.

The document shape is the one tenants/published.py documents (its reader), plus two members:
`packageId` (a UUID given at publication: the CKAN package id) and `typeName` (the entity type as
the publisher wrote it, for titles). Entity types and attribute names arrive already expanded: the
handler in broker/api/catalog.py expands them with the request's @context, as NGSI-LD requests do.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from aiohttp import web
from pydantic import AfterValidator, Field, StrictFloat, StrictInt, StrictStr, StringConstraints, model_validator
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from broker.api.bodies import Body, Email, Text
from broker.api.state import services
from broker.auth.principal import principal_of
from broker.ngsild.names import format_datetime
from tenants.published import OPEN
from tenants.vocabularies import FREQUENCIES, LICENSES

CATALOG_BASE = "/catalog/v1"
DATASETS_PATH = f"{CATALOG_BASE}/datasets"
DATASET_NAME = re.compile(r"^[a-z0-9_-]{2,100}$")
EDITABLE = ("visibility", "excludedAttributes", "title", "description", "keywords", "license", "publisher",
            "contact", "updateFrequency", "spatial")
"""The members a PATCH may change; `name` and `entityType` identify the dataset and never change."""

LongText = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
Keyword = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                                 pattern=r"^[^,]+$")]
Name = Annotated[StrictStr, StringConstraints(min_length=1, max_length=1000)]
Number = StrictInt | StrictFloat


def _dataset_name(value: str) -> str:
    if not DATASET_NAME.match(value):
        raise ValueError("must be 2 to 100 characters of lower-case letters, digits, '-' and '_' "
                         f"(a CKAN package name), got {value!r}")
    return value


def _license(value: str) -> str:
    if value not in LICENSES:
        raise ValueError(f"unknown license {value!r}; one of {', '.join(LICENSES)} "
                         "(GET /catalog/api/3/action/license_list lists them)")
    return value


def _frequency(value: str) -> str:
    if value not in FREQUENCIES:
        raise ValueError(f"unknown update frequency {value!r}; one of {', '.join(FREQUENCIES)}")
    return value


class Localized(Body):
    """A text in Japanese and/or English; at least one of the two."""

    ja: LongText | None = None
    en: LongText | None = None

    @model_validator(mode="after")
    def _one_language(self) -> Localized:
        if self.ja is None and self.en is None:
            raise ValueError("give the text in at least one of 'ja' and 'en'")
        return self


class ShortLocalized(Localized):
    ja: Text | None = None
    en: Text | None = None


class DatasetContact(Body):
    name: Text
    email: Email


class Spatial(Body):
    """Spatial coverage: a place name and/or a WGS 84 bounding box [west, south, east, north]."""

    name: Text | None = None
    bbox: list[Number] | None = None

    @model_validator(mode="after")
    def _valid(self) -> Spatial:
        if self.name is None and self.bbox is None:
            raise ValueError("give at least one of 'name' and 'bbox'")
        if self.bbox is not None:
            if len(self.bbox) != 4:
                raise ValueError(f"bbox must be [west, south, east, north], got {len(self.bbox)} numbers")
            west, south, east, north = self.bbox
            if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
                raise ValueError("bbox longitudes must be within ±180 and latitudes within ±90 (WGS 84)")
            if west > east or south > north:
                raise ValueError("bbox must be [west, south, east, north] with west ≤ east and south ≤ north")
        return self


class DatasetSpec(Body):
    """The editable members of a dataset (POST and, after merging, PATCH)."""

    visibility: Literal["open", "members"] = "open"
    excluded_attributes: list[Name] = Field(default_factory=list, max_length=200)
    title: ShortLocalized
    description: Localized | None = None
    keywords: list[Keyword] = Field(default_factory=list, max_length=50)
    license: Annotated[StrictStr, AfterValidator(_license)]
    publisher: Text | None = None
    contact: DatasetContact | None = None
    update_frequency: Annotated[StrictStr, AfterValidator(_frequency)] | None = None
    spatial: Spatial | None = None

    def members(self) -> dict[str, Any]:
        """The document members, unset optional ones as None (so that a PATCH can unset them)."""
        body = self.model_dump(by_alias=True, include=set(DatasetSpec.model_fields))
        body["keywords"] = list(dict.fromkeys(body["keywords"]))
        for group in ("title", "description", "contact", "spatial"):
            if body[group] is not None:
                body[group] = {key: value for key, value in body[group].items() if value is not None}
        return body


class NewDataset(DatasetSpec):
    """POST /catalog/v1/datasets."""

    name: Annotated[StrictStr, AfterValidator(_dataset_name)]
    entity_type: Name
    tenant: StrictStr | None = None
    """Optional; when given it must be the NGSILD-Tenant of the request (403 otherwise)."""


def new_document(spec: NewDataset, tenant: str, entity_type: str, excluded: list[str], now: datetime) -> dict[str, Any]:
    members = spec.members()
    members["excludedAttributes"] = excluded
    return {"_id": spec.name, "tenant": tenant, "entityType": entity_type, "typeName": spec.entity_type,
            "packageId": str(uuid.uuid4()), **members, "issued": now, "modified": now}


def editable_json(doc: dict[str, Any]) -> dict[str, Any]:
    """The editable members of a stored dataset as JSON (the base a merge-patch applies to)."""
    return {name: doc[name] for name in EDITABLE if doc.get(name) is not None}


def dataset_json(doc: dict[str, Any]) -> dict[str, Any]:
    """A dataset as /catalog/v1/datasets shows it: names expanded, times in ISO 8601."""
    return {"name": doc["_id"], "tenant": doc["tenant"], "entityType": doc["entityType"],
            **{name: doc.get(name) for name in EDITABLE},
            "excludedAttributes": doc.get("excludedAttributes") or [],
            "keywords": doc.get("keywords") or [],
            "issued": format_datetime(doc["issued"]), "modified": format_datetime(doc["modified"])}


class DatasetExists(Exception):
    """The name is taken, or the tenant already publishes the entity type (the message says which)."""


class DatasetCatalog:
    """The `datasets` collection of the shared catalog."""

    def __init__(self, collection: AsyncCollection) -> None:
        self.collection = collection
        self._indexed = False

    async def ensure_indexes(self) -> None:
        if not self._indexed:
            await self.collection.create_index([("tenant", ASCENDING), ("entityType", ASCENDING)], unique=True)
            await self.collection.create_index([("modified", ASCENDING)])
            self._indexed = True

    async def create(self, doc: dict[str, Any]) -> None:
        await self.ensure_indexes()
        await self._refuse_duplicate(doc)
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            await self._refuse_duplicate(doc)  # a concurrent publication won: say which member collided
            raise DatasetExists(f"Dataset '{doc['_id']}' already exists") from None

    async def _refuse_duplicate(self, doc: dict[str, Any]) -> None:
        if await self.collection.find_one({"_id": doc["_id"]}, {"_id": 1}) is not None:
            raise DatasetExists(f"A dataset named '{doc['_id']}' already exists in the catalog; choose another name")
        same_type = await self.collection.find_one({"tenant": doc["tenant"], "entityType": doc["entityType"]},
                                                   {"_id": 1})
        if same_type is not None:
            raise DatasetExists(f"Tenant '{doc['tenant']}' already publishes entity type '{doc['entityType']}' "
                                f"as dataset '{same_type['_id']}'; change that one with PATCH")

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        """The dataset a MongoDB filter matches (one read)."""
        return await self.collection.find_one(query)

    async def page(self, query: dict[str, Any], *, offset: int, limit: int,
                   sort: list[tuple[str, int]] | None = None) -> tuple[list[dict[str, Any]], int]:
        """The datasets matching a MongoDB filter, one page of them and the total."""
        total = await self.collection.count_documents(query)
        if limit == 0:
            return [], total
        cursor = self.collection.find(query).sort(sort or [("_id", ASCENDING)]).skip(offset).limit(limit)
        return [doc async for doc in cursor], total

    async def replace(self, doc: dict[str, Any]) -> None:
        await self.collection.replace_one({"_id": doc["_id"]}, doc)

    async def delete(self, name: str) -> bool:
        return (await self.collection.delete_one({"_id": name})).deleted_count == 1

    async def delete_tenant(self, tenant: str) -> list[str]:
        """Unpublish every dataset of a tenant (it is being purged); the names removed."""
        names = [doc["_id"] async for doc in self.collection.find({"tenant": tenant}, {"_id": 1})]
        await self.collection.delete_many({"tenant": tenant})
        return sorted(names)

    async def names(self, query: dict[str, Any], *, offset: int, limit: int | None) -> list[str]:
        """The names of the datasets a filter matches, in name order, from `offset` (ids only read)."""
        cursor = self.collection.find(query, {"_id": 1}).sort("_id", ASCENDING).skip(offset)
        if limit is not None:
            cursor = cursor.limit(limit)
        return [doc["_id"] async for doc in cursor]

    async def counts_of(self, query: dict[str, Any], member: str) -> dict[str, int]:
        """Each value of a member (each element, for an array such as keywords) → how many of the
        datasets a filter matches have it (one read)."""
        pipeline = [{"$match": query}, {"$project": {"value": f"${member}"}}, {"$unwind": "$value"},
                    {"$group": {"_id": "$value", "n": {"$sum": 1}}}]
        return {row["_id"]: row["n"] async for row in await self.collection.aggregate(pipeline)}

    async def counts_by_tenant(self, query: dict[str, Any]) -> dict[str, int]:
        """Publishing tenant → how many of the datasets a filter matches it publishes, in tenant order (one read)."""
        pipeline = [{"$match": query}, {"$group": {"_id": "$tenant", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]
        return {row["_id"]: row["n"] async for row in await self.collection.aggregate(pipeline)}



DATASET_CATALOG = web.AppKey("dataset_catalog", DatasetCatalog)
"""The application's one DatasetCatalog (set by broker/app.py): the catalog, CKAN and admin APIs share it."""

async def display_names(registry: AsyncCollection, tenants: list[str]) -> dict[str, str]:
    """Tenant → its display name in the tenant registry (tenants without one are left out)."""
    cursor = registry.find({"_id": {"$in": tenants}}, {"displayName": 1})
    return {doc["_id"]: doc["displayName"] async for doc in cursor if doc.get("displayName")}


def is_member(request: web.Request) -> bool:
    """A valid token was presented (or KYODO_AUTH=none): members-only datasets are visible."""
    return principal_of(request) is not None


def base_url(request: web.Request) -> str:
    """The broker's external base URL for links: KYODO_PUBLIC_URL, or the request's scheme and Host."""
    configured = services(request).settings.public_url
    return configured.rstrip("/") if configured else f"{request.scheme}://{request.host}"


async def visible_to(request: web.Request) -> dict[str, Any]:
    """The filter of the datasets a reader sees: open ones, and members-only ones for members; none of
    a suspended or deactivated tenant (its data is not served, so its datasets are not advertised)."""
    query: dict[str, Any] = {} if is_member(request) else {"visibility": OPEN}
    withdrawn = sorted(await services(request).published.withdrawn())
    if withdrawn:
        query["tenant"] = {"$nin": withdrawn}
    return query


def dataset_url(base: str, name: str) -> str:
    return f"{base}{DATASETS_PATH}/{quote(name, safe='')}"


def access_url(base: str, doc: dict[str, Any]) -> str:
    """The NGSI-LD query that reads the dataset (with the header NGSILD-Tenant: <tenant>)."""
    return f"{base}/ngsi-ld/v1/entities?type={quote(doc['entityType'], safe='')}"


def access_note(doc: dict[str, Any]) -> str:
    """How to read a dataset: the tenant travels in a header, which a URL cannot carry."""
    token = "" if doc.get("visibility", OPEN) == OPEN else " and a bearer token of any member tenant"
    return (f"NGSI-LD API (ETSI GS CIM 009): GET this URL with the header 'NGSILD-Tenant: {doc['tenant']}'"
            f"{token}; paginate with limit and offset.")


def display_title(doc: dict[str, Any]) -> str:
    title = doc.get("title") or {}
    return title.get("ja") or title.get("en") or doc["_id"]
