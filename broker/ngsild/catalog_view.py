"""Reading through the shared catalog: a query limited to published entity types, minus withheld attributes.

A reader without access to a tenant (anonymous, or a member of another tenant) and a reader of the
wide-area virtual tenant see a tenant's data only through its published datasets: a `CatalogView`
maps each readable entity type (expanded) to the attributes its publisher withheld (expanded).
`restrict_query` refuses what would reach outside the view (403) and `withhold` drops withheld
attributes from each entity before it is rendered. Pure: the view is built from the catalog by the caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from broker.ngsild.errors import HttpError
from broker.ngsild.model import Entity
from broker.ngsild.query_ast import And, AttributePath, Comparison, EntityQuery, Exists, Node, Or, TypeName

NOT_PUBLISHED = "urn:kyodo:error:NotPublished"


class NotPublished(HttpError):
    """403: the request reaches data that no dataset readable by this reader publishes."""

    def __init__(self, detail: str) -> None:
        super().__init__(403, "Not published", detail, NOT_PUBLISHED)


class WithheldAttribute(NotPublished):
    """403: the request filters, sorts or projects on an attribute the publisher withheld.

    Unlike an unpublished type, a token of another member would not help: only the publishing
    tenant's own token reads withheld attributes.
    """


@dataclass(frozen=True)
class CatalogView:
    """What a reader may see: readable entity type → attribute names withheld from it (all expanded)."""

    types: Mapping[str, frozenset[str]]

    @property
    def withheld(self) -> frozenset[str]:
        """Attributes withheld from any readable type: none of them may be filtered or sorted on."""
        return frozenset().union(*self.types.values()) if self.types else frozenset()


def type_names(node: Node | None) -> Iterator[str]:
    """The entity types a type expression names."""
    if isinstance(node, TypeName):
        yield node.type
    elif isinstance(node, And | Or):
        for term in node.terms:
            yield from type_names(term)


def attribute_names(node: Node | None) -> Iterator[str]:
    """The attributes a q expression reads (top-level names, expanded)."""
    if isinstance(node, Comparison | Exists):
        yield node.path.attribute
    elif isinstance(node, And | Or):
        for term in node.terms:
            yield from attribute_names(term)


def restrict_query(query: EntityQuery, view: CatalogView) -> EntityQuery:
    """The query limited to the view's types; NotPublished when it names anything else.

    Without a type, the query covers every readable type. A type expression may only name readable
    types (an AND of two types is allowed: its result is still inside the view). Filtering, sorting
    or projecting on a withheld attribute is refused, so a filter cannot reveal a withheld value.
    """
    if not view.types:
        raise NotPublished("No dataset readable without access to this tenant is published here")
    selectors = query.selectors or ()
    named = set(type_names(query.types))
    for selector in selectors:
        named.update(type_names(selector.types))
    outside = sorted(named - view.types.keys())
    if outside:
        raise NotPublished(f"Entity type {outside[0]!r} is not published for this reader")
    types = query.types
    if types is None and not selectors:
        ordered = sorted(view.types)
        types = TypeName(ordered[0]) if len(ordered) == 1 else Or(tuple(TypeName(t) for t in ordered))
    elif any(selector.types is None for selector in selectors):
        raise NotPublished("Every entity selector must name a published entity type")
    if view.withheld:
        touched = set(attribute_names(query.q))
        touched.update(key.target.attribute for key in query.order_by if isinstance(key.target, AttributePath))
        if query.geo is not None:
            touched.add(query.geo.geoproperty)
        refuse_withheld([*touched, *(query.attrs or ())], view)
    return dataclasses.replace(query, types=types)


def refuse_withheld(names: Iterable[str], view: CatalogView) -> None:
    """WithheldAttribute (403) when any of the attributes named is withheld from the reader."""
    blocked = sorted(set(names) & view.withheld)
    if blocked:
        raise WithheldAttribute(f"Attribute {blocked[0]!r} is withheld by the publisher")


def withhold(entity: Entity, view: CatalogView) -> Entity:
    """The entity without the attributes withheld from any of its types (a copy when something is dropped)."""
    withheld: frozenset[str] = frozenset().union(*(view.types.get(t, frozenset()) for t in entity.get("type", ())))
    attrs = entity.get("attrs") or {}
    if not withheld or not withheld & attrs.keys():
        return entity
    return {**entity, "attrs": {name: value for name, value in attrs.items() if name not in withheld}}

