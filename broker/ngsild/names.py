"""Lexical checks the spec puts on identifiers, names and timestamps (4.6.2, 4.6.3, 5.5.4)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from broker.ngsild.errors import BadRequestData

_NAME = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_.-]*:)?[A-Za-z_][A-Za-z0-9_]*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$")
_FORBIDDEN_URI_CHARS = re.compile(r"[\s\x00-\x1f\x7f<>\"{}|\\^`\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$")
_SCOPE = re.compile(r"^/?[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-]+)*$")


def is_uri(value: object) -> bool:
    """An absolute URI (scheme ':' rest) with no whitespace, control or bidi characters."""
    return isinstance(value, str) and bool(_SCHEME.match(value)) and not _FORBIDDEN_URI_CHARS.search(value)


def require_entity_id(value: object, where: str = "id") -> str:
    """The value if it is a valid entity id, else BadRequestData naming `where`."""
    if not isinstance(value, str) or not value:
        raise BadRequestData(f"'{where}' must be a URI string, got {value!r}")
    if not is_uri(value):
        raise BadRequestData(f"'{where}' is not a valid URI: {value!r}")
    return value


def is_valid_name(name: object) -> bool:
    """Attribute and type names: a term, a compact IRI or an absolute IRI (4.6.2)."""
    if not isinstance(name, str) or not name:
        return False
    if _NAME.match(name):
        return True
    return ("://" in name and is_uri(name)) or (name.startswith("urn:") and is_uri(name))


def require_name(name: object, what: str = "attribute name") -> str:
    if not is_valid_name(name):
        raise BadRequestData(f"Invalid {what}: {name!r}")
    return name  # type: ignore[return-value]


def parse_datetime(value: object, where: str) -> datetime:
    """An NGSI-LD DateTime (YYYY-MM-DDThh:mm:ss[.frac]Z, 4.6.3) as an aware UTC datetime."""
    if not isinstance(value, str) or not (match := _DATETIME.match(value)):
        raise BadRequestData(f"'{where}' must be a DateTime like 2026-01-31T12:00:00Z, got {value!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = match.group(7)
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError as exc:
        raise BadRequestData(f"'{where}' is not a valid DateTime: {value!r} ({exc})") from None


def format_datetime(value: datetime) -> str:
    """UTC ISO 8601 with milliseconds and Z: the one way times leave the broker."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def is_valid_scope(value: object) -> bool:
    return isinstance(value, str) and bool(_SCOPE.match(value))
