"""Entity consumption: GET /entities, POST /entityOperations/query, /types, /attributes (5.7)."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Routes are added as the operations land."""
