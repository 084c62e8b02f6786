"""Tenant names: one spelling, one database (lower case, [a-z0-9_-], at most 48 characters)."""

from __future__ import annotations

import re

_TENANT = re.compile(r"^[a-z0-9_-]{1,48}$")
DEFAULT_TENANT_NAME = "default"
"""How the default tenant (no tenant header, "" internally) is named in tokens, logs, metrics and read-outs."""
#: names that would collide with the shared databases, and the default tenant's name
RESERVED = frozenset({"catalog", "admin", "local", "config", DEFAULT_TENANT_NAME})


class InvalidTenantName(ValueError):
    """The name cannot be a tenant name; the message says why."""


def normalize_tenant(raw: str) -> str:
    """The canonical tenant name for a header value, or InvalidTenantName."""
    name = raw.strip().lower()
    if not _TENANT.match(name):
        raise InvalidTenantName(
            f"Tenant name {raw!r} is invalid: use 1 to 48 characters among a-z, 0-9, '_' and '-'")
    if name in RESERVED:
        raise InvalidTenantName(f"Tenant name {raw!r} is reserved")
    return name


def tenant_label(tenant: str) -> str:
    """The tenant as shown to people and tools: its name, or "default" for the default tenant."""
    return tenant or DEFAULT_TENANT_NAME
