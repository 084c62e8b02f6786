"""Subscriptions (GS CIM 009 5.2.12, 5.8.1-5.8.3): create and patch into the stored form, status, compile.

The stored form is a plain dict (BSON-friendly: str, numbers, bool, list, dict, datetime) that the store
keeps as is and `render_subscription` (subscription_render.py) turns back into the client's payload:

    {
      "id": "urn:ngsi-ld:Subscription:1", "type": "Subscription",
      "entities": [{"idPattern": "urn:ngsi-ld:Building:.*",
                    "type": "Building", "typeExpanded": ["https://ex.org/Building"]}],  # text + its names
      "watchedAttributes": ["https://ex.org/temperature"],                             # expanded
      "notificationTrigger": ["attributeCreated", "attributeUpdated"],                 # default kept
      "q": "temperature>20", "qExpanded": [["temperature", "https://ex.org/temperature"]],
      "geoQ": {"georel": "near;maxDistance==100", "geometry": "Point", "coordinates": [135.5, 34.7],
               "geoproperty": "https://uri.etsi.org/ngsi-ld/location"},                # geoproperty expanded
      "isActive": True, "expiresAt": datetime,
      "notification": {"attributes": [<expanded>], "format": "normalized", "sysAttrs": False,
                       "showChanges": False,
                       "endpoint": {"uri": "http://rx/notify", "accept": "application/json"},
                       # written by the delivery code, never by the client (status is derived
                       # when rendered: delivery_status):
                       "timesSent": 3, "lastNotification": datetime, "lastSuccess": datetime, ...},
      "context": <the creating request's @context>, "createdAt": datetime, "modifiedAt": datetime,
      "status": "active", "defaulted": ["isActive", "notification.format", ...],
      "index": {"types": ["https://ex.org/Building"], "attributes": ["https://ex.org/temperature"]},
    }

`index` serves candidate lookup on every entity write: "*" stands for "any type" (no `entities`, or a
`*` selector) and "any attribute" (no watchedAttributes); the compiled subscription decides exactly.

Decisions where the spec is loose:
- Names inside q and type expressions are recorded with their expansion at write time (`qExpanded`,
  `typeExpanded`), so a PATCH under another @context keeps every member's meaning and
  `compile_subscription` does not depend on which @context reads it. `context` stays the creating
  request's (notifications are compacted with it unless `jsonldContext` is given).
- Defaults (isActive, notification.format/sysAttrs/showChanges, endpoint.accept) are stored, so that
  readers see effective values; `defaulted` lists them so that GET returns only what the client sent
  (7.2, 11.1). `notificationTrigger` is the exception: its default is returned on GET (5.2.12).
- `format` keeps the client's token ("simplified" stays "simplified"); compile maps it to keyValues.
- PATCH (5.8.3) replaces top-level members and merges `notification` and `notification.endpoint`
  member by member; JSON null or "urn:ngsi-ld:null" removes a member, a mandatory one is 400. An
  expiresAt in the fragment must be in the future; a stored past one is kept (the subscription stays
  expired until a PATCH moves it).
- Status: "expired" wins over "paused" (5.8.3: isActive=false does not pause an expired subscription).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from broker.ngsild.context import TermMap
from broker.ngsild.errors import BadRequestData, InvalidRequest
from broker.ngsild.geoquery import parse_geo_query
from broker.ngsild.names import require_entity_id
from broker.ngsild.params import RenderOptions
from broker.ngsild.q import parse_q
from broker.ngsild.query_ast import EntityQuery, EntitySelector
from broker.ngsild.scopeq import parse_scope_q
from broker.ngsild.subscription_members import (
    DELIVERY_MEMBERS,
    DERIVED_MEMBERS,
    FORMATS,
    REMOVE,
    SUBSCRIPTION_MEMBERS,
    SUBSCRIPTION_TYPE,
    MemberParser,
    replay_terms,
    type_names,
)
from broker.ngsild.typeexpr import parse_type_expression

DEFAULT_TRIGGERS = ("attributeCreated", "attributeUpdated")
#: defaults stored with the subscription (and listed in `defaulted`, so GET leaves them out)
DEFAULTS: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("isActive",), True),
    (("notification", "format"), "normalized"),
    (("notification", "sysAttrs"), False),
    (("notification", "showChanges"), False),
    (("notification", "endpoint", "accept"), "application/json"),
)
#: stored members recomputed on every write
_COMPUTED = frozenset({"status", "modifiedAt", "defaulted", "index"})
#: members a PATCH merges member by member instead of replacing
_NESTED = frozenset({((), "notification"), (("notification",), "endpoint")})


def parse_subscription(body: Any, terms: TermMap, *, now: datetime, context: Any) -> dict[str, Any]:
    """The stored form of a POST /subscriptions body (5.8.1); invalid content is BadRequestData.

    `context` is the request's @context value, kept to compact notifications and re-read names.
    """
    members = _require_object(body)
    if not members:
        raise BadRequestData("The subscription is empty: 'type' and 'notification' are mandatory")
    if "type" not in members:
        raise BadRequestData("'type' is mandatory and must be \"Subscription\"")
    _check_type(members["type"])
    subscription_id = (require_entity_id(members["id"], "id") if "id" in members
                       else f"urn:ngsi-ld:Subscription:{uuid.uuid4()}")
    client = MemberParser(terms, now, patch=False).parse(members)
    _check_whole(client)
    stored = {"id": subscription_id, "type": SUBSCRIPTION_TYPE, **client, "context": context, "createdAt": now}
    return _finish(stored, now)


def apply_subscription_patch(stored: dict[str, Any], body: Any, terms: TermMap, *, now: datetime,
                             context: Any) -> dict[str, Any]:
    """The stored form after a PATCH /subscriptions/{id} fragment (5.8.3), re-validated as a whole.

    Names in the fragment are expanded with `terms` (the PATCH request's). `context`, the PATCH
    request's @context value, is not stored: the creating request's stays (see the module docstring).
    """
    del context
    members = _require_object(body)
    if "id" in members and members["id"] != stored["id"]:
        raise BadRequestData(f"'id' {members['id']!r} does not match the subscription {stored['id']!r}: "
                             "the id of a subscription cannot change")
    if "type" in members:
        _check_type(members["type"])
    fragment = MemberParser(terms, now, patch=True).parse(members)
    if not fragment:
        raise BadRequestData("The fragment holds no subscription member to update")
    client, internals, delivery = _split(stored)
    _merge(client, fragment, ())
    _check_whole(client)
    client["notification"].update(delivery)
    return _finish({"id": stored["id"], "type": SUBSCRIPTION_TYPE, **client, **internals}, now)


def delivery_status(notification: dict[str, Any]) -> str | None:
    """notification.status (5.2.14): "failed" when the latest attempt failed, else "ok"; None before any.

    Derived from lastSuccess and lastFailure, which only ever move forward ($max), rather than stored:
    replicas write their outcomes in any order. An attempt that failed in the same millisecond as
    one that succeeded counts as "ok"; a status stored by earlier versions is ignored."""
    success, failure = notification.get("lastSuccess"), notification.get("lastFailure")
    if success is None and failure is None:
        return None
    return "failed" if failure is not None and (success is None or _aware(failure) > _aware(success)) else "ok"


def subscription_status(stored: dict[str, Any], now: datetime) -> str:
    """ "expired" once expiresAt is reached, else "paused" if not isActive, else "active" (5.2.12, 5.8.3)."""
    expires_at = stored.get("expiresAt")
    if expires_at is not None and _aware(expires_at) <= _aware(now):
        return "expired"
    if not stored.get("isActive", True):
        return "paused"
    return "active"


@dataclass(frozen=True)
class CompiledSubscription:
    """What the notification matcher needs, parsed once per stored subscription."""

    id: str
    query: EntityQuery
    """Which entities the subscription is about: its selectors (empty = any entity), q, scopeQ and
    geoQ; the same query serves change matching (matches_query) and periodic notifications."""
    watched: frozenset[str] | None
    """Expanded watched attribute names; None = every attribute."""
    triggers: frozenset[str]
    render: RenderOptions
    """The notification data's representation: format, sysAttrs, attributes, pick/omit, lang, datasetId."""
    show_changes: bool
    throttling: float | None
    time_interval: float | None
    is_active: bool
    expires_at: datetime | None


def compile_subscription(stored: dict[str, Any], terms: TermMap) -> CompiledSubscription:
    """Parse the stored texts (types, q, scopeQ, geoQ) into ASTs, once, for matching and notifying.

    Names recorded at write time expand as recorded; `terms` (the subscription's @context) expands
    anything that was not recorded.
    """
    selectors = []
    for selector in stored.get("entities", ()):
        names = dict(zip(type_names(selector["type"]), selector.get("typeExpanded", ()), strict=False))
        selectors.append(EntitySelector(
            types=parse_type_expression(selector["type"], replay_terms(names, terms), "entities.type"),
            ids=(selector["id"],) if selector.get("id") else (), id_pattern=selector.get("idPattern")))
    q, scope_q, geo_q = stored.get("q"), stored.get("scopeQ"), stored.get("geoQ")
    notification = stored["notification"]
    watched = stored.get("watchedAttributes")
    render = RenderOptions(
            format=FORMATS[notification.get("format", "normalized")],
            sys_attrs=bool(notification.get("sysAttrs", False)),
            lang=stored.get("lang"),
            attrs=_frozen(notification.get("attributes")),
            pick=_frozen(notification.get("pick")),
            omit=_frozen(notification.get("omit")),
            dataset_id=_frozen(stored.get("datasetId")),
    )
    query = EntityQuery(
        selectors=tuple(selectors),
        q=parse_q(q, replay_terms(dict(stored.get("qExpanded", ())), terms)) if q is not None else None,
        scope_q=parse_scope_q(scope_q) if scope_q is not None else None,
        geo=(parse_geo_query(geo_q["georel"], geo_q["geometry"], geo_q["coordinates"], geo_q.get("geoproperty"),
                             terms) if geo_q is not None else None),
        render=render,
        limit=1000,
    )
    return CompiledSubscription(
        id=stored["id"],
        query=query,
        watched=frozenset(watched) if watched else None,
        triggers=frozenset(stored.get("notificationTrigger", DEFAULT_TRIGGERS)),
        render=render,
        show_changes=bool(notification.get("showChanges", False)),
        throttling=stored.get("throttling"),
        time_interval=stored.get("timeInterval"),
        is_active=bool(stored.get("isActive", True)),
        expires_at=stored.get("expiresAt"),
    )


# --- the whole subscription ---------------------------------------------------------------------


def _check_whole(client: dict[str, Any]) -> None:
    """The rules that tie members together, on the client's members (before defaults)."""
    notification = client.get("notification")
    if notification is None:
        raise BadRequestData("'notification' is mandatory")
    endpoint = notification.get("endpoint")
    if endpoint is None:
        raise BadRequestData("'notification.endpoint' is mandatory")
    if "uri" not in endpoint:
        raise BadRequestData("'notification.endpoint.uri' is mandatory")
    if "entities" not in client and "watchedAttributes" not in client:
        raise BadRequestData("At least one of 'entities' and 'watchedAttributes' is required")
    if "timeInterval" in client:
        for other in ("watchedAttributes", "throttling"):
            if other in client:
                raise BadRequestData(f"'timeInterval' (periodic notification) cannot be combined with '{other}'")
    if notification.get("showChanges") is True and FORMATS[notification.get("format", "normalized")] == "keyValues":
        raise BadRequestData("'notification.showChanges' cannot be used with the keyValues format: "
                             "previous values need the normalized or concise format")
    projections = [name for name in ("attributes", "pick", "omit") if name in notification]
    if len(projections) > 1:
        raise BadRequestData(f"'notification.{projections[0]}' and 'notification.{projections[1]}' cannot be "
                             "used together")


def _finish(stored: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Apply the defaults, then recompute what derives from the members."""
    defaulted = []
    for path, default in DEFAULTS:
        parent = stored
        for key in path[:-1]:
            parent = parent[key]
        if path[-1] not in parent:
            parent[path[-1]] = default
            defaulted.append(".".join(path))
    stored.setdefault("notificationTrigger", list(DEFAULT_TRIGGERS))
    stored["modifiedAt"] = now
    stored["status"] = subscription_status(stored, now)
    stored["defaulted"] = defaulted
    stored["index"] = _index(stored)
    return stored


def _index(stored: dict[str, Any]) -> dict[str, list[str]]:
    types: list[str] = []
    for selector in stored.get("entities", ()):
        for name in selector["typeExpanded"] or ["*"]:
            if name not in types:
                types.append(name)
    return {"types": types or ["*"], "attributes": list(dict.fromkeys(stored.get("watchedAttributes", ["*"])))}


def _split(stored: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Copies of (the client's members without defaults, the other stored members, delivery status)."""
    client: dict[str, Any] = {}
    internals: dict[str, Any] = {}
    for key, value in stored.items():
        if key in ("id", "type") or key in _COMPUTED:
            continue
        if key in SUBSCRIPTION_MEMBERS or key in DERIVED_MEMBERS.values():
            client[key] = copy.deepcopy(value)
        else:
            internals[key] = copy.deepcopy(value)  # context, createdAt, and what the store keeps there
    notification = client.get("notification", {})
    delivery = {key: notification.pop(key) for key in DELIVERY_MEMBERS if key in notification}
    for path in stored.get("defaulted", ()):
        parent: Any = client
        *parents, last = path.split(".")
        for key in parents:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(last, None)
    return client, internals, delivery


def _merge(target: dict[str, Any], fragment: dict[str, Any], path: tuple[str, ...]) -> None:
    """Merge a parsed fragment: members replace, REMOVE deletes, notification and endpoint merge."""
    for key, value in fragment.items():
        nested = (path, key) in _NESTED
        if value is REMOVE:
            target.pop(key, None)
        elif nested and isinstance(target.get(key), dict):
            _merge(target[key], value, (*path, key))
        elif nested:
            target[key] = {name: item for name, item in value.items() if item is not REMOVE}
        else:
            target[key] = value


# --- helpers ------------------------------------------------------------------------------------


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest(f"A subscription must be a JSON object, got {type(body).__name__}")
    # an application/ld+json body's own @context: the caller has read it and passes it as `context`
    return {key: value for key, value in body.items() if key != "@context"}


def _check_type(value: Any) -> None:
    if value != SUBSCRIPTION_TYPE:
        raise BadRequestData(f"'type' must be \"Subscription\", got {value!r}")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _frozen(names: list[str] | None) -> frozenset[str] | None:
    return frozenset(names) if names else None
