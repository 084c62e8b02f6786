"""Shared fixtures: one embedded MongoDB-wire server per session, a fresh database prefix per test."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pymongo import AsyncMongoClient

from broker.app import create_app
from broker.config import Settings
from broker.store.embedded import EmbeddedDatabase

API = "/ngsi-ld/v1"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """KYODO_TEST_MONGO_URL, or an embedded SecantusDB server for the whole session."""
    url = os.environ.get("KYODO_TEST_MONGO_URL")
    if url:
        yield url
        return
    database = EmbeddedDatabase(tmp_path_factory.mktemp("secantus"))
    yield database.start()
    database.stop()


@pytest.fixture
async def settings(mongo_url: str) -> AsyncIterator[Settings]:
    """Settings with a database prefix of this test's own; its databases are dropped afterwards."""
    prefix = "t" + uuid.uuid4().hex[:10]
    yield Settings(db_prefix=prefix, mongo_timeout_ms=3000)
    client: AsyncMongoClient = AsyncMongoClient(mongo_url)
    try:
        for name in await client.list_database_names():
            if name == prefix or name.startswith(prefix + "-"):
                await client.drop_database(name)
    finally:
        await client.close()


@pytest.fixture
async def client(aiohttp_client: Any, mongo_url: str, settings: Settings) -> TestClient:
    """An HTTP client talking to a broker app on a real socket, against the real database."""
    return await aiohttp_client(create_app(settings, mongo_url))


@pytest.fixture
def make_client(aiohttp_client: Any, mongo_url: str, settings: Settings) -> Any:
    """Start another broker app on the same databases, with settings overridden (a second replica)."""
    async def make(**overrides: Any) -> TestClient:
        return await aiohttp_client(create_app(settings.model_copy(update=overrides), mongo_url))
    return make


class ContextServer:
    """A real HTTP server on loopback serving @context documents that a test puts in `documents`."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.documents: dict[str, Any] = {}
        self.hits: dict[str, int] = {}

    def url(self, name: str) -> str:
        return str(self.server.make_url(f"/contexts/{name}"))

    def add(self, name: str, context: Any) -> str:
        self.documents[name] = {"@context": context}
        return self.url(name)


@pytest.fixture
async def context_server(aiohttp_server: Any) -> ContextServer:
    holder: dict[str, ContextServer] = {}

    async def serve(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        context_server = holder["server"]
        context_server.hits[name] = context_server.hits.get(name, 0) + 1
        if name not in context_server.documents:
            return web.Response(status=404)
        document = context_server.documents[name]
        if isinstance(document, bytes | str):
            return web.Response(body=document, content_type="application/ld+json")
        return web.json_response(document, content_type="application/ld+json")

    app = web.Application()
    app.router.add_get("/contexts/{name}", serve)
    holder["server"] = ContextServer(await aiohttp_server(app))
    return holder["server"]


def link(url: str) -> dict[str, str]:
    """The Link header that carries a JSON-LD @context."""
    return {"Link": f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'}


class Receiver:
    """A real HTTP server on loopback that records the notifications it receives."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.received: list[tuple[dict[str, str], Any]] = []
        self.status = 200
        self.delay_s = 0.0
        self._arrived = asyncio.Condition()

    def url(self, path: str = "/notify") -> str:
        return str(self.server.make_url(path))

    async def record(self, request: web.Request) -> web.Response:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        body = await request.json()
        async with self._arrived:
            self.received.append((dict(request.headers), body))
            self._arrived.notify_all()
        return web.Response(status=self.status)

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[tuple[dict[str, str], Any]]:
        """The first `count` notifications, waiting up to `timeout_s` for them."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.received) >= count), timeout_s)
        return self.received[:count]

    def bodies(self) -> list[Any]:
        return [body for _, body in self.received]


@pytest.fixture
async def receiver(aiohttp_server: Any) -> Receiver:
    holder: dict[str, Receiver] = {}

    async def handle(request: web.Request) -> web.Response:
        return await holder["receiver"].record(request)

    app = web.Application()
    app.router.add_post("/{path:.*}", handle)
    holder["receiver"] = Receiver(await aiohttp_server(app))
    return holder["receiver"]
