"""JSON bodies and paging of the operator and catalog APIs (not NGSI-LD payloads): pydantic models
with camelCase members, validated into 400s that name every wrong member."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, StrictStr, StringConstraints
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel

from broker.api.http import read_json
from broker.api.state import services
from broker.ngsild.errors import BadRequestData, HttpError
from broker.ngsild.query import MAX_OFFSET, non_negative
from tenants.names import InvalidTenantName, normalize_tenant

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
M = TypeVar("M", bound=BaseModel)


def _email(value: str) -> str:
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("must be an e-mail address such as digital@pref.example.jp")
    return value


def _tenant_name(value: str) -> str:
    return normalize_tenant(value)  # InvalidTenantName is a ValueError: pydantic reports it on the member


Text = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[StrictStr, AfterValidator(_email)]
TenantName = Annotated[StrictStr, AfterValidator(_tenant_name)]


class Body(BaseModel):
    """JSON members are camelCase; unknown members are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, frozen=True)


def tenant_name(raw: str, label: str) -> str:
    """A tenant name from a URL or a body member, normalised; 400 naming where it came from otherwise."""
    try:
        return normalize_tenant(raw)
    except InvalidTenantName as exc:
        raise BadRequestData(f"{label}: {exc}") from None


def validated(model: type[M], body: Any) -> M:
    """The body as the model, or 400 BadRequestData listing every wrong member with its path."""
    if not isinstance(body, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(body), "a number")
        raise BadRequestData(f"The body must be a JSON object, got {kind}")
    try:
        return model.model_validate(body)
    except PydanticValidationError as exc:
        errors = [{"member": ".".join(str(part) for part in error["loc"]) or "(body)",
                   "message": error["msg"].removeprefix("Value error, ")} for error in exc.errors()]
        raise BadRequestData("; ".join(f"{error['member']}: {error['message']}" for error in errors),
                             errors=errors) from None


async def json_body(request: web.Request, *media_types: str, hint: str = "") -> Any:
    """The parsed body when its Content-Type is one of `media_types` (415 otherwise; `hint` ends the detail)."""
    if request.content_type not in media_types:
        raise HttpError(415, "Unsupported media type",
                        f"Content-Type must be {' or '.join(media_types)}, got {request.content_type!r}{hint}")
    return await read_json(request)


def page_params(request: web.Request) -> tuple[int, int]:
    """`limit` (default KYODO_DEFAULT_LIMIT, at most KYODO_MAX_LIMIT) and `offset` of a list request."""
    settings = services(request).settings
    limit = non_negative(request.query, "limit", settings.default_limit)
    offset = non_negative(request.query, "offset", 0)
    if limit > settings.max_limit:
        raise BadRequestData(f"URL parameter 'limit' may be at most {settings.max_limit}, got {limit}")
    if offset > MAX_OFFSET:
        raise BadRequestData(f"offset={offset} is too large")
    return limit, offset
