"""Operational endpoints: /version, /health (alive) and /ready (database reachable)."""

from __future__ import annotations

import os
import platform

import pymongo
from aiohttp import web

from broker import __version__
from broker.api.http import json_response
from broker.api.state import services
from broker.store.errors import DATABASE_UNAVAILABLE


async def version(request: web.Request) -> web.Response:
    """GET /version — what is running."""
    svc = services(request)
    return json_response({
        "name": "kyodo-broker",
        "version": __version__,
        "specVersion": f"ETSI GS CIM 009 V{svc.settings.core_context_version}",
        "coreContext": svc.contexts.core_url,
        "python": platform.python_version(),
        "pymongo": pymongo.version,
        # which process answered: with `kyodo serve --workers N`, one of N
        "pid": os.getpid(),
    })


async def health(request: web.Request) -> web.Response:
    """GET /health — the process is alive and serving."""
    return json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    """GET /ready — 200 when the database answers a ping, 503 otherwise."""
    svc = services(request)
    if not svc.database_alive():
        return json_response({"status": "not ready", "database": "embedded database process has exited"},
                             status=503)
    try:
        await svc.databases.ping()
    except DATABASE_UNAVAILABLE as exc:
        return json_response({"status": "not ready", "database": str(exc).splitlines()[0][:200]}, status=503)
    return json_response({"status": "ready", "database": "ok"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/version", version)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
