"""HTTP plumbing shared by the handlers: body reading, parameters, JSON responses (6.3)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from broker.ngsild.context import JSONLD_CONTEXT_REL
from broker.ngsild.errors import BadRequestData, HttpError, InvalidRequest, NgsiLdError
from broker.ngsild.media import GEO_JSON, JSON, JSON_LD

API_BASE = "/ngsi-ld/v1"
MAX_BODY_KEY = web.AppKey("max_body_bytes", int)


def utc_now() -> datetime:
    """Now, truncated to the millisecond the database keeps."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def check_params(request: web.Request, allowed: Iterable[str], unsupported: Iterable[str] = ()) -> None:
    """Unknown URL parameters → 400 InvalidRequest; known but unsupported ones → 501."""
    allowed = set(allowed)
    for name in request.query:
        if name in unsupported:
            raise HttpError(501, "Not implemented", f"URL parameter '{name}' is not supported yet",
                            "urn:kyodo:error:NotImplemented")
        if name not in allowed:
            raise InvalidRequest(f"Unknown URL parameter '{name}'; allowed: {', '.join(sorted(allowed))}")


def write_options(request: web.Request, allowed: tuple[str, ...]) -> set[str]:
    """The tokens of a write operation's `options` parameter; unknown ones → 400 InvalidRequest."""
    raw = request.query.get("options")
    if raw is None:
        return set()
    tokens = {token.strip() for token in raw.split(",")}
    unknown = tokens - set(allowed)
    if unknown:
        raise InvalidRequest(f"Unknown value(s) in 'options': {', '.join(sorted(unknown))}; "
                             f"allowed: {', '.join(allowed)}")
    return tokens


def boolean_param(request: web.Request, name: str) -> bool:
    value = request.query.get(name)
    if value is None:
        return False
    if value in ("true", "false"):
        return value == "true"
    raise BadRequestData(f"URL parameter '{name}' must be true or false, got {value!r}")


async def read_json(request: web.Request) -> Any:
    """The request body as JSON: 411 without Content-Length, 413 over the limit, 400 if not JSON."""
    limit = request.app[MAX_BODY_KEY]
    if request.content_length is None:
        if request.headers.get("Transfer-Encoding", "").lower() == "chunked" or request.body_exists:
            raise HttpError(411, "Length required", "Content-Length is required on requests with a body")
        raise InvalidRequest("A JSON body is required")
    if request.content_length > limit:
        raise HttpError(413, "Request entity too large",
                        f"The body has {request.content_length} bytes; the limit is {limit} bytes")
    data = await request.read()
    if not data:
        raise InvalidRequest("A JSON body is required, the body is empty")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The body is not valid JSON: {exc}") from None


def context_link(url: str) -> str:
    return f'<{url}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'


def json_response(data: Any, *, media: str = JSON, context: Any = None, status: int = 200,
                  headers: dict[str, str] | None = None, links: list[str] | None = None) -> web.Response:
    """A JSON or JSON-LD body; `context` goes in a Link header (json) or into the body (ld+json).

    `links` are further Link header values (pagination), sent beside the context link.
    """
    headers = CIMultiDict(headers or {})
    if context is not None:
        if media in (JSON_LD, GEO_JSON):
            if isinstance(data, dict):
                data = {"@context": context, **data}
            elif isinstance(data, list):
                data = [{"@context": context, **item} if isinstance(item, dict) else item for item in data]
        elif isinstance(context, str):
            headers["Link"] = context_link(context)
    for value in links or ():
        headers.add("Link", value)
    return web.Response(body=orjson.dumps(data), status=status, content_type=media, headers=headers)


def geojson_response(data: Any, request: web.Request, context: Any,
                     headers: dict[str, str] | None = None) -> web.Response:
    """GeoJSON with @context in the body, or in a Link header with `Prefer: body=json` (6.3.6)."""
    if request.headers.get("Prefer", "").replace(" ", "") == "body=json":
        link = {"Link": context_link(context)} if isinstance(context, str) else {}
        return json_response(data, media=GEO_JSON, headers={**(headers or {}), **link})
    return json_response(data, media=GEO_JSON, context=context, headers=headers)


def problem_response(error: NgsiLdError) -> web.Response:
    return web.Response(body=orjson.dumps(error.to_problem()), status=error.status,
                        content_type="application/json")


def no_content(headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=204, headers=headers)


def created(location: str) -> web.Response:
    return web.Response(status=201, headers={"Location": location})
