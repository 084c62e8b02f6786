"""@context documents: the built-in core, hosted and cached contexts in the shared catalog,
remote fetching (aiohttp: timeout, size limit, http/https only) and compiled term maps (5.5.7, 5.13).

Lookup order for a URL: compiled-in-memory (TTL) → catalog → HTTP fetch (then stored as Cached).
Catalog documents (collection `contexts` of the shared catalog):

    {"_id": "<localId>", "kind": "Hosted" | "Cached" | "ImplicitlyCreated",
     "url": "<source URL>" (Cached only), "tenant": "<tenant>" (Hosted/ImplicitlyCreated) or None,
     "body": {"@context": …}, "createdAt": ISODate}

Hosted and ImplicitlyCreated entries are private to their tenant ("" = the default tenant): only
that tenant lists, serves, deletes or resolves them. Cached entries are copies of public documents
and are shared. The core context is never stored: it is vendored and reported as a Cached entry.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from pymongo.asynchronous.collection import AsyncCollection

from broker.ngsild.context import (
    CORE_CONTEXT_URLS,
    TermMap,
    compile_term_map,
    context_entries,
    core_context_document,
    core_term_map,
    is_core_context_url,
)
from broker.ngsild.errors import BadRequestData, LdContextNotAvailable

CONTEXTS = "contexts"
HOSTED, CACHED, IMPLICIT = "Hosted", "Cached", "ImplicitlyCreated"
_HOSTED_PATH = re.compile(r"/ngsi-ld/v1/jsonldContexts/([^/?#]+)$")
_URL = re.compile(r"^https?://")
_MAX_DEPTH = 8


@dataclass(frozen=True)
class ContextSettings:
    core_version: str = "1.8"
    fetch_timeout_s: float = 5.0
    max_bytes: int = 512 * 1024
    cache_ttl_s: float = 3600.0
    unavailable_status: int = 503


@dataclass(frozen=True)
class StoredContext:
    """One entry of the @context catalog as the /jsonldContexts resource reports it (5.13)."""

    local_id: str
    kind: str
    url: str | None
    """The source URL of a Cached entry (or of the core); None for entries this broker hosts."""
    created_at: datetime
    body: dict[str, Any] | None = None
    """The stored document {"@context": …}; None when listed without bodies."""


def _stored(document: dict[str, Any]) -> StoredContext:
    return StoredContext(local_id=document["_id"], kind=document["kind"], url=document.get("url"),
                         created_at=document["createdAt"], body=document.get("body"))


class ContextResolver:
    """Turns a request's @context (None, a URL, an object, or a list of both) into a TermMap."""

    def __init__(self, collection: AsyncCollection, settings: ContextSettings) -> None:
        self.collection = collection
        self.settings = settings
        self.core_url = CORE_CONTEXT_URLS[settings.core_version]
        self._documents: dict[str, tuple[float, Any]] = {}   # url → (fetched at, @context value)
        self._term_maps: OrderedDict[str, tuple[float, TermMap]] = OrderedDict()
        self._session: aiohttp.ClientSession | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._started = datetime.now(UTC)

    @property
    def core(self) -> dict[str, Any]:
        return core_context_document(self.settings.core_version)["@context"]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def term_map(self, context: Any, tenant: str = "") -> TermMap:
        """The compiled term map for a request @context; None means the core context alone."""
        if context is None or (isinstance(context, str) and is_core_context_url(context)):
            return core_term_map(self.settings.core_version)
        # keyed by tenant too: a hosted context (even one nested in a remote one) is tenant-private
        key = tenant + "\x00" + (context if isinstance(context, str) else orjson.dumps(
            context, option=orjson.OPT_SORT_KEYS).decode())
        cached = self._term_maps.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.settings.cache_ttl_s:
            self._term_maps.move_to_end(key)
            return cached[1]
        objects: list[dict[str, Any]] = []
        await self._flatten(context, tenant, objects, depth=0, seen=set())
        terms = compile_term_map(objects, self.core)
        self._term_maps[key] = (now, terms)
        if len(self._term_maps) > 1000:
            self._term_maps.popitem(last=False)
        return terms

    async def _flatten(self, context: Any, tenant: str, out: list[dict[str, Any]], depth: int,
                       seen: set[str]) -> None:
        if depth > _MAX_DEPTH:
            raise BadRequestData(f"@context nests remote contexts deeper than {_MAX_DEPTH} levels")
        for entry in context_entries(context):
            if isinstance(entry, dict):
                out.append(entry)
            elif is_core_context_url(entry):
                continue  # the core is always applied last
            elif entry in seen:
                raise BadRequestData(f"@context {entry} includes itself")
            else:
                value = await self.document(entry, tenant)
                await self._flatten(value, tenant, out, depth + 1, seen | {entry})

    async def document(self, url: str, tenant: str = "") -> Any:
        """The @context value of the document at `url` (hosted, cached or fetched now)."""
        key = _document_key(url, tenant)
        cached = self._documents.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.settings.cache_ttl_s:
            return cached[1]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one fetch per URL even when many requests arrive together
            cached = self._documents.get(key)
            if cached is not None and time.monotonic() - cached[0] < self.settings.cache_ttl_s:
                return cached[1]
            value = await self._load(url, tenant)
            self._documents[key] = (time.monotonic(), value)
            return value

    async def _load(self, url: str, tenant: str) -> Any:
        hosted = _HOSTED_PATH.search(url)
        if hosted:
            entry = await self._hosted_entry(hosted.group(1), tenant)
            if entry is not None:
                return entry["body"]["@context"]
        entry = await self.collection.find_one({"url": url, "kind": CACHED})
        if entry is not None:
            return entry["body"]["@context"]
        body = await self.fetch(url)
        await self._store_cached(url, body)
        return body["@context"]

    async def _store_cached(self, url: str, body: dict[str, Any]) -> None:
        await self.collection.update_one(
            {"url": url, "kind": CACHED},
            {"$set": {"body": body},
             "$setOnInsert": {"_id": uuid.uuid4().hex, "createdAt": datetime.now(UTC), "tenant": None}},
            upsert=True,
        )

    async def fetch(self, url: str) -> dict[str, Any]:
        """GET a remote context document; unreachable → LdContextNotAvailable, invalid → BadRequestData."""
        if not re.match(r"^https?://", url):
            raise BadRequestData(f"@context URL must be http(s): {url!r}")
        unavailable = self.settings.unavailable_status
        try:
            session = self._http()
            async with session.get(url, headers={"Accept": "application/ld+json, application/json"},
                                   max_redirects=3) as response:
                if response.status != 200:
                    raise LdContextNotAvailable(
                        f"@context {url} could not be retrieved: HTTP {response.status}", status=unavailable)
                data = await response.content.read(self.settings.max_bytes + 1)
        except LdContextNotAvailable:
            raise
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise LdContextNotAvailable(f"@context {url} could not be retrieved: {exc or type(exc).__name__}",
                                        status=unavailable) from None
        if len(data) > self.settings.max_bytes:
            raise BadRequestData(f"@context {url} is larger than {self.settings.max_bytes} bytes")
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise BadRequestData(f"@context {url} is not valid JSON") from None
        if not isinstance(body, dict) or "@context" not in body:
            raise BadRequestData(f"@context {url} is not a JSON-LD context document (no @context member)")
        context_entries(body["@context"])
        return body

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.fetch_timeout_s),
                headers={"User-Agent": "kyodo-broker"})
        return self._session

    def forget(self, url: str) -> None:
        """Drop a URL from the in-memory caches (after a delete or reload).

        Every compiled term map goes too: any of them may include the URL through a nested context,
        and deletes and reloads are rare enough that recompiling costs nothing that matters.
        """
        for key in [k for k in self._documents if k == url or k.endswith("\x00" + url)]:
            del self._documents[key]
        self._term_maps.clear()

    def forget_all(self) -> None:
        self._documents.clear()
        self._term_maps.clear()

    # -- the /jsonldContexts resource (5.13) ------------------------------------------------------

    @property
    def core_local_id(self) -> str:
        return f"ngsi-ld-core-context-v{self.settings.core_version}"

    def _core_entry(self, *, with_body: bool = True) -> StoredContext:
        body = core_context_document(self.settings.core_version) if with_body else None
        return StoredContext(local_id=self.core_local_id, kind=CACHED, url=self.core_url,
                             created_at=self._started, body=body)

    async def host_context(self, context: Any, tenant: str, *, kind: str = HOSTED) -> str:
        """Store an @context (object or list) for a tenant; returns its localId (5.13.2).

        Compiling it first validates it and fetches every URL it names, which stores each as Cached.
        """
        await self.term_map(context, tenant)
        local_id = uuid.uuid4().hex
        await self.collection.insert_one({"_id": local_id, "kind": kind, "tenant": tenant,
                                          "body": {"@context": context}, "createdAt": datetime.now(UTC)})
        return local_id

    async def list_contexts(self, tenant: str, kind: str | None = None) -> list[StoredContext]:
        """The core, then the tenant's Hosted/ImplicitlyCreated entries, then the Cached ones (5.13.3)."""
        found: list[StoredContext] = []
        if kind in (None, CACHED):
            found.append(self._core_entry(with_body=False))
        if kind != CACHED:
            kinds = [kind] if kind else [HOSTED, IMPLICIT]
            found += await self._find({"tenant": tenant, "kind": {"$in": kinds}})
        if kind in (None, CACHED):
            found += await self._find({"kind": CACHED})
        return found

    async def _find(self, query: dict[str, Any]) -> list[StoredContext]:
        documents = [d async for d in self.collection.find(query, {"body": 0})]
        documents.sort(key=lambda d: (d["createdAt"], d["_id"]))
        return [_stored(d) for d in documents]

    async def find_context(self, context_id: str, tenant: str) -> StoredContext | None:
        """An entry by localId, by the URL this broker hosts it at, or by its source URL (5.13.4)."""
        if context_id == self.core_local_id or is_core_context_url(context_id):
            return self._core_entry()
        document = await self._entry(context_id, tenant)
        return _stored(document) if document is not None else None

    async def _entry(self, context_id: str, tenant: str) -> dict[str, Any] | None:
        if not _URL.match(context_id):
            document = await self.collection.find_one({"_id": context_id})
            visible = document is not None and (document["kind"] == CACHED or document["tenant"] == tenant)
            return document if visible else None
        hosted = _HOSTED_PATH.search(context_id)
        if hosted:
            document = await self._hosted_entry(hosted.group(1), tenant)
            if document is not None:
                return document
        return await self.collection.find_one({"url": context_id, "kind": CACHED})

    async def _hosted_entry(self, local_id: str, tenant: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": local_id, "kind": {"$ne": CACHED}, "tenant": tenant})

    async def delete_context(self, context_id: str, tenant: str) -> bool:
        """Delete an entry (5.13.5); False when there is none. The core cannot be deleted."""
        if context_id == self.core_local_id or is_core_context_url(context_id):
            raise BadRequestData("The NGSI-LD core @context cannot be deleted")
        document = await self._entry(context_id, tenant)
        if document is None:
            return False
        await self.collection.delete_one({"_id": document["_id"]})
        self._forget_entry(document)
        return True

    async def reload_context(self, context_id: str, tenant: str) -> bool:
        """Fetch a Cached entry's source again (5.13.5, reload=true); False when there is none.

        A failed fetch raises and keeps the stored copy. Reloading the vendored core is a no-op.
        """
        if context_id == self.core_local_id or is_core_context_url(context_id):
            return True
        document = await self._entry(context_id, tenant)
        if document is None:
            if not _URL.match(context_id):
                raise BadRequestData(f"reload=true needs the URL of a Cached @context, got {context_id!r}")
            return False
        if document["kind"] != CACHED:
            raise BadRequestData(f"@context {context_id} is {document['kind']}: only Cached ones can be "
                                 "reloaded")
        body = await self.fetch(document["url"])
        await self.collection.update_one({"_id": document["_id"]}, {"$set": {"body": body}})
        self._forget_entry(document)
        return True

    async def drop_tenant(self, tenant: str) -> None:
        """Delete a purged tenant's private (Hosted, ImplicitlyCreated) entries, here and in memory."""
        await self.collection.delete_many({"tenant": tenant, "kind": {"$ne": CACHED}})
        for key in [key for key in self._documents if key.startswith(tenant + "\x00")]:
            del self._documents[key]
        self._term_maps.clear()

    def _forget_entry(self, document: dict[str, Any]) -> None:
        if document["kind"] == CACHED:
            self.forget(document["url"])
            return
        suffix = f"/ngsi-ld/v1/jsonldContexts/{document['_id']}"
        for key in [k for k in self._documents if k.endswith(suffix)]:
            del self._documents[key]
        self._term_maps.clear()


def _document_key(url: str, tenant: str) -> str:
    """The in-memory cache key of a document: hosted URLs resolve per tenant, others are shared."""
    return tenant + "\x00" + url if _HOSTED_PATH.search(url) else url
