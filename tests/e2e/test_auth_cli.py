"""The `kyodo` command and access control: the bind guard of `kyodo serve`, and `kyodo token`."""

from __future__ import annotations

import os
import subprocess
import sys

from broker.store.embedded import free_port
from tests.conftest import API
from tests.e2e.test_serve_process import spawn, stop, wait_ready
from tests.tokens import AUDIENCE, ISSUER, SECRET


def kyodo_env(**values: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("KYODO_")}
    return {**env, **values}


def kyodo(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "broker.cli", *args], env=kyodo_env(**env),
                          capture_output=True, text=True, timeout=30)


def test_serve_refuses_a_non_loopback_address_without_access_control():
    result = kyodo("serve", "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 with KYODO_AUTH=none" in result.stderr
    assert "--insecure-bind" in result.stderr


def test_serve_refuses_jwt_without_any_key():
    result = kyodo("serve", KYODO_AUTH="jwt")
    assert result.returncode == 2
    assert "KYODO_AUTH=jwt needs a key" in result.stderr


async def test_serve_with_insecure_bind_starts_and_warns_that_access_control_is_off(mongo_url):
    port = free_port()
    process = spawn(["serve", "--host", "0.0.0.0", "--insecure-bind", "--port", str(port), "--mongo-url", mongo_url,
                     "--db-prefix", "tinsecure", "--log-format", "json"], kyodo_env())
    try:
        await wait_ready(f"http://127.0.0.1:{port}", process, timeout_s=30)
    finally:
        output = stop(process)
    assert "access control is off (KYODO_AUTH=none)" in output


def test_token_refuses_without_a_secret():
    result = kyodo("token", "--tenant", "osaka", "--scope", "ngsi-ld:read")
    assert result.returncode == 2
    assert "no KYODO_JWT_HS256_SECRET is configured" in result.stderr
    assert result.stdout == ""


def test_token_refuses_an_unknown_scope():
    result = kyodo("token", "--tenant", "osaka", "--scope", "ngsi-ld:raed", KYODO_JWT_HS256_SECRET=SECRET)
    assert result.returncode == 2
    assert "unknown scope(s) ngsi-ld:raed" in result.stderr


async def test_a_minted_token_works_against_a_broker_with_the_same_secret(make_client):
    minted = kyodo("token", "--tenant", "osaka", "--scope", "ngsi-ld:read ngsi-ld:write", "--subject", "dev",
                   "--ttl", "600", KYODO_JWT_HS256_SECRET=SECRET, KYODO_JWT_ISSUER=ISSUER,
                   KYODO_JWT_AUDIENCE=AUDIENCE)
    assert minted.returncode == 0, minted.stderr
    headers = {"Authorization": f"Bearer {minted.stdout.strip()}", "NGSILD-Tenant": "osaka"}
    client = await make_client(auth="jwt", jwt_hs256_secret=SECRET, jwt_issuer=ISSUER, jwt_audience=AUDIENCE,
                               tenant_autocreate=True)
    entity = {"id": "urn:ngsi-ld:Shelter:minted", "type": "Shelter", "occupancy": 3}
    assert (await client.post(f"{API}/entities", json=entity, headers=headers)).status == 201
    assert (await client.get(f"{API}/entities/{entity['id']}", headers=headers)).status == 200
    assert (await client.get(f"{API}/subscriptions", headers=headers)).status == 403
    other = await client.get(f"{API}/entities/{entity['id']}", headers={**headers, "NGSILD-Tenant": "hyogo"})
    assert other.status == 403
