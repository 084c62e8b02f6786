"""Pagination Link values (6.3.13): relative path, sorted parameters, rel and type, absent at edges."""

from __future__ import annotations

import pytest

from broker.ngsild.pagination import pagination_links

PATH = "/ngsi-ld/v1/entities"


@pytest.mark.parametrize(("offset", "limit", "has_next", "expected"), [
    (0, 1, False, []),
    (0, 1, True, [f'<{PATH}?count=true&idPattern=urn:ngsi-ld:Building:01931.*&limit=1&offset=1&type=Building>; '
                  'rel="next"; type="application/json"']),
    (2, 1, True, [
        f'<{PATH}?count=true&idPattern=urn:ngsi-ld:Building:01931.*&limit=1&offset=1&type=Building>; '
        'rel="prev"; type="application/json"',
        f'<{PATH}?count=true&idPattern=urn:ngsi-ld:Building:01931.*&limit=1&offset=3&type=Building>; '
        'rel="next"; type="application/json"']),
    (1, 5, False, [f'<{PATH}?count=true&idPattern=urn:ngsi-ld:Building:01931.*&limit=5&offset=0&type=Building>; '
                   'rel="prev"; type="application/json"']),
    (0, 0, True, []),
])
def test_links_appear_only_where_there_is_a_page(offset, limit, has_next, expected):
    params = {"type": "Building", "idPattern": "urn:ngsi-ld:Building:01931.*", "count": "true",
              "limit": str(limit), "offset": str(offset)}
    assert pagination_links(PATH, params, offset=offset, limit=limit, has_next=has_next,
                            media="application/json") == expected
