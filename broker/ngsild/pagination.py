"""Pagination links for query results (GS CIM 009 5.5.9, 6.3.13): relative, sorted, unencoded."""

from __future__ import annotations

from collections.abc import Mapping


def _link(path: str, params: Mapping[str, str], offset: int, rel: str, media: str) -> str:
    query = {**params, "offset": str(offset)}
    encoded = "&".join(f"{name}={query[name]}" for name in sorted(query))
    return f'<{path}?{encoded}>; rel="{rel}"; type="{media}"'


def pagination_links(path: str, params: Mapping[str, str], *, offset: int, limit: int, has_next: bool,
                     media: str) -> list[str]:
    """`prev` when offset > 0, `next` when more items remain; none at the edges or with limit 0."""
    if limit == 0:
        return []
    links = []
    if offset > 0:
        links.append(_link(path, params, max(offset - limit, 0), "prev", media))
    if has_next:
        links.append(_link(path, params, offset + limit, "next", media))
    return links
