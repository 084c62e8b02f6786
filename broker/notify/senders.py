"""Delivering one notification request over HTTP(S) or MQTT(S) (5.8.6; MQTT binding annex)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import aiomqtt
import orjson


class DeliveryError(Exception):
    """The receiver could not be reached or did not accept the notification."""


async def guard_target(uri: str, policy: str) -> None:
    """With policy "public", refuse receivers on loopback, private, link-local or reserved addresses."""
    if policy != "public":
        return
    host = urlsplit(uri).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DeliveryError(f"cannot resolve {host}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved \
                or address.is_multicast or address.is_unspecified:
            raise DeliveryError(f"receiver {host} resolves to a non-public address ({address}); "
                                "refused by KYODO_NOTIFICATION_TARGETS=public")


class Senders:
    """One HTTP session for all HTTP endpoints; MQTT connections per message (brokers are local)."""

    def __init__(self, target_policy: str = "any") -> None:
        self.target_policy = target_policy
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, request: dict[str, Any]) -> None:
        uri: str = request["uri"]
        await guard_target(uri, self.target_policy)
        scheme = uri.split(":", 1)[0].lower()
        if scheme in ("http", "https"):
            await self._send_http(request)
        elif scheme in ("mqtt", "mqtts"):
            await _send_mqtt(request)
        else:
            raise DeliveryError(f"unsupported endpoint scheme {scheme!r}")

    async def _send_http(self, request: dict[str, Any]) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"User-Agent": "kyodo-broker"})
        timeout = aiohttp.ClientTimeout(total=request["timeout"])
        try:
            async with self._session.post(request["uri"], data=orjson.dumps(request["body"]),
                                          headers=request["headers"], timeout=timeout,
                                          allow_redirects=False) as response:
                await response.read()
                if not 200 <= response.status < 300:
                    raise DeliveryError(f"receiver answered HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}"[:300]) from None


async def _send_mqtt(request: dict[str, Any]) -> None:
    parts = urlsplit(request["uri"])
    topic = unquote(parts.path.lstrip("/"))
    info = {item["key"]: item["value"] for item in request.get("notifierInfo") or []}
    qos = int(info.get("MQTT-QoS", 0))
    version = aiomqtt.ProtocolVersion.V5 if info.get("MQTT-Version") == "mqtt5.0" else aiomqtt.ProtocolVersion.V311
    message = {"metadata": request["headers"], "body": request["body"]}
    try:
        async with asyncio.timeout(request["timeout"]):
            async with aiomqtt.Client(
                parts.hostname or "localhost", port=parts.port or (8883 if parts.scheme == "mqtts" else 1883),
                username=unquote(parts.username) if parts.username else None,
                password=unquote(parts.password) if parts.password else None,
                protocol=version, tls_params=aiomqtt.TLSParameters() if parts.scheme == "mqtts" else None,
            ) as client:
                await client.publish(topic, orjson.dumps(message), qos=qos)
    except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
        raise DeliveryError(f"MQTT {type(exc).__name__}: {exc}"[:300]) from None
