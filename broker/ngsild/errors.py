"""NGSI-LD error types (GS CIM 009 clause 5.5.2, Table 6.3.2-1) as exceptions.

Handlers and pure code raise these; one middleware renders them as ProblemDetails (RFC 7807).
"""

from __future__ import annotations

from typing import Any, ClassVar

ERROR_BASE = "https://uri.etsi.org/ngsi-ld/errors/"


class NgsiLdError(Exception):
    """Base of every error the API reports; `detail` says precisely what was wrong."""

    name: ClassVar[str] = "InternalError"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}
        """Response headers that belong to the error (Retry-After of a 429)."""

    @property
    def type(self) -> str:
        return ERROR_BASE + self.name

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "detail": self.detail}
        if self.detail == self.title:
            body["detail"] = f"{self.detail}."
        body.update(self.extra)
        return body


class InvalidRequest(NgsiLdError):
    name, status, title = "InvalidRequest", 400, "Invalid request"


class BadRequestData(NgsiLdError):
    name, status, title = "BadRequestData", 400, "Bad request data"


class AlreadyExists(NgsiLdError):
    name, status, title = "AlreadyExists", 409, "Already exists"


class OperationNotSupported(NgsiLdError):
    name, status, title = "OperationNotSupported", 422, "Operation not supported"


class ResourceNotFound(NgsiLdError):
    name, status, title = "ResourceNotFound", 404, "Resource not found"


class InternalError(NgsiLdError):
    name, status, title = "InternalError", 500, "Internal error"


class TooComplexQuery(NgsiLdError):
    name, status, title = "TooComplexQuery", 403, "Too complex query"


class TooManyResults(NgsiLdError):
    name, status, title = "TooManyResults", 403, "Too many results"


class LdContextNotAvailable(NgsiLdError):
    """Status is 503 in V1.8 and 504 in V1.9.1; the broker's setting chooses (see config)."""

    name, status, title = "LdContextNotAvailable", 503, "JSON-LD @context not available"

    def __init__(self, detail: str, status: int = 503, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.status = status  # type: ignore[misc]


class NoMultiTenantSupport(NgsiLdError):
    name, status, title = "NoMultiTenantSupport", 501, "No multi-tenant support"


class NonexistentTenant(NgsiLdError):
    name, status, title = "NonexistentTenant", 404, "Nonexistent tenant"


class HttpError(NgsiLdError):
    """HTTP-level failures the spec does not name (405, 406, 411, 413, 415, 503 database)."""

    def __init__(self, status: int, title: str, detail: str, type_: str | None = None) -> None:
        super().__init__(detail)
        self.status = status  # type: ignore[misc]
        self.title = title  # type: ignore[misc]
        self._type = type_

    @property
    def type(self) -> str:
        return self._type or ERROR_BASE + {
            406: "NotAcceptable",
            415: "UnsupportedMediaType",
            413: "RequestEntityTooLarge",
            405: "MethodNotAllowed",
            411: "LengthRequired",
        }.get(self.status, "InternalError")


class AmbiguousEntity(HttpError):
    """409: several tenants publish an entity of this id openly; the wide-area tenant will not pick one."""

    def __init__(self, entity_id: str, tenants: list[str]) -> None:
        named = ", ".join(f"'{tenant}'" for tenant in tenants)
        super().__init__(409, "Ambiguous entity", f"Entity {entity_id} is published openly by tenants {named}: "
                         "query GET /entities?id=… to have each one with its source tenant, or read it from "
                         "one tenant with that tenant's NGSILD-Tenant header", "urn:kyodo:error:AmbiguousEntity")
