"""MQTT notifications through the local Mosquitto broker (127.0.0.1:1883)."""

from __future__ import annotations

import asyncio
import uuid

import aiomqtt
import orjson

from tests.conftest import API, CORE_CONTEXT

SENSOR = {"id": "urn:ngsi-ld:Sensor:mqtt-1", "type": "Sensor", "temperature": {"type": "Property", "value": 7}}


async def receive_one(topic: str, action, qos: int = 0) -> aiomqtt.Message:
    async with aiomqtt.Client("127.0.0.1", 1883) as subscriber:
        await subscriber.subscribe(topic, qos=qos)
        await action()
        async with asyncio.timeout(10):
            async for message in subscriber.messages:
                return message
    raise AssertionError("no MQTT message")


async def test_an_mqtt_endpoint_receives_metadata_and_body(client):
    topic = f"kyodo/test/{uuid.uuid4().hex}"
    subscription = {
        "id": "urn:ngsi-ld:Subscription:mqtt", "type": "Subscription", "entities": [{"type": "Sensor"}],
        "notification": {"endpoint": {
            "uri": f"mqtt://127.0.0.1:1883/{topic}",
            "receiverInfo": [{"key": "X-Source", "value": "kyodo"}],
            "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}, {"key": "MQTT-Version", "value": "mqtt5.0"}]}},
    }
    assert (await client.post(f"{API}/subscriptions", json=subscription)).status == 201

    async def write() -> None:
        assert (await client.post(f"{API}/entities", json=SENSOR)).status == 201

    message = await receive_one(topic, write, qos=1)
    payload = orjson.loads(message.payload)
    assert payload["metadata"]["Content-Type"] == "application/json"
    assert payload["metadata"]["Link"].startswith(f"<{CORE_CONTEXT}>")
    assert payload["metadata"]["X-Source"] == "kyodo"
    assert payload["body"]["type"] == "Notification"
    assert payload["body"]["subscriptionId"] == "urn:ngsi-ld:Subscription:mqtt"
    assert payload["body"]["data"] == [SENSOR]
    assert message.qos == 1
