"""Broker settings from KYODO_* environment variables (and `kyodo serve` flags), validated."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tenants.names import RESERVED as RESERVED_TENANT_NAMES


class Settings(BaseSettings):
    """Every knob an operator can turn; the README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_prefix="KYODO_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(1026, ge=0, le=65535)
    mongo_url: str | None = None
    """Unset: start the embedded SecantusDB server as a child process."""
    data_dir: Path = Path(".kyodo-data")
    db_prefix: str = Field("kyodo", pattern=r"^[a-z0-9_-]{1,16}$")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "console"
    workers: int = Field(1, ge=1, le=64)
    """Broker processes sharing the port (SO_REUSEPORT), started and supervised by `kyodo serve`."""

    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_batch_entities: int = Field(1000, ge=1)
    """Most entities (or ids) one /entityOperations request may carry; more → 413."""
    default_limit: int = Field(20, ge=1)
    max_limit: int = Field(1000, ge=1)
    mongo_timeout_ms: int = Field(5000, ge=100)
    query_timeout_ms: int = Field(30_000, ge=1)
    """The database time one query may take (maxTimeMS); longer → 504 with a detail naming this setting."""
    database_command_metrics: bool = True
    """kyodo_database_command_duration_seconds through PyMongo's command monitoring, which costs about
    27 µs of broker CPU per database command whatever the listener does (measured): off saves it."""
    core_context_version: Literal["1.8", "1.9"] = "1.8"
    ld_context_unavailable_status: Literal[503, 504] = 503
    """LdContextNotAvailable is 503 in GS CIM 009 V1.8 and 504 in V1.9.1."""
    context_fetch_timeout_s: float = Field(5.0, gt=0)
    context_max_bytes: int = Field(512 * 1024, ge=1024)
    context_cache_ttl_s: float = Field(300.0, ge=0)
    tenant_cache_ttl_s: float = Field(5.0, ge=0)
    tenant_autocreate: bool | None = None
    """Create operations make an unknown tenant exist; unset: on with KYODO_AUTH=none, off with jwt."""
    wide_area_tenant: str = Field("open", pattern=r"^[a-z0-9_-]{1,48}$")
    """The read-only virtual tenant whose queries cover every tenant's open datasets (広域); never provisioned."""
    wide_area_max_subscriptions: int = Field(1000, ge=1)
    """Subscriptions the wide-area tenant may hold, all subscribers together (its maxSubscriptions)."""
    wide_area_max_requests_per_minute: int | None = Field(None, ge=1)
    """Requests per minute to the wide-area tenant, all readers together (its maxRequestsPerMinute; each
    one fans out to every publishing tenant); unset: unlimited."""
    public_url: str | None = Field(None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    """The broker's external base URL (e.g. https://kyodo.example.jp) for links in the catalog (DCAT-AP,
    CKAN); unset: taken from each request's scheme and Host."""
    dcat_page_size: int = Field(100, ge=1, le=1000)
    """Datasets per page of GET /catalog/v1/dcat (hydra paging beyond)."""
    catalog_title: str = Field("Kyodo shared data catalog", min_length=1, max_length=200)
    catalog_publisher: str = Field("Kyodo joint data platform", min_length=1, max_length=200)
    """The catalog's own dct:publisher (each dataset names its own publisher)."""
    rate_limit_window_s: float = Field(60.0, gt=0)
    """maxRequestsPerMinute is counted per process in fixed windows this long (scaled to the window)."""
    rate_limit_replicas: int = Field(1, ge=1)
    """Broker processes behind the load balancer: each one allows maxRequestsPerMinute ÷ this."""

    @property
    def autocreate_tenants(self) -> bool:
        """KYODO_TENANT_AUTOCREATE in effect (the `auth` setting belongs to access control)."""
        if self.tenant_autocreate is not None:
            return self.tenant_autocreate
        return getattr(self, "auth", "none") != "jwt"

    usage_flush_interval_s: float = Field(10.0, gt=0)
    """Each process writes its usage counts to the shared catalog this often (and at shutdown)."""
    usage_sample_interval_s: float = Field(300.0, ge=0)
    """Entities stored, subscriptions and storage size are sampled per tenant at most this often."""
    usage_timezone: str = "Asia/Tokyo"
    """The timezone whose calendar days the usage meters count in."""

    @field_validator("usage_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, ZoneInfoNotFoundError):
            raise ValueError(f"unknown timezone {value!r}; use an IANA name such as Asia/Tokyo") from None
        return value

    subscription_cache_ttl_s: float = Field(2.0, ge=0)
    """A subscription created or changed on another replica is used here within this delay."""
    notify_poll_interval_s: float = Field(1.0, gt=0)
    notify_lease_s: float = Field(60.0, gt=0)
    notify_max_attempts: int = Field(8, ge=1)
    notify_backoff_base_s: float = Field(1.0, gt=0)
    notify_backoff_max_s: float = Field(300.0, gt=0)
    notify_endpoint_concurrency: int = Field(4, ge=1)
    notify_endpoint_queue: int = Field(100, ge=1)
    notify_default_timeout_s: float = Field(10.0, gt=0)
    notification_targets: Literal["any", "public"] | None = None
    """"public" refuses notification endpoints on loopback, private or link-local addresses (SSRF guard);
    unset means "public" with KYODO_AUTH=jwt (production) and "any" with KYODO_AUTH=none."""

    @property
    def notification_target_policy(self) -> str:
        if self.notification_targets is not None:
            return self.notification_targets
        return "public" if getattr(self, "auth", "none") == "jwt" else "any"

    @field_validator("wide_area_tenant")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_TENANT_NAMES:
            raise ValueError(f"{value!r} is a reserved tenant name ({', '.join(sorted(RESERVED_TENANT_NAMES))})")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    # Access control (broker/auth; README "Access control")
    auth: Literal["none", "jwt"] = "none"
    """"none" is for development: every request has every scope and tenant."""
    insecure_bind: bool = False
    """With auth "none", `kyodo serve` binds a non-loopback address only when this is set."""
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    """Checked against `iss`; without a JWKS URL or PEM key, its OIDC discovery document gives the JWKS."""
    jwt_public_key: str | None = None
    """A PEM public key or certificate: the PEM text itself or a file path."""
    jwt_hs256_secret: SecretStr | None = None
    jwt_audience: str | None = None
    jwt_leeway_s: float = Field(30.0, ge=0)
    jwt_algorithms: str = "RS256,ES256,EdDSA"
    """Asymmetric algorithms only; HS256 is accepted with jwt_hs256_secret and never with these keys."""
    jwt_tenants_claim: str = "tenants"
    jwt_role_scopes: str = ""
    """Keycloak realm roles → scopes, e.g. "kyodo-admin=admin,kyodo-writer=ngsi-ld:read ngsi-ld:write"."""
    jwt_jwks_ttl_s: float = Field(600.0, ge=0)
    jwt_jwks_cooldown_s: float = Field(30.0, ge=0)
    """An unknown kid refetches the JWKS at most once per this delay."""
