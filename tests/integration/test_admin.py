"""Admin API (/admin/v1): tenants, suspension, deactivation and purge, implicit creation, audit log."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from broker.config import Settings
from tests.conftest import API
from tests.tokens import SECRET, claims, hs256

ADMIN = "/admin/v1"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
OSAKA = {
    "name": "osaka",
    "displayName": "大阪府",
    "kind": "prefecture",
    "population": 8763000,
    "contact": {"name": "デジタル推進課", "email": "digital@pref.osaka.example"},
}
UNLIMITED = {"maxEntities": None, "maxSubscriptions": None, "maxRequestsPerMinute": None, "maxBatchSize": None}
SHELTER = {"id": "urn:ngsi-ld:Shelter:osaka-1", "type": "Shelter", "capacity": {"type": "Property", "value": 300}}
IN_OSAKA = {"NGSILD-Tenant": "osaka"}


def shown(spec: dict[str, Any], body: dict[str, Any], **members: Any) -> dict[str, Any]:
    """The tenant the admin API should show for a POST body, with the server's own timestamps."""
    assert TIME.match(body["createdAt"]) and TIME.match(body["updatedAt"]), body
    return {**spec, "quotas": {**UNLIMITED, **spec.get("quotas", {})}, "status": "active",
            "createdBy": "admin", "createdAt": body["createdAt"], "updatedAt": body["updatedAt"], **members}


async def provision(client, spec: dict[str, Any] | None = None, **members: Any) -> dict[str, Any]:
    response = await client.post(f"{ADMIN}/tenants", json={**(spec or OSAKA), **members})
    assert response.status == 201, await response.text()
    return await response.json()


async def patch(client, name: str, body: Any, status: int = 200) -> Any:
    response = await client.patch(f"{ADMIN}/tenants/{name}", json=body)
    assert response.status == status, await response.text()
    return await response.json() if status != 204 else None


async def problem(response, status: int, type_: str, detail: str | None = None) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body = await response.json()
    if not type_.startswith("urn:"):
        type_ = f"https://uri.etsi.org/ngsi-ld/errors/{type_}"
    assert body["type"] == type_, body
    assert body["title"] and body["detail"] and body["title"] != body["detail"]
    if detail is not None:
        assert body["detail"] == detail, body
    return body


async def audit(client, **params: str) -> list[dict[str, Any]]:
    response = await client.get(f"{ADMIN}/audit", params=params)
    assert response.status == 200, await response.text()
    return await response.json()


# --- POST /admin/v1/tenants ---------------------------------------------------------------------

async def test_create_answers_201_with_location_and_the_tenant(client):
    response = await client.post(f"{ADMIN}/tenants", json={**OSAKA, "quotas": {"maxEntities": 1000}})
    assert response.status == 201, await response.text()
    assert response.headers["Location"] == f"{ADMIN}/tenants/osaka"
    assert response.headers["Content-Type"].startswith("application/json")
    body = await response.json()
    assert body == shown({**OSAKA, "quotas": {"maxEntities": 1000}}, body)
    assert body["createdAt"] == body["updatedAt"]


async def test_create_normalises_the_name_and_a_second_spelling_is_409(client):
    body = await provision(client, name="Osaka")
    assert body["name"] == "osaka"
    response = await client.post(f"{ADMIN}/tenants", json={**OSAKA, "name": "OSAKA"})
    await problem(response, 409, "AlreadyExists",
                  "Tenant 'osaka' already exists; change it with PATCH /admin/v1/tenants/osaka")


async def test_create_over_an_implicitly_created_tenant_is_409_and_patch_completes_it(client):
    assert (await client.post(f"{API}/entities", json=SHELTER, headers=IN_OSAKA)).status == 201
    response = await client.get(f"{ADMIN}/tenants/osaka")
    body = await response.json()
    assert body == {"name": "osaka", "displayName": None, "kind": None, "population": None, "contact": None,
                    "quotas": UNLIMITED, "status": "active", "createdBy": "implicit",
                    "createdAt": body["createdAt"], "updatedAt": None, "usage": {"entities": 1, "subscriptions": 0}}
    await problem(await client.post(f"{ADMIN}/tenants", json=OSAKA), 409, "AlreadyExists")
    after = await patch(client, "osaka", {k: v for k, v in OSAKA.items() if k != "name"})
    assert after == {**shown(OSAKA, after, createdBy="implicit"), "createdAt": body["createdAt"]}


@pytest.mark.parametrize(("change", "errors"), [
    ({"name": None}, [("name", "Input should be a valid string")]),
    ({"name": "has space"},
     [("name", "Tenant name 'has space' is invalid: use 1 to 48 characters among a-z, 0-9, '_' and '-'")]),
    ({"name": "x" * 49}, [("name", f"Tenant name '{'x' * 49}' is invalid: use 1 to 48 characters among a-z, "
                                   "0-9, '_' and '-'")]),
    ({"name": "catalog"}, [("name", "Tenant name 'catalog' is reserved")]),
    ({"displayName": ""}, [("displayName", "String should have at least 1 character")]),
    ({"displayName": 7}, [("displayName", "Input should be a valid string")]),
    ({"kind": "city"}, [("kind", "Input should be 'prefecture', 'municipality' or 'other'")]),
    ({"population": -1}, [("population", "Input should be greater than or equal to 0")]),
    ({"population": "12"}, [("population", "Input should be a valid integer")]),
    ({"population": 1.5}, [("population", "Input should be a valid integer")]),
    ({"population": True}, [("population", "Input should be a valid integer")]),
    ({"contact": {"name": "課"}}, [("contact.email", "Field required")]),
    ({"contact": {"name": "課", "email": "nobody"}},
     [("contact.email", "must be an e-mail address such as digital@pref.example.jp")]),
    ({"contact": {"name": "課", "email": "a@b.jp", "phone": "06"}},
     [("contact.phone", "Extra inputs are not permitted")]),
    ({"quotas": {"maxEntities": 0}}, [("quotas.maxEntities", "Input should be greater than or equal to 1")]),
    ({"quotas": {"maxBatch": 10}}, [("quotas.maxBatch", "Extra inputs are not permitted")]),
    ({"quotas": {"maxRequestsPerMinute": "60"}}, [("quotas.maxRequestsPerMinute", "Input should be a valid integer")]),
    ({"status": "suspended"}, [("status", "Extra inputs are not permitted")]),
    ({"kind": "city", "population": -1}, [("kind", "Input should be 'prefecture', 'municipality' or 'other'"),
                                          ("population", "Input should be greater than or equal to 0")]),
])
async def test_create_with_invalid_members_is_400_naming_each(client, change, errors):
    response = await client.post(f"{ADMIN}/tenants", json={**OSAKA, **change})
    body = await problem(response, 400, "BadRequestData")
    assert body == {"type": "https://uri.etsi.org/ngsi-ld/errors/BadRequestData", "title": "Bad request data",
                    "detail": "; ".join(f"{member}: {message}" for member, message in errors),
                    "errors": [{"member": member, "message": message} for member, message in errors]}
    assert (await client.get(f"{ADMIN}/tenants", params={"limit": "0"})).headers["X-Total-Count"] == "0"


async def test_create_without_required_members_is_400_listing_them(client):
    response = await client.post(f"{ADMIN}/tenants", json={"name": "nara"})
    await problem(response, 400, "BadRequestData", "displayName: Field required; kind: Field required; "
                  "population: Field required; contact: Field required")


@pytest.mark.parametrize(("data", "content_type", "status", "type_", "detail"), [
    (b"[]", "application/json", 400, "BadRequestData", "The body must be a JSON object, got an array"),
    (b"{oops", "application/json", 400, "InvalidRequest", None),
    (b"{}", "text/plain", 415, "UnsupportedMediaType", "Content-Type must be application/json, got 'text/plain'"),
    (b"{}", "application/ld+json", 415, "UnsupportedMediaType", None),
])
async def test_create_with_a_body_that_is_not_a_json_object_is_refused(client, data, content_type, status, type_,
                                                                        detail):
    response = await client.post(f"{ADMIN}/tenants", data=data, headers={"Content-Type": content_type})
    await problem(response, status, type_, detail)


# --- GET /admin/v1/tenants[/{name}] -------------------------------------------------------------

async def test_list_is_paged_in_name_order_with_the_total_in_x_total_count(client):
    for name in ("nara", "hyogo", "kyoto"):
        await provision(client, name=name)
    response = await client.get(f"{ADMIN}/tenants", params={"limit": "2"})
    assert response.status == 200
    assert response.headers["X-Total-Count"] == "3"
    body = await response.json()
    assert [tenant["name"] for tenant in body] == ["hyogo", "kyoto"]
    assert body[0] == shown({**OSAKA, "name": "hyogo"}, body[0])
    response = await client.get(f"{ADMIN}/tenants", params={"limit": "2", "offset": "2"})
    assert [tenant["name"] for tenant in await response.json()] == ["nara"]
    assert response.headers["X-Total-Count"] == "3"


async def test_list_filters_by_status(client):
    for name in ("nara", "hyogo", "kyoto"):
        await provision(client, name=name)
    await patch(client, "kyoto", {"status": "suspended"})
    assert (await client.delete(f"{ADMIN}/tenants/nara")).status == 204
    for status, names in (("active", ["hyogo"]), ("suspended", ["kyoto"]), ("inactive", ["nara"])):
        response = await client.get(f"{ADMIN}/tenants", params={"status": status})
        assert [tenant["name"] for tenant in await response.json()] == names
        assert response.headers["X-Total-Count"] == "1"


@pytest.mark.parametrize(("params", "status", "type_", "detail"), [
    ({"limit": "-1"}, 400, "BadRequestData", "limit must be a non-negative integer, got '-1'"),
    ({"offset": "x"}, 400, "BadRequestData", "offset must be a non-negative integer, got 'x'"),
    ({"limit": "²"}, 400, "BadRequestData", "limit must be a non-negative integer, got '²'"),
    ({"offset": "9" * 30}, 400, "BadRequestData", f"offset must be a non-negative integer, got '{'9' * 30}'"),
    ({"offset": "9999999999"}, 400, "BadRequestData", "offset=9999999999 is too large"),
    ({"limit": "1001"}, 400, "BadRequestData", "URL parameter 'limit' may be at most 1000, got 1001"),
    ({"status": "deleted"}, 400, "BadRequestData",
     "URL parameter 'status' must be one of active, suspended, inactive, got 'deleted'"),
    ({"sort": "name"}, 400, "InvalidRequest", "Unknown URL parameter 'sort'; allowed: limit, offset, status"),
])
async def test_list_with_bad_parameters_is_400(client, params, status, type_, detail):
    await problem(await client.get(f"{ADMIN}/tenants", params=params), status, type_, detail)


async def test_retrieve_shows_current_usage_counted_in_the_tenant_database(client, receiver):
    await provision(client)
    for n in (1, 2):
        entity = {**SHELTER, "id": f"urn:ngsi-ld:Shelter:osaka-{n}"}
        assert (await client.post(f"{API}/entities", json=entity, headers=IN_OSAKA)).status == 201
    subscription = {"type": "Subscription", "entities": [{"type": "Shelter"}],
                    "notification": {"endpoint": {"uri": receiver.url()}}}
    assert (await client.post(f"{API}/subscriptions", json=subscription, headers=IN_OSAKA)).status == 201
    response = await client.get(f"{ADMIN}/tenants/osaka")
    assert response.status == 200
    body = await response.json()
    assert body == shown(OSAKA, body, usage={"entities": 2, "subscriptions": 1})


async def test_retrieve_of_an_unknown_or_invalid_name(client):
    await problem(await client.get(f"{ADMIN}/tenants/nara"), 404, "ResourceNotFound", "Tenant 'nara' is not registered")
    await problem(await client.get(f"{ADMIN}/tenants/catalog"), 400, "BadRequestData",
                  "URL path: Tenant name 'catalog' is reserved")


# --- PATCH /admin/v1/tenants/{name} -------------------------------------------------------------

async def test_patch_changes_only_the_members_given_and_quotas_one_by_one(client):
    created = await provision(client, quotas={"maxEntities": 100, "maxBatchSize": 50})
    after = await patch(client, "osaka", {"population": 8800000, "contact": {"email": "it@pref.osaka.example"},
                                          "quotas": {"maxEntities": 200, "maxBatchSize": None,
                                                     "maxSubscriptions": 10}})
    assert after == shown(OSAKA, after, population=8800000,
                          contact={"name": "デジタル推進課", "email": "it@pref.osaka.example"},
                          quotas={**UNLIMITED, "maxEntities": 200, "maxSubscriptions": 10},
                          createdAt=created["createdAt"])
    assert after["updatedAt"] >= created["updatedAt"]
    assert (await (await client.get(f"{ADMIN}/tenants/osaka")).json()) == {
        **after, "usage": {"entities": 0, "subscriptions": 0}}


async def test_patch_accepts_merge_patch_json(client):
    await provision(client)
    response = await client.patch(f"{ADMIN}/tenants/osaka", data=b'{"kind": "other"}',
                                  headers={"Content-Type": "application/merge-patch+json"})
    assert response.status == 200
    assert (await response.json())["kind"] == "other"


@pytest.mark.parametrize(("body", "detail"), [
    ({}, "The body changes nothing: give at least one of displayName, kind, population, contact, quotas, status"),
    ({"displayName": None}, "displayName: Input should be a valid string"),
    ({"population": None}, "population: Input should be a valid integer"),
    ({"contact": None}, "contact: Input should be a valid dictionary or instance of ContactPatch"),
    ({"contact": {"email": None}}, "contact.email: Input should be a valid string"),
    ({"status": "inactive"}, "status: Input should be 'active' or 'suspended'"),
    ({"name": "nara"}, "name: Extra inputs are not permitted"),
    ({"quotas": {"maxEntities": -5}}, "quotas.maxEntities: Input should be greater than or equal to 1"),
])
async def test_patch_with_invalid_members_is_400_and_changes_nothing(client, body, detail):
    created = await provision(client)
    await problem(await client.patch(f"{ADMIN}/tenants/osaka", json=body), 400, "BadRequestData", detail)
    body = await (await client.get(f"{ADMIN}/tenants/osaka")).json()
    assert body == {**created, "usage": {"entities": 0, "subscriptions": 0}}


async def test_patch_of_an_unknown_tenant_is_404(client):
    await problem(await client.patch(f"{ADMIN}/tenants/nara", json={"kind": "other"}), 404, "ResourceNotFound",
                  "Tenant 'nara' is not registered")


# --- suspension -----------------------------------------------------------------------------------

SUSPENDED = ("Tenant 'osaka' is suspended by the platform operator: its data is kept but no request is served "
             "until it is reactivated")


async def test_a_suspended_tenant_gets_403_on_every_ngsi_ld_request_and_keeps_its_data(client, receiver):
    await provision(client)
    assert (await client.post(f"{API}/entities", json=SHELTER, headers=IN_OSAKA)).status == 201
    before = await (await client.get(f"{API}/entities/{SHELTER['id']}", headers=IN_OSAKA)).json()
    assert (await patch(client, "osaka", {"status": "suspended"}))["status"] == "suspended"

    other = {**SHELTER, "id": "urn:ngsi-ld:Shelter:osaka-2"}
    subscription = {"type": "Subscription", "entities": [{"type": "Shelter"}],
                    "notification": {"endpoint": {"uri": receiver.url()}}}
    for method, path, body in [
        ("GET", f"{API}/entities/{SHELTER['id']}", None),
        ("GET", f"{API}/entities?type=Shelter", None),
        ("POST", f"{API}/entities", other),
        ("DELETE", f"{API}/entities/{SHELTER['id']}", None),
        ("POST", f"{API}/entityOperations/upsert", [other]),
        ("POST", f"{API}/subscriptions", subscription),
        ("GET", f"{API}/types", None),
        ("POST", f"{API}/jsonldContexts", {"@context": {"a": "https://example.org/a"}}),
    ]:
        response = await client.request(method, path, json=body, headers=IN_OSAKA)
        problem_body = await problem(response, 403, "urn:kyodo:error:TenantSuspended", SUSPENDED)
        assert problem_body == {"type": "urn:kyodo:error:TenantSuspended", "title": "Tenant suspended",
                                "detail": SUSPENDED}, (method, path)
        assert response.headers["NGSILD-Tenant"] == "osaka"

    await patch(client, "osaka", {"status": "active"})
    assert await (await client.get(f"{API}/entities/{SHELTER['id']}", headers=IN_OSAKA)).json() == before
    response = await client.get(f"{ADMIN}/tenants/osaka")
    assert (await response.json())["usage"] == {"entities": 1, "subscriptions": 0}


async def test_suspending_one_tenant_leaves_the_others_and_the_default_tenant_alone(client):
    await provision(client)
    await provision(client, name="hyogo")
    await patch(client, "osaka", {"status": "suspended"})
    assert (await client.post(f"{API}/entities", json=SHELTER, headers={"NGSILD-Tenant": "hyogo"})).status == 201
    assert (await client.post(f"{API}/entities", json=SHELTER)).status == 201


# --- KYODO_TENANT_AUTOCREATE ---------------------------------------------------------------------

def test_implicit_creation_defaults_to_on_without_access_control_and_off_with_jwt():
    assert Settings().autocreate_tenants is True
    assert Settings(auth="jwt").autocreate_tenants is False
    assert Settings(auth="jwt", tenant_autocreate=True).autocreate_tenants is True
    assert Settings(tenant_autocreate=False).autocreate_tenants is False


async def test_without_implicit_creation_only_provisioned_tenants_exist(make_client, receiver):
    client = await make_client(tenant_autocreate=False)
    subscription = {"type": "Subscription", "entities": [{"type": "Shelter"}],
                    "notification": {"endpoint": {"uri": receiver.url()}}}
    detail = "Tenant 'osaka' does not exist; tenants are provisioned through the admin API"
    for path, body in [(f"{API}/entities", SHELTER), (f"{API}/entityOperations/create", [SHELTER]),
                       (f"{API}/entityOperations/upsert", [SHELTER]), (f"{API}/subscriptions", subscription),
                       (f"{API}/jsonldContexts", {"@context": {"a": "https://example.org/a"}})]:
        response = await client.post(path, json=body, headers=IN_OSAKA)
        await problem(response, 404, "NonexistentTenant", detail)
    await problem(await client.get(f"{API}/entities/{SHELTER['id']}", headers=IN_OSAKA), 404, "NonexistentTenant",
                  "Tenant 'osaka' does not exist")
    await problem(await client.get(f"{ADMIN}/tenants/osaka"), 404, "ResourceNotFound")

    await provision(client)
    assert (await client.post(f"{API}/entities", json=SHELTER, headers=IN_OSAKA)).status == 201
    assert (await client.post(f"{API}/entities", json=SHELTER)).status == 201  # the default tenant always exists


# --- DELETE /admin/v1/tenants/{name} -------------------------------------------------------------

async def test_delete_deactivates_keeping_the_data_until_the_tenant_is_made_active_again(client):
    await provision(client)
    assert (await client.post(f"{API}/entities", json=SHELTER, headers=IN_OSAKA)).status == 201
    response = await client.delete(f"{ADMIN}/tenants/osaka")
    assert response.status == 204
    assert await response.read() == b""

    await problem(await client.get(f"{API}/entities/{SHELTER['id']}", headers=IN_OSAKA), 404, "NonexistentTenant",
                  "Tenant 'osaka' does not exist")
    # even with implicit creation on, a create does not bring a deactivated tenant back
    await problem(await client.post(f"{API}/entities", json=SHELTER, headers=IN_OSAKA), 404, "NonexistentTenant")
    body = await (await client.get(f"{ADMIN}/tenants/osaka")).json()
    assert (body["status"], body["usage"]) == ("inactive", {"entities": 1, "subscriptions": 0})
    await problem(await client.post(f"{ADMIN}/tenants", json=OSAKA), 409, "AlreadyExists")

    await patch(client, "osaka", {"status": "active"})
    assert (await client.get(f"{API}/entities/{SHELTER['id']}", headers=IN_OSAKA)).status == 200


async def test_delete_with_purge_drops_the_database_and_the_registry_entry(client, settings, mongo_url):
    await provision(client)
    assert (await client.post(f"{API}/entities", json=SHELTER, headers=IN_OSAKA)).status == 201
    hosted = await client.post(f"{API}/jsonldContexts", json={"@context": {"a": "https://example.org/a"}},
                               headers=IN_OSAKA)
    assert hosted.status == 201
    database = f"{settings.db_prefix}-osaka"
    mongo: AsyncMongoClient = AsyncMongoClient(mongo_url)
    try:
        assert database in await mongo.list_database_names()
        assert (await client.delete(f"{ADMIN}/tenants/osaka", params={"purge": "true"})).status == 204
        assert database not in await mongo.list_database_names()
        catalog = mongo[f"{settings.db_prefix}-catalog"]
        assert await catalog["tenants"].count_documents({"_id": "osaka"}) == 0
        assert await catalog["contexts"].count_documents({"tenant": "osaka"}) == 0
    finally:
        await mongo.close()
    await problem(await client.get(f"{ADMIN}/tenants/osaka"), 404, "ResourceNotFound")
    await problem(await client.get(f"{API}/entities/{SHELTER['id']}", headers=IN_OSAKA), 404, "NonexistentTenant")
    # the name is free again, and the new tenant starts empty
    await provision(client)
    await problem(await client.get(f"{API}/entities/{SHELTER['id']}", headers=IN_OSAKA), 404, "ResourceNotFound")


async def test_purge_of_a_deactivated_tenant_works_too(client):
    await provision(client)
    assert (await client.delete(f"{ADMIN}/tenants/osaka")).status == 204
    assert (await client.delete(f"{ADMIN}/tenants/osaka?purge=true")).status == 204
    await problem(await client.get(f"{ADMIN}/tenants/osaka"), 404, "ResourceNotFound")


@pytest.mark.parametrize(("path", "status", "type_", "detail"), [
    ("/tenants/nara", 404, "ResourceNotFound", "Tenant 'nara' is not registered"),
    ("/tenants/nara?purge=true", 404, "ResourceNotFound", "Tenant 'nara' is not registered"),
    ("/tenants/osaka?purge=yes", 400, "BadRequestData", "URL parameter 'purge' must be true or false, got 'yes'"),
    ("/tenants/osaka?force=true", 400, "InvalidRequest", "Unknown URL parameter 'force'; allowed: purge"),
])
async def test_delete_refusals(client, path, status, type_, detail):
    await provision(client)
    await problem(await client.delete(f"{ADMIN}{path}"), status, type_, detail)


# --- GET /admin/v1/audit --------------------------------------------------------------------------

async def test_every_admin_action_is_in_the_audit_log_with_before_and_after(client):
    created = await provision(client)
    updated = await patch(client, "osaka", {"status": "suspended"})
    assert (await client.delete(f"{ADMIN}/tenants/osaka")).status == 204
    deactivated = await (await client.get(f"{ADMIN}/tenants/osaka")).json()
    deactivated.pop("usage")
    assert (await client.delete(f"{ADMIN}/tenants/osaka?purge=true")).status == 204

    entries = await audit(client)
    for entry in entries:
        assert TIME.match(entry.pop("at"))
        assert re.fullmatch(r"[0-9a-f]{32}", entry.pop("requestId"))
    assert entries == [
        {"actor": "anonymous", "action": "purge", "tenant": "osaka",
         "before": {**deactivated, "usage": {"entities": 0, "subscriptions": 0}, "datasets": []}, "after": None},
        {"actor": "anonymous", "action": "delete", "tenant": "osaka", "before": updated, "after": deactivated},
        {"actor": "anonymous", "action": "update", "tenant": "osaka", "before": created, "after": updated},
        {"actor": "anonymous", "action": "create", "tenant": "osaka", "before": None, "after": created},
    ]


async def test_audit_is_paged_newest_first_and_filtered_by_tenant_and_action(client):
    await provision(client)
    await provision(client, name="hyogo")
    await patch(client, "hyogo", {"population": 5400000})
    response = await client.get(f"{ADMIN}/audit", params={"limit": "1"})
    assert response.headers["X-Total-Count"] == "3"
    assert [(e["action"], e["tenant"]) for e in await response.json()] == [("update", "hyogo")]
    response = await client.get(f"{ADMIN}/audit", params={"limit": "1", "offset": "1"})
    assert [(e["action"], e["tenant"]) for e in await response.json()] == [("create", "hyogo")]
    assert [(e["action"], e["tenant"]) for e in await audit(client, tenant="HYOGO")] == [
        ("update", "hyogo"), ("create", "hyogo")]
    assert [(e["action"], e["tenant"]) for e in await audit(client, action="create")] == [
        ("create", "hyogo"), ("create", "osaka")]


async def test_refused_admin_requests_are_not_audited(client):
    await client.post(f"{ADMIN}/tenants", json={**OSAKA, "kind": "city"})
    await client.patch(f"{ADMIN}/tenants/nara", json={"kind": "other"})
    await client.delete(f"{ADMIN}/tenants/nara")
    assert await audit(client) == []


@pytest.mark.parametrize(("params", "type_", "detail"), [
    ({"action": "suspend"}, "BadRequestData",
     "URL parameter 'action' must be one of create, update, delete, purge, allocate, got 'suspend'"),
    ({"tenant": "a/b"}, "BadRequestData",
     "URL parameter 'tenant': Tenant name 'a/b' is invalid: use 1 to 48 characters among a-z, 0-9, '_' and '-'"),
    ({"actor": "x"}, "InvalidRequest", "Unknown URL parameter 'actor'; allowed: action, limit, offset, tenant"),
])
async def test_audit_with_bad_parameters_is_400(client, params, type_, detail):
    await problem(await client.get(f"{ADMIN}/audit", params=params), 400, type_, detail)


async def test_the_audit_actor_is_the_subject_of_the_admin_token(make_client):
    client = await make_client(auth="jwt", jwt_hs256_secret=SECRET)
    admin = {"Authorization": "Bearer " + hs256(claims(scope="admin", tenants=(), sub="alice", iss=None, aud=None))}
    response = await client.post(f"{ADMIN}/tenants", json=OSAKA, headers=admin)
    assert response.status == 201, await response.text()
    response = await client.get(f"{ADMIN}/audit", headers=admin)
    assert [(entry["actor"], entry["action"]) for entry in await response.json()] == [("alice", "create")]
    # with access control, tenants are not created implicitly: the provisioned one exists, others do not
    writer = {"Authorization": "Bearer " + hs256(claims(scope="ngsi-ld:write", tenants=("osaka", "nara"),
                                                        iss=None, aud=None))}
    assert (await client.post(f"{API}/entities", json=SHELTER, headers={**writer, **IN_OSAKA})).status == 201
    response = await client.post(f"{API}/entities", json=SHELTER, headers={**writer, "NGSILD-Tenant": "nara"})
    await problem(response, 404, "NonexistentTenant")
