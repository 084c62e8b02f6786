"""Cost allocations over HTTP: create, store, list, CSV export, audit, and every bad input as a precise 400."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from broker.api.state import SERVICES
from tenants.costs import MAX_YEN
from tenants.meters import METERS
from tenants.usage import USAGE
from tests.conftest import API
from tests.integration.test_admin import OSAKA, patch, problem, provision
from tests.tokens import SECRET, claims, hs256

ALLOCATIONS = "/admin/v1/cost-allocations"
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}
KINKI = {"osaka": 8_763_000, "hyogo": 5_402_000, "kyoto": 2_550_000}


async def provision_kinki(client) -> None:
    for name, population in KINKI.items():
        await provision(client, name=name, population=population, displayName=f"{name}府県")


async def create(client, body: dict[str, Any], status: int = 201, **headers: str) -> dict[str, Any]:
    response = await client.post(ALLOCATIONS, json=body, headers=headers)
    assert response.status == status, await response.text()
    return await response.json()


def amounts(allocation: dict[str, Any]) -> dict[str, int]:
    return {share["tenant"]: share["amount"] for share in allocation["tenants"]}


async def test_a_population_split_is_answered_stored_and_listed(client):
    await provision_kinki(client)
    response = await client.post(ALLOCATIONS, json={"period": NOVEMBER, "method": "population", "total": 1_000_000})
    assert response.status == 201, await response.text()
    body = await response.json()
    assert response.headers["Location"] == f"{ALLOCATIONS}/{body['id']}"
    assert amounts(body) == {"hyogo": 323_183, "kyoto": 152_557, "osaka": 524_260}
    assert body["total"] == 1_000_000
    assert {key: body[key] for key in ("period", "timezone", "method", "createdBy", "request")} == {
        "period": NOVEMBER, "timezone": "Asia/Tokyo", "method": "population", "createdBy": "anonymous",
        "request": {"period": NOVEMBER, "method": "population", "total": 1_000_000, "fixed": None, "unitPrices": {},
                    "fixedSplit": None, "tenants": None}}
    osaka = body["tenants"][2]
    assert {key: osaka[key] for key in ("tenant", "displayName", "population", "exactShare", "basePart",
                                        "usagePart", "amount")} == {
        "tenant": "osaka", "displayName": "osaka府県", "population": 8_763_000, "exactShare": "524259.647024",
        "basePart": "524259.647024", "usagePart": "0.000000", "amount": 524_260}
    assert list(osaka["usage"]) == list(METERS)

    stored = await client.get(response.headers["Location"])
    assert stored.status == 200
    assert await stored.json() == body
    second = await create(client, {"period": NOVEMBER, "method": "equal", "total": 100})
    assert amounts(second) == {"hyogo": 34, "kyoto": 33, "osaka": 33}
    listed = await client.get(ALLOCATIONS, params={"limit": "1"})
    assert listed.headers["X-Total-Count"] == "2"
    assert [item["id"] for item in await listed.json()] == [second["id"]]
    listed = await client.get(ALLOCATIONS, params={"limit": "5", "offset": "1"})
    assert [item["id"] for item in await listed.json()] == [body["id"]]


async def test_usage_split_charges_the_priced_meters_and_a_tenant_without_usage_pays_nothing(client):
    await provision_kinki(client)
    for tenant, reads in (("osaka", 3), ("hyogo", 1)):
        for _ in range(reads):
            response = await client.get(f"{API}/entities", params={"type": "Shelter"},
                                        headers={"NGSILD-Tenant": tenant})
            assert response.status == 200
    today = await client.get("/admin/v1/usage")
    period = {"from": (await today.json())["to"], "to": (await today.json())["to"]}
    charged = await create(client, {"period": period, "method": "usage", "unitPrices": {"readRequests": "12.5"}})
    assert (charged["total"], amounts(charged)) == (50, {"hyogo": 13, "kyoto": 0, "osaka": 37})
    # 12.5 + 37.5 = 50 yen: floors 12 + 37 leave one yen; the remainders (.5 and .5) tie → hyogo, by name
    assert [share["weightedUsage"] for share in charged["tenants"]] == ["12.500000", "0.000000", "37.500000"]
    split = await create(client, {"period": period, "method": "usage", "total": 1000,
                                  "unitPrices": {"readRequests": 1}})
    assert amounts(split) == {"hyogo": 250, "kyoto": 0, "osaka": 750}
    hybrid = await create(client, {"period": period, "method": "hybrid", "total": 1000, "fixed": 600,
                                   "fixedSplit": "equal", "unitPrices": {"readRequests": 1}})
    assert amounts(hybrid) == {"hyogo": 300, "kyoto": 200, "osaka": 500}


async def test_the_default_tenants_are_the_active_provisioned_ones(client):
    await provision_kinki(client)
    await patch(client, "kyoto", {"status": "suspended"})
    for implicit in ("shiga", "nara"):  # created implicitly: not members until completed by the admin API
        response = await client.post(f"{API}/entities", json={"id": "urn:ngsi-ld:Shelter:1", "type": "Shelter"},
                                     headers={"NGSILD-Tenant": implicit})
        assert response.status == 201
    await patch(client, "nara", {"displayName": "奈良県", "population": 1_300_000})
    body = await create(client, {"period": NOVEMBER, "method": "equal", "total": 10})
    assert amounts(body) == {"hyogo": 4, "nara": 3, "osaka": 3}
    listed = await create(client, {"period": NOVEMBER, "method": "equal", "total": 10,
                                   "tenants": ["KYOTO", "shiga", "osaka"]})
    assert amounts(listed) == {"kyoto": 4, "osaka": 3, "shiga": 3}
    assert listed["request"]["tenants"] == ["kyoto", "shiga", "osaka"]


@pytest.mark.parametrize(("accept", "media"), [
    ("text/csv", "text/csv"),
    ("application/json;q=0.5, text/csv", "text/csv"),
    ("text/*", "text/csv"),
    ("text/csv;q=0, application/json", "application/json"),  # refused, though named
    ("text/csv;q=0.1, application/json", "application/json"),
    ("*/*", "application/json"),
    (None, "application/json"),
])
async def test_an_allocation_is_csv_when_the_accept_header_prefers_it(client, accept, media):
    await provision_kinki(client)
    body = await create(client, {"period": NOVEMBER, "method": "equal", "total": 3})
    response = await client.get(f"{ALLOCATIONS}/{body['id']}", headers={"Accept": accept} if accept else {})
    assert (response.status, response.content_type) == (200, media)


async def test_an_allocation_asked_for_in_a_media_type_it_has_not_is_406(client):
    await provision_kinki(client)
    body = await create(client, {"period": NOVEMBER, "method": "equal", "total": 3})
    response = await client.get(f"{ALLOCATIONS}/{body['id']}", headers={"Accept": "image/png"})
    await problem(response, 406, "NotAcceptable",
                  "None of the media types in Accept 'image/png' can be produced; offered: application/json, text/csv")


async def test_an_allocation_exports_as_utf8_csv(client):
    await provision_kinki(client)
    # November usage as the meters' flushes would have left it: osaka and hyogo used the platform, kyoto not
    await client.server.app[SERVICES].databases.catalog[USAGE].insert_many([
        {"_id": "osaka/2026-11-05", "tenant": "osaka", "day": "2026-11-05",
         "counters": {"writeRequests": 3}, "gauges": {"entitiesStored": 10}},
        {"_id": "hyogo/2026-11-05", "tenant": "hyogo", "day": "2026-11-05", "counters": {"writeRequests": 1}}])
    body = await create(client, {"period": NOVEMBER, "method": "hybrid", "fixed": 90, "fixedSplit": "equal",
                                 "unitPrices": {"writeRequests": 2, "entitiesStored": "0.5"}})
    response = await client.get(f"{ALLOCATIONS}/{body['id']}", headers={"Accept": "text/csv"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="cost-allocation-{body["id"]}.csv"'
    raw = await response.read()
    assert raw.startswith("\ufeff".encode())  # so that Excel reads the Japanese names as UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows == [
        ["allocationId", "periodFrom", "periodTo", "method", "tenant", "displayName", "population", "writeRequests",
         "entitiesStored", "weightedUsage", "basePart", "usagePart", "exactShare", "amount"],
        *[[body["id"], "2026-11-01", "2026-11-30", "hybrid", name, f"{name}府県", str(KINKI[name]), *cells]
          for name, cells in (
              ("hyogo", ["1", "0", "2.000000", "30.000000", "2.000000", "32.000000", "32"]),
              ("kyoto", ["0", "0", "0.000000", "30.000000", "0.000000", "30.000000", "30"]),
              ("osaka", ["3", "10", "11.000000", "30.000000", "11.000000", "41.000000", "41"]))]]


async def test_creating_an_allocation_is_audited(make_client):
    client = await make_client(auth="jwt", jwt_hs256_secret=SECRET)
    admin = {"Authorization": "Bearer " + hs256(claims(scope="admin", tenants=(), sub="carol", iss=None, aud=None))}
    for name, population in KINKI.items():
        response = await client.post("/admin/v1/tenants", json={**OSAKA, "name": name, "population": population},
                                     headers=admin)
        assert response.status == 201
    body = await create(client, {"period": NOVEMBER, "method": "equal", "total": 3}, **admin)
    assert body["createdBy"] == "carol"
    response = await client.get("/admin/v1/audit", params={"action": "allocate"}, headers=admin)
    [entry] = await response.json()
    assert {key: entry[key] for key in ("actor", "action", "tenant", "before", "requestId")} == {
        "actor": "carol", "action": "allocate", "tenant": "", "before": None,
        "requestId": entry["requestId"]}
    assert entry["after"] == {"id": body["id"], "period": NOVEMBER, "method": "equal", "total": 3,
                              "amounts": {"hyogo": 1, "kyoto": 1, "osaka": 1}}
    reader = {"Authorization": "Bearer " + hs256(claims(scope="ngsi-ld:read", iss=None, aud=None))}
    response = await client.post(ALLOCATIONS, json={"period": NOVEMBER, "method": "equal", "total": 3},
                                 headers=reader)
    await problem(response, 403, "urn:kyodo:error:Forbidden",
                  "The token lacks the scope 'admin' that POST /admin/v1/cost-allocations requires")


async def test_an_unknown_allocation_is_404(client):
    await problem(await client.get(f"{ALLOCATIONS}/nope"), 404, "ResourceNotFound", "No cost allocation with id 'nope'")


@pytest.mark.parametrize(("change", "detail"), [
    ({"total": -1}, "total: Input should be greater than or equal to 0"),
    ({"total": MAX_YEN + 1}, f"total: Input should be less than or equal to {MAX_YEN}"),
    ({"total": "100"}, "total: Input should be a valid integer"),
    ({"total": 1.5}, "total: Input should be a valid integer"),
    ({"method": "lottery"}, "method: Input should be 'usage', 'population', 'equal' or 'hybrid'"),
    ({"period": {"from": "2026-12-01", "to": "2026-11-30"}},
     "period.from (2026-12-01) is after period.to (2026-11-30): the period is empty"),
    ({"period": {"from": "2026-11-01"}}, "period.to: Field required"),
    ({"period": {"from": "2026-11-01", "to": "2026-11-31"}}, "period.to must be a date YYYY-MM-DD, got '2026-11-31'"),
    ({"period": {"from": "2025-01-01", "to": "2026-11-30"}},
     "The period from 2025-01-01 to 2026-11-30 has 699 days; at most 366 are allowed"),
    ({"method": "usage", "unitPrices": {"cpuSeconds": 1}},
     f"Unknown meter(s) in unitPrices: cpuSeconds; meters: {', '.join(METERS)}"),
    ({"method": "usage", "unitPrices": {"readRequests": "0.0000001"}},
     "unitPrices.readRequests: Decimal input should have no more than 6 decimal places"),
    ({"method": "usage", "unitPrices": {"readRequests": -2}},
     "unitPrices.readRequests: Input should be greater than or equal to 0"),
    ({"method": "usage", "total": None}, "Method 'usage' needs unitPrices (yen per unit of at least one meter)"),
    ({"method": "usage", "unitPrices": {"readRequests": 1}},
     "No tenant has priced usage in the period: the cost cannot be split by usage"),
    ({"method": "equal", "total": None}, "Method 'equal' needs a total"),
    ({"fixedSplit": "equal"}, "fixedSplit belongs to method 'hybrid' (how its fixed part is split)"),
    ({"method": "hybrid", "fixed": 200, "unitPrices": {"readRequests": 1}},
     "total (100) is less than fixed (200): the variable part would be negative"),
    ({"tenants": []}, "tenants: List should have at least 1 item after validation, not 0"),
    ({"tenants": ["osaka", "OSAKA"]}, "tenants: listed more than once: osaka"),
    ({"tenants": ["nara"]}, "tenants: tenant 'nara' is not registered"),
    ({"tenants": ["default"]}, "tenants.0: Tenant name 'default' is reserved"),
    ({"currency": "JPY"}, "currency: Extra inputs are not permitted"),
])
async def test_bad_input_is_400_with_a_precise_detail(client, change, detail):
    await provision(client)
    await provision(client, name="hyogo")
    body = {k: v for k, v in {"period": NOVEMBER, "method": "equal", "total": 100, **change}.items() if v is not None}
    await problem(await client.post(ALLOCATIONS, json=body), 400, "BadRequestData", detail)
    assert (await client.get(ALLOCATIONS)).headers["X-Total-Count"] == "0"


async def test_population_zero_for_every_tenant_or_no_tenant_at_all_is_400(client):
    body = {"period": NOVEMBER, "method": "population", "total": 100}
    await problem(await client.post(ALLOCATIONS, json=body), 400, "BadRequestData",
                  "No tenants to allocate the cost to: no active tenant is provisioned; provision tenants or list "
                  "them in 'tenants'")
    await provision(client, population=0)
    await provision(client, name="hyogo", population=0)
    await problem(await client.post(ALLOCATIONS, json=body), 400, "BadRequestData",
                  "Every tenant's population is 0: the cost cannot be split by population")


async def test_a_body_that_is_not_json_or_not_an_object_is_refused(client):
    response = await client.post(ALLOCATIONS, data=b"[]", headers={"Content-Type": "application/json"})
    await problem(response, 400, "BadRequestData", "The body must be a JSON object, got an array")
    response = await client.post(ALLOCATIONS, data=b"{}", headers={"Content-Type": "text/csv"})
    await problem(response, 415, "UnsupportedMediaType", "Content-Type must be application/json, got 'text/csv'")
