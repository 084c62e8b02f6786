"""The /jsonldContexts resource over HTTP (GS CIM 009 5.13, 6.29-6.30)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest

from broker.ngsild.context import core_context_document
from tests.conftest import API, CORE_CONTEXT, link

CONTEXTS = f"{API}/jsonldContexts"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
SHOP = {"Shelf": "https://example.org/Shelf", "stock": "https://example.org/stock"}
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def tenant(name: str) -> dict[str, str]:
    return {"NGSILD-Tenant": name}


def encoded(url: str) -> str:
    return f"{CONTEXTS}/{quote(url, safe='')}"


async def host(client, context: Any, headers: dict[str, str] | None = None) -> str:
    """POST a context; returns its localId."""
    response = await client.post(CONTEXTS, json={"@context": context}, headers=headers)
    assert response.status == 201, await response.text()
    return response.headers["Location"].rsplit("/", 1)[1]


def hosted_url(client, local_id: str) -> str:
    return str(client.make_url(f"{CONTEXTS}/{local_id}"))


async def assert_problem(response, status: int, name: str) -> None:
    assert response.status == status, await response.text()
    body = await response.json()
    assert body["type"] == ERRORS + name
    assert body["title"] and body["detail"] and body["title"] != body["detail"]


# -- create and serve ----------------------------------------------------------------------------

async def test_post_context_answers_201_with_location_and_empty_body(client):
    response = await client.post(CONTEXTS, json={"@context": SHOP})
    assert response.status == 201
    assert re.fullmatch(rf"{CONTEXTS}/[0-9a-f]{{32}}", response.headers["Location"])
    assert await response.read() == b""


async def test_post_context_accepts_application_ld_json(client):
    response = await client.post(CONTEXTS, data=b'{"@context": {"Shelf": "https://example.org/Shelf"}}',
                                 headers={"Content-Type": "application/ld+json"})
    assert response.status == 201
    assert response.headers["Location"].startswith(f"{CONTEXTS}/")


async def test_hosted_context_is_served_back_identical_as_application_json(client):
    context = [{"Shelf": "https://example.org/Shelf"}, {"stock": {"@id": "https://example.org/stock",
                                                                  "@type": "@vocab"}}]
    local_id = await host(client, context)
    response = await client.get(f"{CONTEXTS}/{local_id}")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert "Link" not in response.headers
    assert await response.json() == {"@context": context}


async def test_hosted_context_is_served_by_its_url_as_well_as_its_local_id(client):
    local_id = await host(client, SHOP)
    response = await client.get(encoded(hosted_url(client, local_id)))
    assert response.status == 200
    assert await response.json() == {"@context": SHOP}


async def test_hosted_context_details_are_exactly_url_local_id_kind_created_at(client):
    local_id = await host(client, SHOP)
    response = await client.get(f"{CONTEXTS}/{local_id}?details=true")
    assert response.status == 200
    body = await response.json()
    assert ISO_MS.match(body.pop("createdAt"))
    assert body == {"URL": hosted_url(client, local_id), "localId": local_id, "kind": "Hosted"}


async def test_hosted_context_is_usable_as_a_link_context(client):
    url = hosted_url(client, await host(client, SHOP))
    created = await client.post(f"{API}/entities", headers=link(url),
                                json={"id": "urn:ngsi-ld:Shelf:1", "type": "Shelf",
                                      "stock": {"type": "Property", "value": 7}})
    assert created.status == 201, await created.text()
    expanded = await client.get(f"{API}/entities/urn:ngsi-ld:Shelf:1")
    assert (await expanded.json())["type"] == "https://example.org/Shelf"
    compacted = await client.get(f"{API}/entities/urn:ngsi-ld:Shelf:1", headers=link(url))
    assert await compacted.json() == {"id": "urn:ngsi-ld:Shelf:1", "type": "Shelf",
                                      "stock": {"type": "Property", "value": 7}}


async def test_post_context_creates_an_unknown_tenant_implicitly(client):
    await host(client, SHOP, tenant("newshop"))
    response = await client.get(CONTEXTS, headers=tenant("newshop"))
    assert response.status == 200
    assert response.headers["NGSILD-Tenant"] == "newshop"


# -- list ------------------------------------------------------------------------------------------

async def test_list_without_details_gives_core_then_hosted_urls(client):
    first, second = await host(client, SHOP), await host(client, {"price": "https://example.org/price"})
    response = await client.get(CONTEXTS)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == [CORE_CONTEXT, hosted_url(client, first), hosted_url(client, second)]


async def test_list_with_details_gives_one_info_object_per_context(client):
    local_id = await host(client, SHOP)
    response = await client.get(f"{CONTEXTS}?details=true")
    assert response.status == 200
    body = await response.json()
    assert all(ISO_MS.match(info.pop("createdAt")) for info in body)
    assert body == [
        {"URL": CORE_CONTEXT, "localId": "ngsi-ld-core-context-v1.8", "kind": "Cached"},
        {"URL": hosted_url(client, local_id), "localId": local_id, "kind": "Hosted"},
    ]


async def test_list_puts_cached_urls_after_hosted_ones(client, context_server):
    cached = context_server.add("shop", SHOP)
    local_id = await host(client, [cached, {"price": "https://example.org/price"}])
    response = await client.get(CONTEXTS)
    assert await response.json() == [CORE_CONTEXT, hosted_url(client, local_id), cached]


@pytest.mark.parametrize(("kind", "expected"), [
    ("Hosted", ["hosted"]),
    ("Cached", ["core", "cached"]),
    ("ImplicitlyCreated", []),
])
async def test_list_filtered_by_kind(client, context_server, kind, expected):
    cached = context_server.add("shop", SHOP)
    urls = {"core": CORE_CONTEXT, "cached": cached,
            "hosted": hosted_url(client, await host(client, [cached]))}
    response = await client.get(f"{CONTEXTS}?kind={kind}")
    assert response.status == 200
    assert await response.json() == [urls[name] for name in expected]


async def test_list_filtered_by_kind_with_details_reports_only_that_kind(client, context_server):
    cached = context_server.add("shop", SHOP)
    await host(client, [cached])
    response = await client.get(f"{CONTEXTS}?kind=Cached&details=true")
    body = await response.json()
    assert [(info["URL"], info["kind"]) for info in body] == [(CORE_CONTEXT, "Cached"), (cached, "Cached")]


async def test_hosted_context_of_one_tenant_is_invisible_to_another(client):
    mine = await host(client, SHOP, tenant("tenanta"))
    theirs = await host(client, {"price": "https://example.org/price"}, tenant("tenantb"))
    listed = await client.get(CONTEXTS, headers=tenant("tenantb"))
    assert await listed.json() == [CORE_CONTEXT, hosted_url(client, theirs)]
    served = await client.get(f"{CONTEXTS}/{mine}", headers=tenant("tenantb"))
    await assert_problem(served, 404, "ResourceNotFound")
    deleted = await client.delete(f"{CONTEXTS}/{mine}", headers=tenant("tenantb"))
    await assert_problem(deleted, 404, "ResourceNotFound")
    default = await client.get(CONTEXTS)
    assert await default.json() == [CORE_CONTEXT]
    still_there = await client.get(f"{CONTEXTS}/{mine}", headers=tenant("tenanta"))
    assert still_there.status == 200


async def test_list_for_an_unknown_tenant_is_nonexistent_tenant(client):
    response = await client.get(CONTEXTS, headers=tenant("nobodyhere"))
    await assert_problem(response, 404, "NonexistentTenant")
    assert response.headers["NGSILD-Tenant"] == "nobodyhere"


# -- the core context -------------------------------------------------------------------------------

async def test_core_context_is_served_as_the_vendored_document(client):
    response = await client.get(encoded(CORE_CONTEXT))
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == core_context_document("1.8")


async def test_core_context_details(client):
    response = await client.get(encoded(CORE_CONTEXT) + "?details=true")
    assert response.status == 200
    body = await response.json()
    assert ISO_MS.match(body.pop("createdAt"))
    assert body == {"URL": CORE_CONTEXT, "localId": "ngsi-ld-core-context-v1.8", "kind": "Cached"}


async def test_deleting_the_core_context_is_bad_request_data(client):
    response = await client.delete(encoded(CORE_CONTEXT))
    await assert_problem(response, 400, "BadRequestData")
    assert (await client.get(encoded(CORE_CONTEXT))).status == 200


async def test_reloading_the_core_context_answers_204(client):
    response = await client.delete(encoded(CORE_CONTEXT) + "?reload=true")
    assert response.status == 204
    assert await response.read() == b""


# -- cached entries ------------------------------------------------------------------------------

async def test_list_post_stores_each_url_as_a_cached_entry(client, context_server):
    cached = context_server.add("shop", SHOP)
    await host(client, [cached, {"price": "https://example.org/price"}])
    assert context_server.hits == {"shop": 1}
    served = await client.get(encoded(cached))
    assert served.status == 200
    assert await served.json() == {"@context": SHOP}
    details = await client.get(encoded(cached) + "?details=true")
    info = await details.json()
    assert ISO_MS.match(info.pop("createdAt"))
    assert info == {"URL": cached, "localId": info["localId"], "kind": "Cached"}
    by_local_id = await client.get(f"{CONTEXTS}/{info['localId']}")
    assert await by_local_id.json() == {"@context": SHOP}


async def test_cached_entries_are_shared_by_all_tenants(client, context_server):
    cached = context_server.add("shop", SHOP)
    await host(client, [cached], tenant("tenanta"))
    await host(client, {"price": "https://example.org/price"}, tenant("tenantb"))
    response = await client.get(f"{CONTEXTS}?kind=Cached", headers=tenant("tenantb"))
    assert await response.json() == [CORE_CONTEXT, cached]


async def test_reload_fetches_a_cached_entry_again(client, context_server):
    cached = context_server.add("shop", SHOP)
    await host(client, [cached])
    context_server.add("shop", {**SHOP, "price": "https://example.org/price"})
    response = await client.delete(encoded(cached) + "?reload=true")
    assert response.status == 204
    assert context_server.hits == {"shop": 2}
    served = await client.get(encoded(cached))
    assert await served.json() == {"@context": {**SHOP, "price": "https://example.org/price"}}


async def test_reload_accepts_the_local_id_of_a_cached_entry(client, context_server):
    cached = context_server.add("shop", SHOP)
    await host(client, [cached])
    info = await (await client.get(encoded(cached) + "?details=true")).json()
    response = await client.delete(f"{CONTEXTS}/{info['localId']}?reload=true")
    assert response.status == 204
    assert context_server.hits == {"shop": 2}


async def test_failed_reload_is_ld_context_not_available_and_keeps_the_entry(client, context_server):
    cached = context_server.add("shop", SHOP)
    await host(client, [cached])
    del context_server.documents["shop"]
    response = await client.delete(encoded(cached) + "?reload=true")
    await assert_problem(response, 503, "LdContextNotAvailable")
    listed = await client.get(f"{CONTEXTS}?kind=Cached")
    assert await listed.json() == [CORE_CONTEXT, cached]
    served = await client.get(encoded(cached))
    assert await served.json() == {"@context": SHOP}


async def test_deleting_a_cached_entry_makes_the_next_use_fetch_it_again(client, context_server):
    cached = context_server.add("shop", SHOP)
    await host(client, [cached])
    response = await client.delete(encoded(cached))
    assert response.status == 204
    listed = await client.get(f"{CONTEXTS}?kind=Cached")
    assert await listed.json() == [CORE_CONTEXT]
    await host(client, [cached])
    assert context_server.hits == {"shop": 2}


async def test_post_with_an_unreachable_url_is_ld_context_not_available(client, context_server):
    response = await client.post(CONTEXTS, json={"@context": [context_server.url("missing")]})
    await assert_problem(response, 503, "LdContextNotAvailable")
    listed = await client.get(CONTEXTS)
    assert await listed.json() == [CORE_CONTEXT]


# -- delete --------------------------------------------------------------------------------------

async def test_deleted_hosted_context_is_gone_from_the_catalog_and_the_caches(client):
    local_id = await host(client, SHOP)
    url = hosted_url(client, local_id)
    before = await client.get(f"{API}/entities/urn:ngsi-ld:Shelf:404", headers=link(url))
    await assert_problem(before, 404, "ResourceNotFound")  # the context resolved; the entity is absent
    response = await client.delete(f"{CONTEXTS}/{local_id}")
    assert response.status == 204
    assert await response.read() == b""
    await assert_problem(await client.get(f"{CONTEXTS}/{local_id}"), 404, "ResourceNotFound")
    assert await (await client.get(CONTEXTS)).json() == [CORE_CONTEXT]
    after = await client.get(f"{API}/entities/urn:ngsi-ld:Shelf:404", headers=link(url))
    await assert_problem(after, 503, "LdContextNotAvailable")


async def test_reloading_a_hosted_context_is_bad_request_data(client):
    local_id = await host(client, SHOP)
    by_id = await client.delete(f"{CONTEXTS}/{local_id}?reload=true")
    await assert_problem(by_id, 400, "BadRequestData")
    by_url = await client.delete(encoded(hosted_url(client, local_id)) + "?reload=true")
    await assert_problem(by_url, 400, "BadRequestData")
    assert (await client.get(f"{CONTEXTS}/{local_id}")).status == 200


@pytest.mark.parametrize(("method", "path", "status", "error"), [
    ("GET", f"{CONTEXTS}/nosuchcontext", 404, "ResourceNotFound"),
    ("GET", encoded("https://example.org/never-cached.jsonld"), 404, "ResourceNotFound"),
    ("DELETE", f"{CONTEXTS}/nosuchcontext", 404, "ResourceNotFound"),
    ("DELETE", encoded("https://example.org/never-cached.jsonld"), 404, "ResourceNotFound"),
    ("DELETE", encoded("https://example.org/never-cached.jsonld") + "?reload=true", 404, "ResourceNotFound"),
    ("DELETE", f"{CONTEXTS}/nosuchcontext?reload=true", 400, "BadRequestData"),
])
async def test_unknown_context(client, method, path, status, error):
    await assert_problem(await client.request(method, path), status, error)


# -- invalid requests ----------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "error"), [
    ("GET", f"{CONTEXTS}?details=yes", "BadRequestData"),
    ("GET", f"{CONTEXTS}?kind=Remote", "BadRequestData"),
    ("GET", f"{CONTEXTS}?invalidParam=x", "InvalidRequest"),
    ("GET", f"{CONTEXTS}/nosuchcontext?details=1", "BadRequestData"),
    ("GET", f"{CONTEXTS}/nosuchcontext?kind=Hosted", "InvalidRequest"),
    ("DELETE", f"{CONTEXTS}/nosuchcontext?reload=yes", "BadRequestData"),
    ("DELETE", f"{CONTEXTS}/nosuchcontext?details=true", "InvalidRequest"),
    ("POST", f"{CONTEXTS}?invalidParam=x", "InvalidRequest"),
])
async def test_bad_url_parameters_are_400_before_existence(client, method, path, error):
    response = await client.request(method, path, json={"@context": SHOP} if method == "POST" else None)
    await assert_problem(response, 400, error)


@pytest.mark.parametrize(("body", "error"), [
    (b'{"@context": {', "InvalidRequest"),
    (b"[]", "InvalidRequest"),
    (b"{}", "BadRequestData"),
    (b'{"context": {}}', "BadRequestData"),
    (b'{"@context": 42}', "BadRequestData"),
    (b'{"@context": true}', "BadRequestData"),
    (b'{"@context": null}', "BadRequestData"),
    (b'{"@context": "https://example.org/context.jsonld"}', "BadRequestData"),
    (b'{"@context": []}', "BadRequestData"),
    (b'{"@context": [{"Shelf": "https://example.org/Shelf"}, 42]}', "BadRequestData"),
    (b'{"@context": ["ftp://example.org/context.jsonld"]}', "BadRequestData"),
    (b'{"@context": {"Shelf": 42}}', "BadRequestData"),
])
async def test_invalid_body_is_400(client, body, error):
    response = await client.post(CONTEXTS, data=body, headers={"Content-Type": "application/json"})
    await assert_problem(response, 400, error)
    assert await (await client.get(CONTEXTS)).json() == [CORE_CONTEXT]


async def test_post_with_another_content_type_is_415(client):
    response = await client.post(CONTEXTS, data=b'{"@context": {}}', headers={"Content-Type": "text/plain"})
    assert response.status == 415


@pytest.mark.parametrize("path", [CONTEXTS, f"{CONTEXTS}/nosuchcontext", encoded(CORE_CONTEXT)])
async def test_get_with_an_unacceptable_accept_is_406(client, path):
    response = await client.get(path, headers={"Accept": "text/html"})
    assert response.status == 406


async def test_get_with_accept_ld_json_answers_ld_json(client):
    local_id = await host(client, SHOP)
    response = await client.get(f"{CONTEXTS}/{local_id}", headers={"Accept": "application/ld+json"})
    assert response.status == 200
    assert response.content_type == "application/ld+json"
    assert await response.json() == {"@context": SHOP}
