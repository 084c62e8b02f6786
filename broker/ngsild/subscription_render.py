"""The GET representation of a stored subscription (GS CIM 009 5.2.12, 5.8.4, 5.8.5).

Exactly the members the client sent, names compacted with the reading request's @context, plus
`status`, `notificationTrigger` (with its default) and, once a notification was attempted, the
delivery status members of `notification` (its `status` derived from the latest outcome). Broker
defaults and internals (`context`, `index`, `qExpanded`, …) never appear; createdAt and modifiedAt
only with sysAttrs (conformance trap 11.1).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from broker.ngsild.context import TermMap
from broker.ngsild.names import format_datetime
from broker.ngsild.params import ENTITY_MEMBER_NAMES
from broker.ngsild.subscription import DEFAULT_TRIGGERS, delivery_status, subscription_status
from broker.ngsild.subscription_members import (
    DELIVERY_OUTCOMES,
    ENDPOINT_MEMBERS,
    NOTIFICATION_MEMBERS,
    SUBSCRIPTION_MEMBERS,
    replace_type_names,
    type_names,
)

_NAME_LISTS = frozenset({"watchedAttributes", "attributes"})
_PROJECTIONS = frozenset({"pick", "omit"})
_TIMES = frozenset({"expiresAt", "lastNotification", "lastSuccess", "lastFailure"})


def render_subscription(stored: dict[str, Any], terms: TermMap, *, now: datetime,
                        sys_attrs: bool = False) -> dict[str, Any]:
    """The subscription as GET returns it, compacted with `terms` (the reading request's term map)."""
    defaulted = frozenset(stored.get("defaulted", ()))
    out: dict[str, Any] = {}
    for name in SUBSCRIPTION_MEMBERS:
        if name in stored and name not in defaulted:
            out[name] = _member(name, stored[name], terms, defaulted)
    out.setdefault("notificationTrigger", list(DEFAULT_TRIGGERS))
    out["status"] = subscription_status(stored, now)
    if sys_attrs:
        for name in ("createdAt", "modifiedAt"):
            if name in stored:
                out[name] = _time(stored[name])
    return out


def _member(name: str, value: Any, terms: TermMap, defaulted: frozenset[str]) -> Any:
    if name == "entities":
        return [_selector(selector, terms) for selector in value]
    if name == "geoQ":
        geo_q = dict(value)
        if "geoproperty" in geo_q:
            geo_q["geoproperty"] = terms.compact(geo_q["geoproperty"])
        return geo_q
    if name == "notification":
        return _notification(value, terms, defaulted)
    return _value(name, value, terms)


def _value(name: str, value: Any, terms: TermMap) -> Any:
    if name in _NAME_LISTS:
        return [terms.compact(iri) for iri in value]
    if name in _PROJECTIONS:
        return [item if item in ENTITY_MEMBER_NAMES else terms.compact(item) for item in value]
    if name in _TIMES:
        return _time(value)
    if isinstance(value, list | dict):
        return _copy(value)
    return value


def _selector(selector: dict[str, Any], terms: TermMap) -> dict[str, Any]:
    out = {key: selector[key] for key in ("id", "idPattern") if key in selector}
    text = selector["type"]
    names = type_names(text)
    expanded = selector.get("typeExpanded", [])
    if len(names) == len(expanded):
        text = replace_type_names(text, {name: terms.compact(iri) for name, iri in zip(names, expanded, strict=True)})
    out["type"] = text
    return out


def _notification(notification: dict[str, Any], terms: TermMap, defaulted: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in NOTIFICATION_MEMBERS:
        if name in notification and f"notification.{name}" not in defaulted:
            if name == "endpoint":
                endpoint = notification[name]
                out[name] = {key: _copy(endpoint[key]) for key in ENDPOINT_MEMBERS
                             if key in endpoint and f"notification.endpoint.{key}" not in defaulted}
            else:
                out[name] = _value(name, notification[name], terms)
    for name in DELIVERY_OUTCOMES:
        if name in notification:
            out[name] = _value(name, notification[name], terms)
    status = delivery_status(notification)
    if status is not None:
        out["status"] = status
    return out


def _time(value: datetime | str) -> str:
    return format_datetime(value) if isinstance(value, datetime) else value


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    return value
