"""Broker settings from KYODO_* environment variables (and `kyodo serve` flags), validated."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    mongo_timeout_ms: int = Field(5000, ge=100)
    core_context_version: Literal["1.8", "1.9"] = "1.8"
    ld_context_unavailable_status: Literal[503, 504] = 503
    """LdContextNotAvailable is 503 in GS CIM 009 V1.8 and 504 in V1.9.1."""
    context_fetch_timeout_s: float = Field(5.0, gt=0)
    context_max_bytes: int = Field(512 * 1024, ge=1024)
    context_cache_ttl_s: float = Field(300.0, ge=0)
    tenant_cache_ttl_s: float = Field(5.0, ge=0)

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value
