"""Whether a request may act on a tenant: registered (or creatable), active, within its request rate.

Asked once per NGSI-LD request, where the tenant is resolved (broker/api/request.py); the answer
comes from the registry's TTL cache, so a suspension or quota change made through another replica
applies here within KYODO_TENANT_CACHE_TTL_S.
"""

from __future__ import annotations

from broker.ngsild.errors import NonexistentTenant
from tenants.errors import TenantSuspended
from tenants.quotas import UNLIMITED, Quotas, RateLimiter
from tenants.registry import DEFAULT_TENANT, INACTIVE, SUSPENDED, TenantRegistry


class TenantAdmission:
    def __init__(self, registry: TenantRegistry, limiter: RateLimiter, *, autocreate: bool,
                 wide_area: str | None = None, wide_area_quotas: Quotas = UNLIMITED) -> None:
        self.registry = registry
        self.limiter = limiter
        self.autocreate = autocreate
        """KYODO_TENANT_AUTOCREATE in effect: create operations make unknown tenants exist."""
        self.wide_area = wide_area
        """The wide-area virtual tenant: it always exists and is never registered."""
        self.wide_area_quotas = wide_area_quotas
        """Its quotas (maxSubscriptions, maxRequestsPerMinute) come from the settings, not the registry."""

    async def admit(self, tenant: str, *, create: bool = False, public: bool = False) -> Quotas:
        """The tenant's quotas once the request is let in; 404, 403 or 429 otherwise.

        `create`: the request creates something, so an unknown tenant is acceptable when tenants
        are created implicitly. A deactivated tenant stays nonexistent even then: only the admin
        API brings it back. `public`: the request reads the tenant's published data without the
        tenant's own access, and is rate-limited apart from the tenant's own requests.
        """
        if tenant == DEFAULT_TENANT:
            return UNLIMITED
        if tenant == self.wide_area:
            self.limiter.admit(tenant, self.wide_area_quotas.max_requests_per_minute)
            return self.wide_area_quotas
        record = await self.registry.lookup(tenant)
        if record is None and create and self.autocreate:
            return UNLIMITED
        if record is None or record.status == INACTIVE:
            raise NonexistentTenant(f"Tenant '{tenant}' does not exist" + (
                "; tenants are provisioned through the admin API" if create and record is None else ""))
        if record.status == SUSPENDED:
            raise TenantSuspended(f"Tenant '{tenant}' is suspended by the platform operator: its data is kept "
                                  "but no request is served until it is reactivated")
        self.limiter.admit(tenant, record.quotas.max_requests_per_minute, public=public)
        return record.quotas
