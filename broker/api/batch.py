"""Batch entity operations: /entityOperations/{create,upsert,update,delete,merge} (5.6.7-5.6.10, 5.6.20)."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Routes are added as the operations land."""
