"""@context term maps: compile resolved contexts once, then expand and compact names in O(1).

Implements the parts of JSON-LD 1.1 IRI expansion and compaction that NGSI-LD names need
(GS CIM 009 clause 4.4, 5.5.7): terms, prefixes (compact IRIs), @vocab, protected core terms.
The core context is always applied last and cannot be overridden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import orjson

from broker.ngsild.errors import BadRequestData, InvalidRequest

CORE_CONTEXT_URLS = {
    "1.8": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld",
    "1.9": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld",
}
NGSI_LD_PREFIX = "https://uri.etsi.org/ngsi-ld/"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"

_CORE_URL = re.compile(r"^https?://uri\.etsi\.org/ngsi-ld/.*ngsi-ld-core-context.*\.jsonld$")
_GEN_DELIMS = (":", "/", "?", "#", "[", "]", "@")


def is_core_context_url(url: str) -> bool:
    """Any ETSI core-context URL means the built-in core: it is never fetched."""
    return bool(_CORE_URL.match(url))


@cache
def core_context_document(version: str = "1.8") -> dict[str, Any]:
    """The vendored core @context document (schemas/) for a spec version."""
    name = f"ngsi-ld-core-context-v{version}.jsonld"
    return orjson.loads(resources.files("schemas").joinpath(name).read_bytes())


@dataclass(eq=False)
class TermMap:
    """Expansion and compaction for one request @context (user contexts + core, core last)."""

    terms: dict[str, str]
    vocab: str | None
    prefixes: dict[str, str]
    vocab_valued: frozenset[str] = frozenset()
    json_valued: frozenset[str] = frozenset()
    _reverse: dict[str, str] = field(default_factory=dict, repr=False)
    _expanded: dict[str, str] = field(default_factory=dict, repr=False)
    _compacted: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for term in sorted(self.terms, key=lambda t: (len(t), t), reverse=True):
            iri = self.terms[term]
            if not term.startswith("@"):
                self._reverse[iri] = term  # shortest, then least, term wins (JSON-LD term selection)

    def expand(self, term: str) -> str:
        """Expand an attribute name or entity type to its IRI."""
        iri = self._expanded.get(term)
        if iri is None:
            iri = self._expand(term)
            if len(self._expanded) < 10_000:
                self._expanded[term] = iri
        return iri

    def _expand(self, term: str) -> str:
        mapped = self.terms.get(term)
        if mapped is not None:
            return mapped
        if ":" in term:
            prefix, suffix = term.split(":", 1)
            if prefix == "_" or suffix.startswith("//"):
                return term
            base = self.prefixes.get(prefix)
            return base + suffix if base is not None else term
        return (self.vocab + term) if self.vocab else term

    def compact(self, iri: str) -> str:
        """Compact an IRI to the shortest term or compact IRI this context allows."""
        term = self._compacted.get(iri)
        if term is None:
            term = self._compact(iri)
            if len(self._compacted) < 10_000:
                self._compacted[iri] = term
        return term

    def _compact(self, iri: str) -> str:
        term = self._reverse.get(iri)
        if term is not None:
            return term
        if self.vocab and iri.startswith(self.vocab) and len(iri) > len(self.vocab):
            suffix = iri[len(self.vocab):]
            if suffix not in self.terms and ":" not in suffix:
                return suffix
        best: str | None = None
        for prefix, base in self.prefixes.items():
            if iri.startswith(base) and len(iri) > len(base):
                candidate = f"{prefix}:{iri[len(base):]}"
                if candidate in self.terms and self.terms[candidate] != iri:
                    continue
                if best is None or (len(candidate), candidate) < (len(best), best):
                    best = candidate
        return best or iri


def _context_entries(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def compile_term_map(contexts: list[dict[str, Any]], core: dict[str, Any]) -> TermMap:
    """Compile resolved local contexts (objects, in order) followed by the core context.

    `contexts` are @context *objects* only: URLs must already be resolved by the caller.
    """
    definitions: dict[str, Any] = {}
    vocab: str | None = None
    for context in [*contexts, core]:
        if not isinstance(context, dict):
            raise BadRequestData(f"@context entries must be objects or URLs, got {type(context).__name__}")
        for key, value in context.items():
            if key == "@vocab":
                if value is not None and not isinstance(value, str):
                    raise BadRequestData("@vocab must be a string")
                vocab = value
            elif key.startswith("@"):
                continue  # @version, @protected, @language, @base, @propagate, @import: not name mapping
            else:
                definitions[key] = value
    return _resolve(definitions, vocab)


def _resolve(definitions: dict[str, Any], vocab: str | None) -> TermMap:
    raw: dict[str, str | None] = {}
    simple: set[str] = set()
    vocab_valued: set[str] = set()
    json_valued: set[str] = set()
    for term, definition in definitions.items():
        if isinstance(definition, str) or definition is None:
            raw[term] = definition
            simple.add(term)
        elif isinstance(definition, dict):
            iri = definition.get("@id", term if ":" in term else None)
            if iri is not None and not isinstance(iri, str):
                raise BadRequestData(f"@context term '{term}' has an @id that is not a string")
            raw[term] = iri if iri is not None else term
            if definition.get("@prefix") is True:
                simple.add(term)
            if definition.get("@type") == "@vocab":
                vocab_valued.add(term)
            elif definition.get("@type") == "@json":
                json_valued.add(term)
        else:
            raise BadRequestData(f"@context term '{term}' must map to a string or an object")

    resolved: dict[str, str] = {}

    def resolve(term: str, depth: int = 0) -> str | None:
        if term in resolved:
            return resolved[term]
        value = raw.get(term)
        if value is None or depth > 16:
            return None
        if value.startswith("@"):
            iri = value
        elif ":" in value:
            prefix, suffix = value.split(":", 1)
            if prefix != term and prefix in raw and not suffix.startswith("//"):
                base = resolve(prefix, depth + 1)
                iri = base + suffix if base else value
            else:
                iri = value
        elif value in raw and value != term:
            iri = resolve(value, depth + 1) or value
        else:
            iri = (vocab + value) if vocab else value
        resolved[term] = iri
        return iri

    for term in raw:
        resolve(term)
    prefixes = {
        term: iri for term, iri in resolved.items()
        if term in simple and ":" not in term and not iri.startswith("@") and iri.endswith(_GEN_DELIMS)
    }
    return TermMap(
        terms=resolved,
        vocab=vocab,
        prefixes=prefixes,
        vocab_valued=frozenset(resolved[t] for t in vocab_valued if t in resolved),
        json_valued=frozenset(resolved[t] for t in json_valued if t in resolved),
    )


@cache
def core_term_map(version: str = "1.8") -> TermMap:
    """The term map of the core context alone (requests without a user @context)."""
    return compile_term_map([], core_context_document(version)["@context"])


def parse_link_header_contexts(values: list[str]) -> str | None:
    """The @context URL of the request's JSON-LD Link header, or None (6.3.5).

    More than one JSON-LD context link is a BadRequestData.
    """
    found: list[str] = []
    for header in values:
        for link in _split_links(header):
            match = re.match(r"\s*<([^>]*)>(.*)$", link, re.S)
            if not match:
                raise BadRequestData(f"Link header is malformed: {link.strip()!r}")
            url, params = match.group(1).strip(), match.group(2)
            rels = re.findall(r'rel\s*=\s*"?([^";]+)"?', params)
            if any(rel.strip() == JSONLD_CONTEXT_REL for rel in rels):
                found.append(url)
    if len(found) > 1:
        raise BadRequestData("Only one JSON-LD @context Link header is allowed")
    if found and not re.match(r"^https?://", found[0]):
        raise BadRequestData(f"Link header @context must be an http(s) URL, got {found[0]!r}")
    return found[0] if found else None


def _split_links(header: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in header:
        if char == "<":
            depth += 1
        elif char == ">":
            depth = max(depth - 1, 0)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current))
    return parts


def context_entries(value: Any) -> list[Any]:
    """Validate an @context value's shape and return its entries (URL strings and objects)."""
    entries = _context_entries(value)
    if not entries:
        raise BadRequestData("@context must not be empty")
    for entry in entries:
        if isinstance(entry, str):
            if not re.match(r"^https?://", entry):
                raise BadRequestData(f"@context URL must be http(s): {entry!r}")
        elif not isinstance(entry, dict):
            raise BadRequestData(
                f"@context entries must be URLs or objects, got {type(entry).__name__}: {entry!r}")
    return entries


def parse_context_document(body: Any) -> Any:
    """The @context of a POST /jsonldContexts body: an object, or a list of URLs and objects (5.13.2)."""
    if not isinstance(body, dict):
        raise InvalidRequest(f"The body must be a JSON object with an @context member, got {type(body).__name__}")
    if "@context" not in body:
        raise BadRequestData("The body has no @context member")
    context = body["@context"]
    if not isinstance(context, dict | list):
        raise BadRequestData(f"@context must be an object or an array, got {type(context).__name__}")
    context_entries(context)
    return context
