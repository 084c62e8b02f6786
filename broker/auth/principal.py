"""Who is asking: the Principal a verified token (or KYODO_AUTH=none) stands for, read from its claims."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from broker.auth.errors import AccessError
from broker.auth.policy import ALL_SCOPES
from broker.ngsild.catalog_view import NotPublished
from tenants.names import tenant_label

ALL_TENANTS = "*"


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str]
    tenants: frozenset[str]
    """Tenant names the token may act on, lower case; "*" for all."""

    def may_act_on(self, tenant: str) -> bool:
        """`tenant` as tenant_of gives it ("" is the default tenant)."""
        return ALL_TENANTS in self.tenants or tenant_label(tenant) in self.tenants


ANONYMOUS = Principal("anonymous", ALL_SCOPES, frozenset({ALL_TENANTS}))
"""Everyone, when KYODO_AUTH=none."""

PRINCIPAL_KEY = web.RequestKey("principal", Principal)


def principal_of(request: web.Request) -> Principal | None:
    """The principal the access middleware admitted: None on public routes without a token, and for
    catalog readers without one. A catalog reader's principal may not have access to the tenant."""
    return request.get(PRINCIPAL_KEY)


@dataclass(frozen=True)
class CatalogReader:
    """A request admitted to read a tenant only through its published datasets (tenants/published.py).

    Set by the access middleware on the catalog-readable routes (policy.CATALOG_READS) when the
    request has no token, or a valid one without access to the tenant, and on the wide-area
    tenant's read routes (policy.WIDE_AREA_READS) always. Never set with KYODO_AUTH=none outside the
    wide-area tenant: there everyone reads everything, as without the catalog.
    """

    member: bool
    """A valid token of any member was presented: `members` datasets are readable too."""
    refusal: AccessError | None = None
    """What the access rules answer when the request reaches beyond the published datasets: 401
    without a token, 403 with a token of another tenant; None on the wide-area tenant."""

    def refusal_for(self, reason: str | None) -> AccessError | NotPublished:
        """The refusal, its detail starting with `reason` if any, with its WWW-Authenticate challenge."""
        if self.refusal is None:
            return NotPublished(reason or "Nothing readable here is published")
        error = copy.copy(self.refusal)
        error.detail = f"{reason}. {self.refusal.detail}" if reason else self.refusal.detail
        error.headers = dict(self.refusal.headers)
        challenge = error.www_authenticate()
        if challenge:
            error.headers["WWW-Authenticate"] = challenge
        return error


READER_KEY = web.RequestKey("catalog_reader", CatalogReader)


def catalog_reader(request: web.Request) -> CatalogReader | None:
    """How the request reads through the catalog; None when it has the tenant's own access."""
    return request.get(READER_KEY)


def _words(value: Any) -> list[str]:
    """A claim that is a list of strings, or one string separated by spaces or commas."""
    if isinstance(value, str):
        return value.replace(",", " ").split()
    if isinstance(value, list | tuple):
        return [item.strip() for item in value if isinstance(item, str) and item.strip()]
    return []


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by dotted path into nested objects (Keycloak nests 'a.b' claim names)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def principal_from_claims(claims: Mapping[str, Any], *, tenants_claim: str,
                          role_scopes: Mapping[str, Iterable[str]]) -> Principal:
    """Scopes from `scope` (space-separated) or `scp` (a list) plus mapped Keycloak realm roles."""
    scopes = set(_words(claims.get("scope"))) | set(_words(claims.get("scp")))
    realm_access = claims.get("realm_access")
    roles = _words(realm_access.get("roles")) if isinstance(realm_access, Mapping) else []
    for role in roles:
        scopes.update(role_scopes.get(role, ()))
    subject = next((claims[name] for name in ("sub", "preferred_username", "client_id", "azp")
                    if isinstance(claims.get(name), str) and claims[name]), "unknown")
    tenants = frozenset(name.lower() for name in _words(_claim(claims, tenants_claim)))
    return Principal(subject=subject, scopes=frozenset(scopes), tenants=tenants)
