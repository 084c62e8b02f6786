"""The query AST: what q, scopeQ, type expressions and geoQ parse into (4.9, 4.10, 4.17, 4.19, 5.7.2).

Parsers in broker/ngsild build it from request text; broker/store translates it to MongoDB filters;
notification matching (later) evaluates it against entities in memory. All names are expanded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeAlias

from broker.ngsild.params import RenderOptions

# --- values ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DateTimeValue:
    """An unquoted DateTime in q (`observedAt>2026-01-01T00:00:00Z`): compared as time, not text."""

    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class UriValue:
    """An unquoted URI in q; matched against Relationship objects (and string values)."""

    uri: str


Scalar: TypeAlias = str | int | float | bool | DateTimeValue | UriValue


@dataclass(frozen=True, slots=True)
class Range:
    """`a==low..high` (inclusive); only with == and !=."""

    low: Scalar
    high: Scalar


# --- q ----------------------------------------------------------------------------------------

#: entity-level members a q term may target directly (the "system" targets)
SYSTEM_TARGETS = frozenset({"createdAt", "modifiedAt", "observedAt", "deletedAt"})
#: instance members a dotted path may target (`temperature.observedAt`), never expanded
INSTANCE_MEMBER_TARGETS = frozenset({"observedAt", "createdAt", "modifiedAt", "unitCode", "datasetId",
                                     "deletedAt"})


@dataclass(frozen=True, slots=True)
class AttributePath:
    """What a q term addresses.

    attribute  expanded attribute name, or one of SYSTEM_TARGETS when `system` is True
    sub        dotted continuation: expanded sub-attribute names, or a final INSTANCE_MEMBER_TARGETS
               member (`temperature.observedAt` → sub=("observedAt",))
    compound   `[a][b]` keys into a JSON value (never expanded)
    language   `[en]` / `[*]` on a LanguageProperty. The q syntax cannot tell `name[en]` from
               `address[city]`, so a single bracket that looks like a language tag (or `*`) sets
               both compound=(tag,) and language=tag: match either a languageMap entry or the key.
    """

    attribute: str
    sub: tuple[str, ...] = ()
    compound: tuple[str, ...] = ()
    language: str | None = None
    system: bool = False


Operator: TypeAlias = Literal["==", "!=", ">", ">=", "<", "<=", "~=", "!~="]


@dataclass(frozen=True, slots=True)
class Comparison:
    """`path op value`. value is a Scalar, a Range (== / != only), or a tuple of Scalars (a list,
    == / != only: any-of / none-of). For ~= and !~= value is the regex text (str)."""

    path: AttributePath
    op: Operator
    value: Scalar | Range | tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class Exists:
    """`attr` (exists) or `!attr` (negated: does not exist)."""

    path: AttributePath
    negated: bool = False


# --- scopeQ and type expressions --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScopeMatch:
    """One scopeQ pattern: `/Madrid/+/Park` (+ one level), `/CompanyA/#` (# the rest), `/#` any."""

    pattern: str


@dataclass(frozen=True, slots=True)
class TypeName:
    """One entity type (expanded) of a type expression; `*` (all types) parses to None, not a node."""

    type: str


# --- boolean structure, shared by q, scopeQ and type expressions ------------------------------


@dataclass(frozen=True, slots=True)
class And:
    terms: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    terms: tuple[Node, ...]


Node: TypeAlias = And | Or | Comparison | Exists | ScopeMatch | TypeName

# --- geo ----------------------------------------------------------------------------------------

GeoRelation: TypeAlias = Literal["near", "within", "contains", "intersects", "equals", "disjoint", "overlaps"]


@dataclass(frozen=True, slots=True)
class GeoQuery:
    """4.10: `georel` against a reference geometry on one GeoProperty (default `location`)."""

    georel: GeoRelation
    geometry: dict  # a validated GeoJSON geometry
    geoproperty: str  # expanded name
    max_distance: float | None = None  # metres, near only
    min_distance: float | None = None  # metres, near only


# --- ordering and the whole query ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One orderBy key (4.23): `id`, `type`, or an attribute path; descending with `;desc`."""

    target: Literal["id", "type"] | AttributePath
    descending: bool = False


@dataclass(frozen=True, slots=True)
class EntitySelector:
    """One EntitySelector of a Query body (5.2.33) when several must be ORed (see EntityQuery.selectors)."""

    ids: tuple[str, ...] = ()
    id_pattern: str | None = None  # ignored when ids is given
    types: Node | None = None


@dataclass(frozen=True)
class EntityQuery:
    """A Query Entities request (5.7.2) after parsing: URL parameters or a Query body (5.2.23)."""

    ids: tuple[str, ...] = ()
    id_pattern: str | None = None
    types: Node | None = None
    """Type expression over TypeName leaves; None = any type (no `type`, or `type=*`)."""
    attrs: frozenset[str] | None = None
    """Expanded names: an entity matches if it has at least one of them (5.7.2.4)."""
    q: Node | None = None
    scope_q: Node | None = None
    geo: GeoQuery | None = None
    order_by: tuple[OrderKey, ...] = ()
    limit: int = 20
    offset: int = 0
    count: bool = False
    local: bool = False
    render: RenderOptions = field(default_factory=RenderOptions)
    selectors: tuple[EntitySelector, ...] = ()
    """Several EntitySelectors of a Query body that cannot be folded into ids/id_pattern/types: an
    entity matches if it matches ANY of them. When non-empty, ids, id_pattern and types are empty."""
