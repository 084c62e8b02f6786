"""A database outage answers 503 with a clear detail, and the broker serves again once it is back."""

from __future__ import annotations

from broker.app import create_app
from broker.config import Settings
from broker.store.embedded import EmbeddedDatabase
from tests.conftest import API

ENTITY = {"id": "urn:ngsi-ld:Sensor:outage-1", "type": "Sensor", "temperature": 3}


async def test_database_down_is_503_and_the_broker_recovers_when_it_returns(aiohttp_client, tmp_path):
    database = EmbeddedDatabase(tmp_path)
    url = database.start()
    try:
        client = await aiohttp_client(create_app(Settings(mongo_timeout_ms=700), url))
        assert (await client.post(f"{API}/entities", json=ENTITY)).status == 201

        database.stop()
        response = await client.get(f"{API}/entities/{ENTITY['id']}")
        assert response.status == 503
        body = await response.json()
        assert body["type"] == "urn:kyodo:error:DatabaseUnavailable"
        assert "database" in body["detail"].lower()
        assert (await client.get("/ready")).status == 503

        database = EmbeddedDatabase(tmp_path, port=database.port)
        database.start()
        response = await client.get(f"{API}/entities/{ENTITY['id']}", params={"options": "keyValues"})
        assert response.status == 200
        assert await response.json() == ENTITY
    finally:
        database.stop()
