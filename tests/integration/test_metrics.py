"""GET /metrics: requests by route template, method, status and bounded tenant; notifications; database."""

from __future__ import annotations

import asyncio

from tests.conftest import API


async def scrape(client) -> str:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return await response.text()


async def test_a_request_shows_up_by_route_template_method_status_and_tenant(client):
    await client.post(f"{API}/entities", json={"id": "urn:ngsi-ld:Sensor:m", "type": "Sensor", "t": 1},
                      headers={"NGSILD-Tenant": "osaka"})
    await client.get(f"{API}/entities/urn:ngsi-ld:Sensor:m", headers={"NGSILD-Tenant": "osaka"})
    await client.get(f"{API}/entities/urn:ngsi-ld:Sensor:none")
    await client.get(f"{API}/entities/urn:ngsi-ld:Sensor:x", headers={"NGSILD-Tenant": "never-made"})
    text = await scrape(client)
    route = f"{API}/entities/{{entityId}}"
    assert f'kyodo_http_requests_total{{method="GET",route="{route}",status="200",tenant="osaka"}} 1.0' in text
    assert f'kyodo_http_requests_total{{method="GET",route="{route}",status="404",tenant="default"}} 1.0' in text
    assert f'kyodo_http_requests_total{{method="GET",route="{route}",status="404",tenant="other"}} 1.0' in text
    assert f'kyodo_http_request_duration_seconds_count{{method="POST",route="{API}/entities",tenant="osaka"}} 1.0' \
        in text
    assert 'kyodo_database_command_duration_seconds_count{command="insert",outcome="ok"}' in text


async def test_notifications_and_outbox_depth_are_counted(client, receiver):
    subscription = {"type": "Subscription", "entities": [{"type": "Sensor"}],
                    "notification": {"endpoint": {"uri": receiver.url()}}}
    assert (await client.post(f"{API}/subscriptions", json=subscription)).status == 201
    await client.post(f"{API}/entities", json={"id": "urn:ngsi-ld:Sensor:n", "type": "Sensor", "t": 1})
    await receiver.wait_for(1)
    # the sent count moves when the receiver answers; the outbox record is removed by the next bulk settle
    for _ in range(50):
        text = await scrape(client)
        if ('kyodo_notifications_total{outcome="sent",tenant="default"} 1.0' in text
                and 'kyodo_outbox_depth{tenant="default"} 0.0' in text):
            break
        await asyncio.sleep(0.1)
    assert 'kyodo_notifications_total{outcome="sent",tenant="default"} 1.0' in text
    assert 'kyodo_outbox_depth{tenant="default"} 0.0' in text


async def test_database_command_metrics_can_be_turned_off(make_client):
    client = await make_client(database_command_metrics=False)
    await client.post(f"{API}/entities", json={"id": "urn:ngsi-ld:Sensor:m", "type": "Sensor", "t": 1})
    text = await scrape(client)
    assert f'kyodo_http_request_duration_seconds_count{{method="POST",route="{API}/entities",tenant="default"}} 1.0' \
        in text
    assert "kyodo_database_command_duration_seconds_count{" not in text
