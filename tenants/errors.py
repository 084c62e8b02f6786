"""Kyodo's own error types for tenants (URNs under urn:kyodo:error:, listed in the README).

They are NgsiLdErrors so the one error middleware renders them as ProblemDetails like any other.
"""

from __future__ import annotations

from typing import Any

from broker.ngsild.errors import NgsiLdError

KYODO_ERROR = "urn:kyodo:error:"


class KyodoError(NgsiLdError):
    @property
    def type(self) -> str:
        return KYODO_ERROR + self.name


class TenantSuspended(KyodoError):
    name, status, title = "TenantSuspended", 403, "Tenant suspended"


class ReadOnlyTenant(KyodoError):
    """A write to the wide-area virtual tenant, which only reads other tenants' open datasets."""

    name, status, title = "ReadOnlyTenant", 403, "Read-only tenant"


class QuotaExceeded(KyodoError):
    """maxEntities or maxSubscriptions; the ProblemDetails names the quota and its limit."""

    name, status, title = "QuotaExceeded", 403, "Quota exceeded"


class TooManyEntities(KyodoError):
    """A batch larger than allowed: the broker's KYODO_MAX_BATCH_ENTITIES or the tenant's maxBatchSize."""

    name, status, title = "TooManyEntities", 413, "Too many entities"


class TooManyRequests(KyodoError):
    """maxRequestsPerMinute: 429 with Retry-After in whole seconds."""

    name, status, title = "TooManyRequests", 429, "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.headers["Retry-After"] = str(retry_after_s)
