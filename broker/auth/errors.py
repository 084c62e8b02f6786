"""401 and 403 answers (RFC 6750 section 3) as ProblemDetails of type urn:kyodo:error:…, with their challenge."""

from __future__ import annotations

import re
from typing import ClassVar

from aiohttp import web

from broker.api.http import problem_response
from broker.ngsild.errors import NgsiLdError

KYODO_ERROR = "urn:kyodo:error:"
REALM = "kyodo"
_UNQUOTABLE = re.compile(r'[^\x20-\x21\x23-\x5b\x5d-\x7e]')  # RFC 6750 3: error_description characters


class AccessError(NgsiLdError):
    """An access-control refusal; `challenge` is its WWW-Authenticate value."""

    challenge: ClassVar[str | None] = None

    @property
    def type(self) -> str:
        return KYODO_ERROR + self.name

    def response(self) -> web.Response:
        response = problem_response(self)
        challenge = self.www_authenticate()
        if challenge:
            response.headers["WWW-Authenticate"] = challenge
        return response

    def www_authenticate(self) -> str | None:
        return None


class MissingToken(AccessError):
    """No credentials at all: the bare challenge, no error code (RFC 6750 3.1)."""

    name, status, title = "Unauthorized", 401, "Unauthorized"

    def www_authenticate(self) -> str:
        return f'Bearer realm="{REALM}"'


class Unauthorized(AccessError):
    name, status, title = "Unauthorized", 401, "Unauthorized"

    def www_authenticate(self) -> str:
        description = _UNQUOTABLE.sub(" ", self.detail)
        return f'Bearer realm="{REALM}", error="invalid_token", error_description="{description}"'


class Forbidden(AccessError):
    name, status, title = "Forbidden", 403, "Forbidden"

    def __init__(self, detail: str, *, scope: str | None = None) -> None:
        super().__init__(detail)
        self.scope = scope

    def www_authenticate(self) -> str | None:
        if self.scope is None:
            return None
        return f'Bearer realm="{REALM}", error="insufficient_scope", scope="{self.scope}"'


class AuthUnavailable(AccessError):
    name, status, title = "AuthUnavailable", 503, "Token verification unavailable"
