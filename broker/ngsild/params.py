"""Parsing the representation query parameters of entity reads (GS CIM 009 6.3.7, 6.3.20, 4.15, 4.21)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from broker.ngsild.context import TermMap
from broker.ngsild.errors import BadRequestData, InvalidRequest
from broker.ngsild.names import is_uri, is_valid_name

Format = Literal["normalized", "keyValues", "concise"]

#: representation tokens, in `options` and `format` alike ("simplified" is keyValues, 4.5.4)
_FORMATS: dict[str, Format] = {
    "normalized": "normalized",
    "keyValues": "keyValues",
    "simplified": "keyValues",
    "concise": "concise",
}
#: option tokens that belong to write operations (6.3.7): accepted here, ignored
_WRITE_OPTIONS = frozenset({"noOverwrite", "update", "replace", "append"})
SYS_ATTRS = "sysAttrs"

#: entity members that pick/omit name literally: they are not attributes, so never expanded
ENTITY_MEMBER_NAMES = frozenset({"id", "type", "scope"})

#: pick and omit accept "|" as well as "," between names (4.21)
_PROJECTION_SEPARATORS = re.compile(r"[,|]")

#: one language range of `lang` (4.15): "*" or a BCP 47 tag, then an optional q-value (RFC 9110 12.4.2)
_LANG_ITEM = re.compile(
    r"^\s*(?:\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)\s*(?:;\s*[qQ]\s*=\s*(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*)?$"
)


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """How a response renders entities: representation, system attributes, language and projection."""

    format: Format = "normalized"
    sys_attrs: bool = False
    lang: str | None = None              # raw lang parameter, e.g. "fr-CH,fr;q=0.8" or "*"
    attrs: frozenset[str] | None = None  # expanded attribute names to keep (None = all)
    pick: frozenset[str] | None = None   # expanded attribute names and/or "id", "type", "scope" to keep
    omit: frozenset[str] | None = None   # expanded attribute names and/or "id", "type", "scope" to drop
    dataset_id: frozenset[str] | None = None  # keep only these instances ("@none" = the default instance)


def parse_render_options(query: Mapping[str, str], terms: TermMap) -> RenderOptions:
    """Read the representation parameters of a request; other parameters are left to their parsers.

    Unknown `options`/`format` tokens are InvalidRequest (6.3.20); bad names, more than one of
    attrs/pick/omit, a malformed `lang` or `datasetId` are BadRequestData.
    """
    format_, sys_attrs = _parse_options(query.get("options"))
    format_param = query.get("format")
    if format_param is not None:
        if format_param not in _FORMATS:
            raise InvalidRequest(f"Unknown format {format_param!r}: use normalized, keyValues or concise")
        format_ = _FORMATS[format_param]  # format beats options (6.3.20)

    given = [name for name in ("attrs", "pick", "omit") if query.get(name) is not None]
    if len(given) > 1:
        raise BadRequestData(f"The parameters {' and '.join(given)} cannot be used together (4.21)")

    lang = query.get("lang")
    if lang is not None:
        _check_lang(lang)

    return RenderOptions(
        format=format_ or "normalized",
        sys_attrs=sys_attrs,
        lang=lang,
        attrs=_parse_names(query.get("attrs"), "attrs", terms),
        pick=_parse_names(query.get("pick"), "pick", terms),
        omit=_parse_names(query.get("omit"), "omit", terms),
        dataset_id=_parse_dataset_ids(query.get("datasetId")),
    )


def _parse_options(raw: str | None) -> tuple[Format | None, bool]:
    if raw is None:
        return None, False
    format_: Format | None = None
    sys_attrs = False
    for token in raw.split(","):
        if token == SYS_ATTRS:
            sys_attrs = True
        elif token in _FORMATS:
            chosen = _FORMATS[token]
            if format_ is not None and format_ != chosen:
                # Orion-LD does the same: two representations in one request contradict each other
                raise BadRequestData(f"options asks for both {format_} and {chosen} representations")
            format_ = chosen
        elif token not in _WRITE_OPTIONS:
            raise InvalidRequest(f"Unknown option {token!r} in options={raw!r}")
    return format_, sys_attrs


#: the longest attrs/pick/omit list accepted: bounds the work one request can ask for
MAX_NAMES = 1000


def parse_attribute_names(raw: str | None, parameter: str, terms: TermMap) -> frozenset[str] | None:
    """A comma list of attribute names (e.g. purge's keep/drop), validated and expanded."""
    return _parse_names(raw, parameter, terms, projection=False)


def _parse_names(raw: str | None, parameter: str, terms: TermMap, *,
                 projection: bool | None = None) -> frozenset[str] | None:
    if raw is None:
        return None
    if projection is None:
        projection = parameter != "attrs"
    items = _PROJECTION_SEPARATORS.split(raw) if projection else raw.split(",")
    if len(items) > MAX_NAMES:
        raise BadRequestData(f"{parameter} lists {len(items)} names; at most {MAX_NAMES} are allowed")
    names = set()
    for item in items:
        if projection and item in ENTITY_MEMBER_NAMES:
            names.add(item)
        elif not item:
            raise BadRequestData(f"{parameter}={raw!r} has an empty item")
        elif not is_valid_name(item):
            raise BadRequestData(f"{parameter}={raw!r}: {item!r} is not a valid attribute name")
        else:
            names.add(terms.expand(item))
    return frozenset(names)


def _check_lang(raw: str) -> None:
    for item in raw.split(","):
        if not _LANG_ITEM.match(item):
            raise BadRequestData(f"lang={raw!r}: {item!r} is not a language tag, '*' or tag;q=value")


def _parse_dataset_ids(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    ids = raw.split(",")
    for dataset_id in ids:
        if dataset_id != "@none" and not is_uri(dataset_id):
            raise BadRequestData(f"datasetId={raw!r}: {dataset_id!r} is not a URI or @none")
    return frozenset(ids)
