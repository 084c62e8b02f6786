"""Operational endpoints and the error envelope around every route."""

from __future__ import annotations

import os

import pymongo

from tests.conftest import API


async def test_version_reports_names_and_versions(client):
    response = await client.get("/version")
    assert response.status == 200
    body = await response.json()
    assert body["name"] == "kyodo-broker"
    assert body["pymongo"] == pymongo.version
    assert set(body) == {"name", "version", "specVersion", "coreContext", "python", "pymongo", "pid"}
    assert body["pid"] == os.getpid()  # the test's application runs in this process


async def test_health_and_ready_answer_200_with_a_reachable_database(client):
    assert (await client.get("/health")).status == 200
    response = await client.get("/ready")
    assert response.status == 200
    assert await response.json() == {"status": "ready", "database": "ok"}


async def test_unknown_path_is_a_problem_details_404(client):
    response = await client.get(f"{API}/nothing-here")
    assert response.status == 404
    body = await response.json()
    assert body["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    assert body["title"] and body["detail"] and body["title"] != body["detail"]


async def test_every_response_carries_a_request_id(client):
    response = await client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert response.headers["X-Request-Id"] == "abc-123"
