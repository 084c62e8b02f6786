"""The issuer's signing keys: a JWKS fetched with aiohttp (or found by OIDC discovery), cached.

Keys are refreshed after a TTL (in the background: requests go on with the keys they have), and at
once when a token names an unknown `kid` — but at most once per cooldown, so a flood of made-up
kids cannot turn into a flood of requests to the issuer. When the issuer cannot be reached the keys
already known keep working.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp
import orjson
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from broker.logs import log

MAX_DOCUMENT_BYTES = 1024 * 1024
NO_KEYS_RETRY_S = 5.0


class KeysUnavailable(Exception):
    """No key has ever been fetched and the issuer cannot be reached now."""


class UnknownKey(Exception):
    """The token names a key the issuer does not publish."""


class JwksKeys:
    def __init__(self, *, jwks_url: str | None, issuer: str | None, ttl_s: float, cooldown_s: float,
                 timeout_s: float) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.ttl_s = ttl_s
        self.cooldown_s = cooldown_s
        self.timeout_s = timeout_s
        self.fetches = 0
        self._keys: dict[str | None, PyJWK] = {}
        self._fetched_at: float | None = None
        self._refetch_after = 0.0
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._background: asyncio.Task[None] | None = None

    async def key(self, kid: str | None) -> PyJWK:
        """The signing key with this kid (or the only key, when the token names none)."""
        if self._fetched_at is None:
            await self._refresh(reason="first use")
        elif (time.monotonic() - self._fetched_at > self.ttl_s and time.monotonic() >= self._refetch_after
              and (self._background is None or self._background.done())):
            self._background = asyncio.create_task(self._refresh(reason="ttl"))
        found = self._find(kid)
        if found is None and time.monotonic() >= self._refetch_after:
            await self._refresh(reason="unknown kid")
            found = self._find(kid)
        if found is None:
            raise UnknownKey(f"The issuer publishes no signing key with kid {kid!r}" if kid is not None
                             else "The token names no kid and the issuer publishes several keys")
        return found

    def _find(self, kid: str | None) -> PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self, *, reason: str) -> None:
        started = time.monotonic()
        async with self._lock:
            if self._fetched_at is not None and self._fetched_at >= started:
                return  # another request refreshed while this one waited
            if time.monotonic() < self._refetch_after:
                if self._fetched_at is None:
                    raise KeysUnavailable("The token issuer's signing keys cannot be fetched; retry shortly")
                return
            try:
                keys = parse_jwks(await self._get_json(await self._jwks_url()))
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                # With no key at all every request fails, so try again sooner than the cooldown.
                retry_s = self.cooldown_s if self._keys else min(self.cooldown_s, NO_KEYS_RETRY_S)
                self._refetch_after = time.monotonic() + retry_s
                log.warning("cannot fetch the token signing keys", reason=reason, error=str(exc)[:300],
                            cached_keys=len(self._keys))
                if self._fetched_at is None:
                    raise KeysUnavailable("The token issuer's signing keys cannot be fetched; retry shortly") \
                        from None
                return
            self._keys, self._fetched_at = keys, time.monotonic()
            if reason == "unknown kid":
                self._refetch_after = self._fetched_at + self.cooldown_s
            log.info("token signing keys fetched", reason=reason, kids=sorted(str(kid) for kid in keys))

    async def _jwks_url(self) -> str:
        if self.jwks_url is not None:
            return self.jwks_url
        assert self.issuer is not None
        discovery = await self._get_json(f"{self.issuer.rstrip('/')}/.well-known/openid-configuration")
        url = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError("the OpenID configuration has no http(s) jwks_uri")
        self.jwks_url = url
        return url

    async def _get_json(self, url: str) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        self.fetches += 1
        async with self._session.get(url, headers={"Accept": "application/json"}) as response:
            if response.status != 200:
                raise ValueError(f"{url} answered {response.status}")
            body = await response.content.read(MAX_DOCUMENT_BYTES + 1)
            if len(body) > MAX_DOCUMENT_BYTES:
                raise ValueError(f"{url} is larger than {MAX_DOCUMENT_BYTES} bytes")
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{url} is not JSON: {exc}") from None

    async def close(self) -> None:
        if self._background is not None:
            self._background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._background
        if self._session is not None:
            await self._session.close()
            self._session = None


def parse_jwks(document: Any) -> dict[str | None, PyJWK]:
    """kid → key for the signature keys of a JWKS; encryption and symmetric keys are left out."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the JWKS has no 'keys' list")
    keys: dict[str | None, PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or entry.get("kty") == "oct":
            continue
        try:
            key = PyJWK(entry)
        except PyJWTError:
            continue  # an algorithm we do not know (e.g. Keycloak's RSA-OAEP key)
        keys[key.key_id] = key
    if not keys:
        raise ValueError("the JWKS holds no usable signature key")
    return keys
