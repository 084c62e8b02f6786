"""Remote @context resolution (5.5.6, 5.5.7): fetch once, cache in memory and the catalog, fail cleanly."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from broker.config import Settings
from broker.ngsild.errors import BadRequestData, LdContextNotAvailable
from broker.store.contexts import CACHED, CONTEXTS, ContextResolver, ContextSettings

Resolvers = Callable[..., ContextResolver]


@pytest.fixture
async def catalog(mongo_url: str, settings: Settings) -> AsyncIterator[AsyncCollection]:
    """The real `contexts` catalog collection of this test's database prefix."""
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True)
    yield client[f"{settings.db_prefix}-catalog"][CONTEXTS]
    await client.close()


@pytest.fixture
async def resolvers(catalog: AsyncCollection) -> AsyncIterator[Resolvers]:
    """Makes resolvers on the shared catalog (like broker replicas) and closes them afterwards."""
    made: list[ContextResolver] = []

    def make(**settings: Any) -> ContextResolver:
        made.append(ContextResolver(catalog, ContextSettings(**settings)))
        return made[-1]

    yield make
    for resolver in made:
        await resolver.close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/contexts/nothing"


async def test_remote_context_is_fetched_once_then_served_from_memory(context_server, resolvers):
    url = context_server.add("shop", {"Shelf": "https://example.org/Shelf"})
    resolver = resolvers()
    first = await resolver.term_map(url)
    second = await resolver.term_map([url, {"stock": "https://example.org/stock"}])
    assert first.expand("Shelf") == "https://example.org/Shelf"
    assert second.expand("Shelf") == "https://example.org/Shelf"
    assert second.expand("stock") == "https://example.org/stock"
    assert context_server.hits == {"shop": 1}


async def test_fetched_context_is_stored_as_cached_in_the_catalog(context_server, resolvers, catalog):
    url = context_server.add("shop", {"Shelf": "https://example.org/Shelf"})
    await resolvers().term_map(url)
    entries = [entry async for entry in catalog.find({}, {"_id": 0, "createdAt": 0})]
    assert entries == [{"kind": CACHED, "url": url, "tenant": None,
                        "body": {"@context": {"Shelf": "https://example.org/Shelf"}}}]


async def test_second_resolver_on_the_same_catalog_does_not_fetch_again(context_server, resolvers):
    url = context_server.add("shop", {"Shelf": "https://example.org/Shelf"})
    await resolvers().term_map(url)
    other_replica = resolvers()
    terms = await other_replica.term_map(url)
    assert terms.expand("Shelf") == "https://example.org/Shelf"
    assert context_server.hits == {"shop": 1}


async def test_unreachable_context_is_ld_context_not_available_503_by_default(resolvers):
    with pytest.raises(LdContextNotAvailable) as raised:
        await resolvers(fetch_timeout_s=2.0).term_map(closed_port_url())
    assert raised.value.status == 503


async def test_unreachable_context_is_504_when_configured_for_v1_9(resolvers):
    with pytest.raises(LdContextNotAvailable) as raised:
        await resolvers(fetch_timeout_s=2.0, unavailable_status=504).term_map(closed_port_url())
    assert raised.value.status == 504


async def test_context_the_server_answers_404_for_is_ld_context_not_available(context_server, resolvers):
    with pytest.raises(LdContextNotAvailable) as raised:
        await resolvers().term_map(context_server.url("missing"))
    assert raised.value.status == 503
    assert "HTTP 404" in raised.value.detail
    assert context_server.hits == {"missing": 1}


@pytest.mark.parametrize(("document", "complaint"), [
    ("this is not JSON", "not valid JSON"),
    ({"Shelf": "https://example.org/Shelf"}, "no @context member"),
    (["https://example.org/a"], "no @context member"),
    ({"@context": 42}, "must be URLs or objects"),
])
async def test_invalid_remote_document_is_bad_request_data(context_server, resolvers, catalog,
                                                           document, complaint):
    context_server.documents["bad"] = document
    with pytest.raises(BadRequestData) as raised:
        await resolvers().term_map(context_server.url("bad"))
    assert complaint in raised.value.detail
    assert await catalog.count_documents({}) == 0


async def test_document_larger_than_max_bytes_is_bad_request_data(context_server, resolvers):
    url = context_server.add("big", {f"term{i}": f"https://example.org/term{i}" for i in range(100)})
    with pytest.raises(BadRequestData) as raised:
        await resolvers(max_bytes=1024).term_map(url)
    assert "larger than 1024 bytes" in raised.value.detail


async def test_nested_remote_contexts_are_resolved_recursively(context_server, resolvers):
    inner = context_server.add("inner", {"stock": "https://example.org/stock"})
    middle = context_server.add("middle", [inner, {"Shelf": "https://example.org/Shelf"}])
    outer = context_server.add("outer", [middle, {"price": "https://example.org/price"}])
    terms = await resolvers().term_map(outer)
    assert [terms.expand(t) for t in ("stock", "Shelf", "price")] == [
        "https://example.org/stock", "https://example.org/Shelf", "https://example.org/price"]
    assert context_server.hits == {"outer": 1, "middle": 1, "inner": 1}


async def test_context_that_includes_itself_is_bad_request_data(context_server, resolvers):
    looping = context_server.url("loop")
    context_server.add("loop", [looping, {"Shelf": "https://example.org/Shelf"}])
    with pytest.raises(BadRequestData) as raised:
        await resolvers().term_map(looping)
    assert "includes itself" in raised.value.detail


async def test_contexts_that_include_each_other_are_bad_request_data(context_server, resolvers):
    first, second = context_server.url("first"), context_server.url("second")
    context_server.add("first", [second])
    context_server.add("second", [first])
    with pytest.raises(BadRequestData):
        await resolvers().term_map(first)


@pytest.mark.parametrize("core_url", [
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld",
])
async def test_core_context_urls_are_never_fetched(resolvers, catalog, core_url):
    resolver = resolvers()

    async def no_fetch(url: str) -> dict[str, Any]:
        raise AssertionError(f"fetched {url}")

    resolver.fetch = no_fetch  # type: ignore[method-assign]
    alone = await resolver.term_map(core_url)
    listed = await resolver.term_map([core_url, {"Shelf": "https://example.org/Shelf"}])
    assert alone.expand("location") == "https://uri.etsi.org/ngsi-ld/location"
    assert listed.expand("Shelf") == "https://example.org/Shelf"
    assert await catalog.count_documents({}) == 0
