"""Subscription payloads: stored form, GET round trip, validation, PATCH semantics, status, compile (5.2.12, 5.8)."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from broker.ngsild.context import compile_term_map, core_context_document, core_term_map
from broker.ngsild.errors import BadRequestData, InvalidRequest, NgsiLdError, OperationNotSupported
from broker.ngsild.params import RenderOptions
from broker.ngsild.query_ast import (
    And,
    AttributePath,
    Comparison,
    EntityQuery,
    EntitySelector,
    GeoQuery,
    Or,
    ScopeMatch,
    TypeName,
)
from broker.ngsild.subscription import (
    CompiledSubscription,
    apply_subscription_patch,
    compile_subscription,
    delivery_status,
    parse_subscription,
    subscription_status,
)
from broker.ngsild.subscription_render import render_subscription

CORE = core_term_map()
EX = "https://example.org/"
USER = compile_term_map(
    [{
        "ex": EX,
        "Building": "ex:Building",
        "Vehicle": "ex:Vehicle",
        "temperature": "ex:temperature",
        "humidity": "ex:humidity",
    }],
    core_context_document()["@context"],
)
USER_CONTEXT = "https://context.example.org/kyodo.jsonld"
D = "https://uri.etsi.org/ngsi-ld/default-context/"
NGSI = "https://uri.etsi.org/ngsi-ld/"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
SUB_ID = "urn:ngsi-ld:Subscription:1"
ENDPOINT = {"uri": "http://receiver.example/notify"}
DEFAULTED = ["isActive", "notification.format", "notification.sysAttrs", "notification.showChanges",
             "notification.endpoint.accept"]
MINIMAL: dict[str, Any] = {
    "id": SUB_ID,
    "type": "Subscription",
    "entities": [{"type": "Building"}],
    "notification": {"endpoint": ENDPOINT},
}
FULL: dict[str, Any] = {
    "id": SUB_ID,
    "type": "Subscription",
    "subscriptionName": "Hot buildings",
    "description": "Buildings above 30 degrees",
    "entities": [{"type": "Building", "idPattern": "urn:ngsi-ld:Building:.*"},
                 {"type": "(Building;Vehicle)|Car", "id": "urn:ngsi-ld:Car:1"}],
    "watchedAttributes": ["temperature", "humidity"],
    "notificationTrigger": ["attributeUpdated", "entityDeleted"],
    "q": "temperature>30;humidity==1",
    "geoQ": {"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": [135.5, 34.7],
             "geoproperty": "location"},
    "scopeQ": "/Osaka/#",
    "lang": "ja,en;q=0.5",
    "isActive": True,
    "expiresAt": "2030-01-01T00:00:00.000Z",
    "throttling": 5,
    "datasetId": ["urn:ngsi-ld:Dataset:a", "@none"],
    "jsonldContext": "https://context.example.org/notify.jsonld",
    "notification": {
        "attributes": ["temperature"],
        "sysAttrs": True,
        "format": "concise",
        "showChanges": True,
        "endpoint": {
            "uri": "https://receiver.example/notify",
            "accept": "application/ld+json",
            "timeout": 2.5,
            "cooldown": 0,
            "receiverInfo": [{"key": "X-Auth-Token", "value": "secret"}],
            "notifierInfo": [{"key": "note", "value": "anything"}],
        },
    },
}


def parse(body: Any, terms: Any = USER, now: datetime = NOW) -> dict[str, Any]:
    return parse_subscription(copy.deepcopy(body), terms, now=now, context=USER_CONTEXT)


def patch(stored: dict[str, Any], fragment: Any, terms: Any = USER, now: datetime = LATER) -> dict[str, Any]:
    return apply_subscription_patch(stored, copy.deepcopy(fragment), terms, now=now, context=None)


def changed(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `body` with the member at a dotted path set to `value` (or removed with DROP)."""
    result = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = result
    for key in parents:
        target = target[key]
    if value is DROP:
        del target[last]
    else:
        target[last] = value
    return result


DROP = object()


# ---- stored form --------------------------------------------------------------------------------


def test_minimal_subscription_is_stored_expanded_with_defaults_and_index() -> None:
    assert parse(MINIMAL) == {
        "id": SUB_ID,
        "type": "Subscription",
        "entities": [{"type": "Building", "typeExpanded": [EX + "Building"]}],
        "isActive": True,
        "notification": {"endpoint": {"uri": "http://receiver.example/notify", "accept": "application/json"},
                         "format": "normalized", "sysAttrs": False, "showChanges": False},
        "notificationTrigger": ["attributeCreated", "attributeUpdated"],
        "context": USER_CONTEXT,
        "createdAt": NOW,
        "modifiedAt": NOW,
        "status": "active",
        "defaulted": DEFAULTED,
        "index": {"types": [EX + "Building"], "attributes": ["*"]},
    }


def test_full_subscription_stored_form_expands_every_name() -> None:
    assert parse(FULL) == {
        "id": SUB_ID,
        "type": "Subscription",
        "subscriptionName": "Hot buildings",
        "description": "Buildings above 30 degrees",
        "entities": [
            {"idPattern": "urn:ngsi-ld:Building:.*", "type": "Building", "typeExpanded": [EX + "Building"]},
            {"id": "urn:ngsi-ld:Car:1", "type": "(Building;Vehicle)|Car",
             "typeExpanded": [EX + "Building", EX + "Vehicle", D + "Car"]},
        ],
        "watchedAttributes": [EX + "temperature", EX + "humidity"],
        "notificationTrigger": ["attributeUpdated", "entityDeleted"],
        "q": "temperature>30;humidity==1",
        "qExpanded": [["temperature", EX + "temperature"], ["humidity", EX + "humidity"]],
        "geoQ": {"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": [135.5, 34.7],
                 "geoproperty": NGSI + "location"},
        "scopeQ": "/Osaka/#",
        "lang": "ja,en;q=0.5",
        "isActive": True,
        "expiresAt": datetime(2030, 1, 1, tzinfo=UTC),
        "throttling": 5,
        "datasetId": ["urn:ngsi-ld:Dataset:a", "@none"],
        "jsonldContext": "https://context.example.org/notify.jsonld",
        "notification": {
            "attributes": [EX + "temperature"],
            "sysAttrs": True,
            "format": "concise",
            "showChanges": True,
            "endpoint": {
                "uri": "https://receiver.example/notify",
                "accept": "application/ld+json",
                "timeout": 2.5,
                "cooldown": 0,
                "receiverInfo": [{"key": "X-Auth-Token", "value": "secret"}],
                "notifierInfo": [{"key": "note", "value": "anything"}],
            },
        },
        "context": USER_CONTEXT,
        "createdAt": NOW,
        "modifiedAt": NOW,
        "status": "active",
        "defaulted": [],
        "index": {"types": [EX + "Building", EX + "Vehicle", D + "Car"],
                  "attributes": [EX + "temperature", EX + "humidity"]},
    }


def test_absent_id_is_generated_as_a_subscription_urn() -> None:
    stored = parse(changed(MINIMAL, "id", DROP))
    assert re.fullmatch(r"urn:ngsi-ld:Subscription:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}",
                        stored["id"])
    assert parse(changed(MINIMAL, "id", DROP))["id"] != stored["id"]


@pytest.mark.parametrize(("case", "body", "index"), [
    ("watchedAttributes only: any type",
     {"type": "Subscription", "watchedAttributes": ["temperature"], "notification": {"endpoint": ENDPOINT}},
     {"types": ["*"], "attributes": [EX + "temperature"]}),
    ("a * selector: any type",
     {"type": "Subscription", "entities": [{"type": "Building"}, {"type": "*"}],
      "notification": {"endpoint": ENDPOINT}},
     {"types": [EX + "Building", "*"], "attributes": ["*"]}),
    ("types named twice are indexed once",
     {"type": "Subscription", "entities": [{"type": "Building|Vehicle"}, {"type": "Vehicle"}],
      "watchedAttributes": ["humidity", "humidity"], "notification": {"endpoint": ENDPOINT}},
     {"types": [EX + "Building", EX + "Vehicle"], "attributes": [EX + "humidity"]}),
])
def test_index_lists_expanded_types_and_watched_attributes_or_star(case: str, body: dict[str, Any],
                                                                  index: dict[str, Any]) -> None:
    assert parse(body)["index"] == index, case


def test_read_only_members_and_the_body_context_are_ignored() -> None:
    body = {**MINIMAL, "@context": USER_CONTEXT, "status": "expired", "createdAt": "2020-01-01T00:00:00Z",
            "modifiedAt": "x", "timesSent": 9,
            "notification": {"endpoint": ENDPOINT, "status": "failed", "timesSent": 3, "timesFailed": 1,
                             "lastNotification": "x", "lastSuccess": "y", "lastFailure": "z"}}
    assert parse(body) == parse(MINIMAL)


# ---- GET: the round trip -------------------------------------------------------------------------

ROUND_TRIPS: list[tuple[str, dict[str, Any]]] = [
    ("minimal", MINIMAL),
    ("every member", FULL),
    ("periodic", {**MINIMAL, "timeInterval": 60}),
    ("watchedAttributes without entities",
     {"id": SUB_ID, "type": "Subscription", "watchedAttributes": ["temperature"],
      "notification": {"endpoint": ENDPOINT}}),
    ("paused", {**MINIMAL, "isActive": False}),
    ("keyValues via simplified", {**MINIMAL, "notification": {"format": "simplified", "endpoint": ENDPOINT}}),
    ("pick with entity members", {**MINIMAL, "notification": {"pick": ["id", "temperature"], "endpoint": ENDPOINT}}),
    ("omit", {**MINIMAL, "notification": {"omit": ["scope", "humidity"], "sysAttrs": False, "endpoint": ENDPOINT}}),
    ("join", {**MINIMAL, "notification": {"join": "inline", "joinLevel": 2, "endpoint": ENDPOINT}}),
    ("mqtt endpoint", {**MINIMAL, "notification": {"endpoint": {
        "uri": "mqtts://user:pw@broker.example:8883/kyodo/notify",
        "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}, {"key": "MQTT-Version", "value": "mqtt5.0"}]}}}),
    ("explicit defaults are kept", {**MINIMAL, "isActive": True, "notificationTrigger": ["attributeCreated",
                                                                                         "attributeUpdated"],
                                    "notification": {"format": "normalized", "sysAttrs": False, "showChanges": False,
                                                     "endpoint": {**ENDPOINT, "accept": "application/json"}}}),
    ("type expression with spaces and a full IRI",
     {**MINIMAL, "entities": [{"type": "Building | https://other.example/Tower"}]}),
    ("geoQ without geoproperty, coordinates as text",
     {**MINIMAL, "geoQ": {"georel": "within", "geometry": "Polygon",
                          "coordinates": "[[[0,0],[1,0],[1,1],[0,0]]]"}}),
]


@pytest.mark.parametrize(("case", "body"), ROUND_TRIPS, ids=[case for case, _ in ROUND_TRIPS])
def test_get_returns_the_input_plus_status_and_notification_trigger(case: str, body: dict[str, Any]) -> None:
    expected = copy.deepcopy(body)
    expected.setdefault("notificationTrigger", ["attributeCreated", "attributeUpdated"])
    expected["status"] = "paused" if body.get("isActive") is False else "active"
    assert render_subscription(parse(body), USER, now=NOW) == expected


def test_get_compacts_names_with_the_reading_context_type_by_type() -> None:
    body = {**MINIMAL, "entities": [{"type": "(Building;Vehicle)|Car"}], "watchedAttributes": ["temperature"],
            "geoQ": {"georel": "intersects", "geometry": "Point", "coordinates": [1, 2], "geoproperty": "temperature"},
            "notification": {"attributes": ["humidity"], "endpoint": ENDPOINT}}
    assert render_subscription(parse(body), CORE, now=NOW) == {
        "id": SUB_ID,
        "type": "Subscription",
        "entities": [{"type": f"({EX}Building;{EX}Vehicle)|Car"}],
        "watchedAttributes": [EX + "temperature"],
        "notificationTrigger": ["attributeCreated", "attributeUpdated"],
        "geoQ": {"georel": "intersects", "geometry": "Point", "coordinates": [1, 2],
                 "geoproperty": EX + "temperature"},
        "notification": {"attributes": [EX + "humidity"], "endpoint": ENDPOINT},
        "status": "active",
    }


def test_get_shows_delivery_status_once_set_and_system_times_only_with_sys_attrs() -> None:
    stored = parse(MINIMAL)
    stored["notification"].update({"status": "failed", "timesSent": 2, "timesFailed": 1,
                                   "lastNotification": datetime(2026, 3, 1, 12, 30, 0, 250000, tzinfo=UTC),
                                   "lastSuccess": datetime(2026, 3, 1, 12, 20, tzinfo=UTC),
                                   "lastFailure": datetime(2026, 3, 1, 12, 30, 0, 250000, tzinfo=UTC)})
    assert render_subscription(stored, USER, now=NOW, sys_attrs=True) == {
        "id": SUB_ID,
        "type": "Subscription",
        "entities": [{"type": "Building"}],
        "notificationTrigger": ["attributeCreated", "attributeUpdated"],
        "notification": {"endpoint": ENDPOINT, "status": "failed", "timesSent": 2, "timesFailed": 1,
                         "lastNotification": "2026-03-01T12:30:00.250Z", "lastSuccess": "2026-03-01T12:20:00.000Z",
                         "lastFailure": "2026-03-01T12:30:00.250Z"},
        "status": "active",
        "createdAt": "2026-03-01T12:00:00.000Z",
        "modifiedAt": "2026-03-01T12:00:00.000Z",
    }


def test_get_status_is_computed_at_read_time() -> None:
    stored = parse({**MINIMAL, "expiresAt": "2026-03-01T12:30:00Z"})
    assert render_subscription(stored, USER, now=NOW)["status"] == "active"
    assert render_subscription(stored, USER, now=LATER)["status"] == "expired"


def test_get_renders_expires_at_with_milliseconds() -> None:
    stored = parse({**MINIMAL, "expiresAt": "2030-01-01T00:00:00Z"})
    assert render_subscription(stored, USER, now=NOW)["expiresAt"] == "2030-01-01T00:00:00.000Z"


def test_rendering_does_not_share_mutable_values_with_the_stored_form() -> None:
    stored = parse(FULL)
    rendered = render_subscription(stored, USER, now=NOW)
    rendered["notification"]["endpoint"]["receiverInfo"][0]["value"] = "changed"
    rendered["datasetId"].append("x")
    assert stored == parse(FULL)


# ---- validation ---------------------------------------------------------------------------------

VALID = {**MINIMAL, "watchedAttributes": ["temperature"]}
BAD: list[tuple[str, Any, type[NgsiLdError], str]] = [
    # (case, body, error, a fragment of the detail)
    ("array body", [MINIMAL], InvalidRequest, "must be a JSON object"),
    ("string body", "Subscription", InvalidRequest, "must be a JSON object"),
    ("empty object", {}, BadRequestData, "empty"),
    ("no type", changed(VALID, "type", DROP), BadRequestData, "'type' is mandatory"),
    ("wrong type", changed(VALID, "type", "Entity"), BadRequestData, "'type' must be \"Subscription\""),
    ("unknown member", changed(VALID, "color", "red"), BadRequestData,
     "Unknown member 'color': allowed are id, type, subscriptionName"),
    ("csf", changed(VALID, "csf", "a==1"), OperationNotSupported, "csf"),
    ("id not a URI", changed(VALID, "id", "not a uri"), BadRequestData, "'id' is not a valid URI"),
    ("id not a string", changed(VALID, "id", 42), BadRequestData, "'id' must be a URI string"),
    ("empty id", changed(VALID, "id", ""), BadRequestData, "'id' must be a URI string"),
    ("null id", changed(VALID, "id", None), BadRequestData, "'id' must be a URI string"),
    ("null member", changed(VALID, "description", None), BadRequestData, "'description' must not be null"),
    ("NGSI-LD Null member", changed(VALID, "description", "urn:ngsi-ld:null"), BadRequestData,
     "'description' must not be NGSI-LD Null"),
    ("name not a string", changed(VALID, "subscriptionName", 5), BadRequestData, "'subscriptionName' must be a string"),
    ("description not a string", changed(VALID, "description", ["x"]), BadRequestData, "'description'"),
    # entities and watchedAttributes
    ("neither entities nor watchedAttributes", changed(MINIMAL, "entities", DROP), BadRequestData,
     "At least one of 'entities' and 'watchedAttributes'"),
    ("entities not an array", changed(VALID, "entities", {"type": "Building"}), BadRequestData,
     "'entities' must be a non-empty array"),
    ("entities empty", changed(VALID, "entities", []), BadRequestData, "'entities' must be a non-empty array"),
    ("selector not an object", changed(VALID, "entities", ["Building"]), BadRequestData, "'entities[0]' must be"),
    ("selector without type", changed(VALID, "entities", [{"id": "urn:a:1"}]), BadRequestData,
     "'entities[0].type' is mandatory"),
    ("selector type not a string", changed(VALID, "entities", [{"type": ["Building"]}]), BadRequestData,
     "'entities[0].type' must be a string"),
    ("selector type expression invalid", changed(VALID, "entities", [{"type": "Building;"}]), BadRequestData,
     "entities[0].type"),
    ("selector type name invalid", changed(VALID, "entities", [{"type": "Bad Name"}]), BadRequestData,
     "entities[0].type"),
    ("selector unknown member", changed(VALID, "entities", [{"type": "Building", "q": "a"}]), BadRequestData,
     "Unknown member 'entities[0].q'"),
    ("selector read-only name", changed(VALID, "entities", [{"type": "Building", "createdAt": "x"}]),
     BadRequestData, "Unknown member 'entities[0].createdAt'"),
    ("selector id not a URI", changed(VALID, "entities", [{"type": "Building", "id": "one"}]), BadRequestData,
     "'entities[0].id' is not a valid URI"),
    ("selector idPattern invalid", changed(VALID, "entities", [{"type": "Building", "idPattern": "urn:(x"}]),
     BadRequestData, "'entities[0].idPattern' 'urn:(x' is not a valid regular expression"),
    ("selector idPattern too long", changed(VALID, "entities", [{"type": "Building", "idPattern": "a" * 257}]),
     BadRequestData, "'entities[0].idPattern' is longer than 256 characters"),
    ("selector idPattern empty", changed(VALID, "entities", [{"type": "Building", "idPattern": ""}]),
     BadRequestData, "'entities[0].idPattern' must be a non-empty regular expression"),
    ("watchedAttributes empty", changed(VALID, "watchedAttributes", []), BadRequestData,
     "'watchedAttributes' must be a non-empty array"),
    ("watchedAttributes a string", changed(VALID, "watchedAttributes", "temperature"), BadRequestData,
     "'watchedAttributes' must be a non-empty array"),
    ("watchedAttributes bad name", changed(VALID, "watchedAttributes", ["temp erature"]), BadRequestData,
     "'watchedAttributes': 'temp erature' is not a valid attribute name"),
    # triggers, timing, state
    ("unknown trigger", changed(VALID, "notificationTrigger", ["entityChanged"]), BadRequestData,
     "'notificationTrigger': 'entityChanged' is not one of entityCreated"),
    ("empty triggers", changed(VALID, "notificationTrigger", []), BadRequestData, "'notificationTrigger' must be"),
    ("trigger not in an array", changed(VALID, "notificationTrigger", "entityCreated"), BadRequestData,
     "'notificationTrigger' must be"),
    ("timeInterval zero", changed(MINIMAL, "timeInterval", 0), BadRequestData,
     "'timeInterval' must be a number of seconds greater than 0"),
    ("timeInterval negative", changed(MINIMAL, "timeInterval", -1), BadRequestData, "'timeInterval'"),
    ("timeInterval text", changed(MINIMAL, "timeInterval", "5"), BadRequestData, "'timeInterval'"),
    ("timeInterval boolean", changed(MINIMAL, "timeInterval", True), BadRequestData, "'timeInterval'"),
    ("timeInterval with watchedAttributes", changed(VALID, "timeInterval", 10), BadRequestData,
     "'timeInterval' (periodic notification) cannot be combined with 'watchedAttributes'"),
    ("timeInterval with throttling", {**MINIMAL, "timeInterval": 10, "throttling": 2}, BadRequestData,
     "'timeInterval' (periodic notification) cannot be combined with 'throttling'"),
    ("throttling zero", changed(VALID, "throttling", 0), BadRequestData, "'throttling' must be a number of seconds"),
    ("throttling negative", changed(VALID, "throttling", -5), BadRequestData, "'throttling'"),
    ("throttling text", changed(VALID, "throttling", "5"), BadRequestData, "'throttling'"),
    ("isActive text", changed(VALID, "isActive", "yes"), BadRequestData, "'isActive' must be true or false"),
    ("expiresAt in the past", changed(VALID, "expiresAt", "2020-01-01T00:00:00Z"), BadRequestData,
     "'expiresAt' 2020-01-01T00:00:00Z is not in the future"),
    ("expiresAt now", changed(VALID, "expiresAt", "2026-03-01T12:00:00Z"), BadRequestData, "not in the future"),
    ("expiresAt a date", changed(VALID, "expiresAt", "2030-01-01"), BadRequestData, "'expiresAt' must be a DateTime"),
    ("expiresAt with an offset", changed(VALID, "expiresAt", "2030-01-01T00:00:00+02:00"), BadRequestData,
     "'expiresAt' must be a DateTime"),
    # queries
    ("q syntax", changed(VALID, "q", "temperature>"), BadRequestData, "q:"),
    ("q empty", changed(VALID, "q", ""), BadRequestData, "q must not be empty"),
    ("q not a string", changed(VALID, "q", 5), BadRequestData, "'q' must be a string"),
    ("scopeQ syntax", changed(VALID, "scopeQ", "/a b"), BadRequestData, "scopeQ"),
    ("scopeQ not a string", changed(VALID, "scopeQ", ["/a"]), BadRequestData, "'scopeQ' must be a string"),
    ("geoQ not an object", changed(VALID, "geoQ", "near"), BadRequestData, "'geoQ' must be an object"),
    ("geoQ without georel", changed(VALID, "geoQ", {"geometry": "Point", "coordinates": [1, 2]}), BadRequestData,
     "'geoQ.georel' is mandatory"),
    ("geoQ without coordinates", changed(VALID, "geoQ", {"georel": "intersects", "geometry": "Point"}),
     BadRequestData, "'geoQ.coordinates' is mandatory"),
    ("geoQ unknown member", changed(VALID, "geoQ", {"georel": "intersects", "geometry": "Point",
                                                    "coordinates": [1, 2], "radius": 3}),
     BadRequestData, "Unknown member 'geoQ.radius'"),
    ("geoQ bad georel", changed(VALID, "geoQ", {"georel": "nearby", "geometry": "Point", "coordinates": [1, 2]}),
     BadRequestData, "'geoQ': Unknown georel 'nearby'"),
    ("geoQ near without distance", changed(VALID, "geoQ", {"georel": "near", "geometry": "Point",
                                                           "coordinates": [1, 2]}),
     BadRequestData, "'geoQ': georel 'near' needs exactly one"),
    ("geoQ bad geometry", changed(VALID, "geoQ", {"georel": "within", "geometry": "Circle", "coordinates": [1, 2]}),
     BadRequestData, "'geoQ': Unsupported geometry 'Circle'"),
    ("geoQ bad coordinates", changed(VALID, "geoQ", {"georel": "intersects", "geometry": "Point",
                                                     "coordinates": [1]}),
     BadRequestData, "'geoQ': "),
    ("geoQ coordinates a number", changed(VALID, "geoQ", {"georel": "intersects", "geometry": "Point",
                                                          "coordinates": 5}),
     BadRequestData, "'geoQ.coordinates' must be an array"),
    ("geoQ bad geoproperty", changed(VALID, "geoQ", {"georel": "intersects", "geometry": "Point",
                                                     "coordinates": [1, 2], "geoproperty": 7}),
     BadRequestData, "'geoQ.geoproperty' must be an attribute name"),
    ("lang not a string", changed(VALID, "lang", 5), BadRequestData, "'lang' must be a string"),
    ("lang malformed", changed(VALID, "lang", "en;q=2"), BadRequestData, "'lang': lang='en;q=2'"),
    ("datasetId a string", changed(VALID, "datasetId", "urn:ngsi-ld:Dataset:a"), BadRequestData,
     "'datasetId' must be a non-empty array"),
    ("datasetId empty", changed(VALID, "datasetId", []), BadRequestData, "'datasetId' must be a non-empty array"),
    ("datasetId not a URI", changed(VALID, "datasetId", ["solar"]), BadRequestData,
     "'datasetId': 'solar' is not a URI or \"@none\""),
    ("jsonldContext not a URI", changed(VALID, "jsonldContext", "context.jsonld"), BadRequestData,
     "'jsonldContext' must be a URI"),
    # notification
    ("no notification", changed(VALID, "notification", DROP), BadRequestData, "'notification' is mandatory"),
    ("notification not an object", changed(VALID, "notification", "http://x"), BadRequestData,
     "'notification' must be an object"),
    ("notification unknown member", changed(VALID, "notification.uri", "http://x"), BadRequestData,
     "Unknown member 'notification.uri': allowed are attributes, sysAttrs, format"),
    ("attributes empty", changed(VALID, "notification.attributes", []), BadRequestData,
     "'notification.attributes' must be a non-empty array"),
    ("attributes bad name", changed(VALID, "notification.attributes", ["a.b"]), BadRequestData,
     "'notification.attributes': 'a.b' is not a valid attribute name"),
    ("sysAttrs text", changed(VALID, "notification.sysAttrs", "true"), BadRequestData,
     "'notification.sysAttrs' must be true or false"),
    ("unknown format", changed(VALID, "notification.format", "xml"), BadRequestData,
     "'notification.format' must be normalized, keyValues, simplified or concise"),
    ("showChanges text", changed(VALID, "notification.showChanges", 1), BadRequestData,
     "'notification.showChanges' must be true or false"),
    ("showChanges with keyValues", {**VALID, "notification": {"format": "keyValues", "showChanges": True,
                                                              "endpoint": ENDPOINT}},
     BadRequestData, "'notification.showChanges' cannot be used with the keyValues format"),
    ("showChanges with simplified", {**VALID, "notification": {"format": "simplified", "showChanges": True,
                                                               "endpoint": ENDPOINT}},
     BadRequestData, "'notification.showChanges' cannot be used with the keyValues format"),
    ("pick empty", changed(VALID, "notification.pick", []), BadRequestData, "'notification.pick' must be"),
    ("omit bad name", changed(VALID, "notification.omit", ["a b"]), BadRequestData,
     "'notification.omit': 'a b' is not a valid attribute name, 'id', 'type' or 'scope'"),
    ("pick with omit", {**VALID, "notification": {"pick": ["a"], "omit": ["b"], "endpoint": ENDPOINT}},
     BadRequestData, "'notification.pick' and 'notification.omit' cannot be used together"),
    ("attributes with pick", {**VALID, "notification": {"attributes": ["a"], "pick": ["b"], "endpoint": ENDPOINT}},
     BadRequestData, "'notification.attributes' and 'notification.pick' cannot be used together"),
    ("attributes with omit", {**VALID, "notification": {"attributes": ["a"], "omit": ["b"], "endpoint": ENDPOINT}},
     BadRequestData, "'notification.attributes' and 'notification.omit' cannot be used together"),
    ("unknown join", changed(VALID, "notification.join", "deep"), BadRequestData,
     "'notification.join' must be flat, inline or @none"),
    ("joinLevel zero", changed(VALID, "notification.joinLevel", 0), BadRequestData,
     "'notification.joinLevel' must be a positive integer"),
    ("null in notification", changed(VALID, "notification.format", None), BadRequestData,
     "'notification.format' must not be null"),
    # endpoint
    ("no endpoint", changed(VALID, "notification.endpoint", DROP), BadRequestData,
     "'notification.endpoint' is mandatory"),
    ("endpoint not an object", changed(VALID, "notification.endpoint", "http://x"), BadRequestData,
     "'notification.endpoint' must be an object"),
    ("endpoint unknown member", changed(VALID, "notification.endpoint.url", "http://x"), BadRequestData,
     "Unknown member 'notification.endpoint.url': allowed are uri, accept, timeout, cooldown"),
    ("no uri", changed(VALID, "notification.endpoint", {"accept": "application/json"}), BadRequestData,
     "'notification.endpoint.uri' is mandatory"),
    ("uri not a URI", changed(VALID, "notification.endpoint.uri", "receiver"), BadRequestData,
     "'notification.endpoint.uri' must be an http, https, mqtt or mqtts URI"),
    ("ftp uri", changed(VALID, "notification.endpoint.uri", "ftp://receiver.example/x"), BadRequestData,
     "notifications go to http, https, mqtt or mqtts URIs only"),
    ("urn uri", changed(VALID, "notification.endpoint.uri", "urn:ngsi-ld:Receiver:1"), BadRequestData,
     "notifications go to http, https, mqtt or mqtts URIs only"),
    ("http uri without host", changed(VALID, "notification.endpoint.uri", "http:///notify"), BadRequestData,
     "has no host"),
    ("port out of range", changed(VALID, "notification.endpoint.uri", "http://rx.example:70000/n"),
     BadRequestData, "is not a valid URI"),
    ("mqtt without topic", changed(VALID, "notification.endpoint.uri", "mqtt://broker.example:1883"),
     BadRequestData, "an MQTT endpoint is mqtt[s]://[user[:password]@]host[:port]/topic"),
    ("mqtt with an empty topic", changed(VALID, "notification.endpoint.uri", "mqtt://broker.example/"),
     BadRequestData, "an MQTT endpoint is"),
    ("mqtt topic with a wildcard", changed(VALID, "notification.endpoint.uri", "mqtt://broker.example/a/#"),
     BadRequestData, "an MQTT endpoint is"),
    ("mqtt topic with +", changed(VALID, "notification.endpoint.uri", "mqtt://broker.example/a/+/b"),
     BadRequestData, "an MQTT endpoint is"),
    ("accept text/plain", changed(VALID, "notification.endpoint.accept", "text/plain"), BadRequestData,
     "'notification.endpoint.accept' must be application/json or application/ld+json"),
    ("accept geo+json", changed(VALID, "notification.endpoint.accept", "application/geo+json"), BadRequestData,
     "'notification.endpoint.accept'"),
    ("negative timeout", changed(VALID, "notification.endpoint.timeout", -1), BadRequestData,
     "'notification.endpoint.timeout' must be a number greater than or equal to 0"),
    ("cooldown text", changed(VALID, "notification.endpoint.cooldown", "1"), BadRequestData,
     "'notification.endpoint.cooldown'"),
    ("receiverInfo an object", changed(VALID, "notification.endpoint.receiverInfo", {"key": "a", "value": "b"}),
     BadRequestData, "'notification.endpoint.receiverInfo' must be a non-empty array"),
    ("receiverInfo empty", changed(VALID, "notification.endpoint.receiverInfo", []), BadRequestData,
     "'notification.endpoint.receiverInfo' must be a non-empty array"),
    ("receiverInfo without value", changed(VALID, "notification.endpoint.receiverInfo", [{"key": "a"}]),
     BadRequestData, "'notification.endpoint.receiverInfo[0]' must be an object with exactly 'key' and 'value'"),
    ("receiverInfo extra member", changed(VALID, "notification.endpoint.receiverInfo",
                                          [{"key": "a", "value": "b", "c": "d"}]),
     BadRequestData, "'notification.endpoint.receiverInfo[0]' must be an object with exactly"),
    ("receiverInfo numeric value", changed(VALID, "notification.endpoint.receiverInfo", [{"key": "a", "value": 1}]),
     BadRequestData, "'notification.endpoint.receiverInfo[0]': key and value must be strings"),
    ("receiverInfo key not a header name", changed(VALID, "notification.endpoint.receiverInfo",
                                                   [{"key": "X Token", "value": "v"}]),
     BadRequestData, "cannot be sent as an HTTP header"),
    ("receiverInfo value with CRLF", changed(VALID, "notification.endpoint.receiverInfo",
                                             [{"key": "X-Token", "value": "v\r\nHost: evil"}]),
     BadRequestData, "cannot be sent as an HTTP header"),
    ("receiverInfo framing header", changed(VALID, "notification.endpoint.receiverInfo",
                                            [{"key": "Content-Length", "value": "0"}]),
     BadRequestData, "the header 'Content-Length' is set by the broker"),
    ("endpoint read-only name", changed(VALID, "notification.endpoint.status", "ok"), BadRequestData,
     "Unknown member 'notification.endpoint.status'"),
    ("notifierInfo QoS 3", changed(VALID, "notification.endpoint.notifierInfo", [{"key": "MQTT-QoS", "value": "3"}]),
     BadRequestData, "MQTT-QoS must be 0, 1 or 2"),
    ("notifierInfo QoS number", changed(VALID, "notification.endpoint.notifierInfo",
                                        [{"key": "MQTT-QoS", "value": 1}]),
     BadRequestData, "key and value must be strings"),
    ("notifierInfo version", changed(VALID, "notification.endpoint.notifierInfo",
                                     [{"key": "MQTT-Version", "value": "mqtt4"}]),
     BadRequestData, "MQTT-Version must be mqtt3.1.1 or mqtt5.0"),
    ("notifierInfo key twice", changed(VALID, "notification.endpoint.notifierInfo",
                                       [{"key": "MQTT-QoS", "value": "1"}, {"key": "MQTT-QoS", "value": "2"}]),
     BadRequestData, "names a key more than once"),
    ("null uri", changed(VALID, "notification.endpoint.uri", None), BadRequestData,
     "'notification.endpoint.uri' must not be null"),
]


@pytest.mark.parametrize(("case", "body", "error", "detail"), BAD, ids=[case for case, *_ in BAD])
def test_invalid_subscription_is_rejected_with_a_detail_naming_the_member(
        case: str, body: Any, error: type[NgsiLdError], detail: str) -> None:
    with pytest.raises(error) as raised:
        parse(body)
    assert type(raised.value) is error
    assert detail in raised.value.detail, raised.value.detail


GOOD: list[tuple[str, dict[str, Any]]] = [
    ("mqtt with credentials and port", changed(VALID, "notification.endpoint.uri",
                                               "mqtt://user:pw@broker.example:1883/kyodo/rooms")),
    ("mqtts", changed(VALID, "notification.endpoint.uri", "mqtts://broker.example/t")),
    ("http with query", changed(VALID, "notification.endpoint.uri", "http://rx.example:8080/n?key=1")),
    ("zero timeout and cooldown", changed(VALID, "notification.endpoint",
                                          {**ENDPOINT, "timeout": 0, "cooldown": 0.5})),
    ("QoS and version", changed(VALID, "notification.endpoint.notifierInfo",
                                [{"key": "MQTT-QoS", "value": "2"}, {"key": "MQTT-Version", "value": "mqtt3.1.1"}])),
    ("id and idPattern together", changed(VALID, "entities", [{"type": "Building", "id": "urn:a:1",
                                                               "idPattern": ".*"}])),
    ("throttling fraction", changed(VALID, "throttling", 0.5)),
    ("every trigger", changed(VALID, "notificationTrigger", ["entityCreated", "entityUpdated", "entityDeleted",
                                                             "attributeCreated", "attributeUpdated",
                                                             "attributeDeleted"])),
    ("keyValues without showChanges", changed(VALID, "notification", {"format": "keyValues", "showChanges": False,
                                                                      "endpoint": ENDPOINT})),
    ("lang wildcard", changed(VALID, "lang", "*")),
]


@pytest.mark.parametrize(("case", "body"), GOOD, ids=[case for case, _ in GOOD])
def test_valid_edge_cases_are_accepted(case: str, body: dict[str, Any]) -> None:
    assert parse(body)["status"] == "active"


# ---- PATCH (5.8.3) ------------------------------------------------------------------------------

PATCHES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    # (case, created, fragment, GET after the patch without status)
    ("a member is replaced", FULL, {"description": "Warmer"}, {**FULL, "description": "Warmer"}),
    ("a member is added", MINIMAL, {"throttling": 10}, {**MINIMAL, "throttling": 10}),
    ("entities are replaced as a whole", FULL, {"entities": [{"type": "Vehicle"}]},
     {**FULL, "entities": [{"type": "Vehicle"}]}),
    ("notification members merge", FULL, {"notification": {"format": "normalized"}},
     changed(FULL, "notification.format", "normalized")),
    ("endpoint members merge", FULL, {"notification": {"endpoint": {"accept": "application/json"}}},
     changed(FULL, "notification.endpoint.accept", "application/json")),
    ("a new endpoint uri keeps accept", MINIMAL,
     {"type": "Subscription", "notification": {"format": "keyValues",
                                               "endpoint": {"uri": "http://my.second.endpoint.org/notify"}}},
     {**MINIMAL, "notification": {"format": "keyValues",
                                  "endpoint": {"uri": "http://my.second.endpoint.org/notify"}}}),
    ("null removes an optional member", FULL, {"description": None}, changed(FULL, "description", DROP)),
    ("NGSI-LD Null removes an optional member", FULL, {"q": "urn:ngsi-ld:null", "scopeQ": None},
     changed(changed(FULL, "q", DROP), "scopeQ", DROP)),
    ("null removes a notification member", FULL, {"notification": {"attributes": None}},
     changed(FULL, "notification.attributes", DROP)),
    ("null removes an endpoint member", FULL, {"notification": {"endpoint": {"receiverInfo": "urn:ngsi-ld:null"}}},
     changed(FULL, "notification.endpoint.receiverInfo", DROP)),
    ("a removed trigger list is the default again", FULL, {"notificationTrigger": None},
     {**FULL, "notificationTrigger": ["attributeCreated", "attributeUpdated"]}),
    ("a removed default member stays out of GET", {**MINIMAL, "isActive": True}, {"isActive": None}, MINIMAL),
    ("pick replaces attributes once attributes are removed", FULL,
     {"notification": {"attributes": None, "pick": ["id", "humidity"]}},
     changed(changed(FULL, "notification.attributes", DROP), "notification.pick", ["id", "humidity"])),
    ("the same id and the type may be repeated", MINIMAL, {"id": SUB_ID, "type": "Subscription", "throttling": 1},
     {**MINIMAL, "throttling": 1}),
    ("read-only members are ignored", MINIMAL, {"status": "paused", "subscriptionName": "n"},
     {**MINIMAL, "subscriptionName": "n"}),
    ("periodic becomes on-change", {**MINIMAL, "timeInterval": 30}, {"timeInterval": None,
                                                                     "watchedAttributes": ["humidity"]},
     {**MINIMAL, "watchedAttributes": ["humidity"]}),
]


@pytest.mark.parametrize(("case", "created", "fragment", "expected"), PATCHES, ids=[case for case, *_ in PATCHES])
def test_patch_merges_the_fragment_and_get_shows_the_result(case: str, created: dict[str, Any],
                                                            fragment: dict[str, Any],
                                                            expected: dict[str, Any]) -> None:
    rendered = render_subscription(patch(parse(created), fragment), USER, now=LATER)
    rendered.pop("status")
    expected = copy.deepcopy(expected)
    expected.setdefault("notificationTrigger", ["attributeCreated", "attributeUpdated"])
    assert rendered == expected


BAD_PATCHES: list[tuple[str, dict[str, Any], Any, type[NgsiLdError], str]] = [
    ("not an object", MINIMAL, ["description"], InvalidRequest, "must be a JSON object"),
    ("empty fragment", MINIMAL, {}, BadRequestData, "The fragment holds no subscription member to update"),
    ("only the type", MINIMAL, {"type": "Subscription"}, BadRequestData, "holds no subscription member"),
    ("another id", MINIMAL, {"id": "urn:ngsi-ld:Subscription:2", "description": "x"}, BadRequestData,
     "'id' 'urn:ngsi-ld:Subscription:2' does not match the subscription"),
    ("another type", MINIMAL, {"type": "Entity", "description": "x"}, BadRequestData, "'type' must be"),
    ("unknown member", MINIMAL, {"color": "red"}, BadRequestData, "Unknown member 'color'"),
    ("null notification", MINIMAL, {"notification": None}, BadRequestData,
     "'notification' is mandatory and cannot be removed"),
    ("NGSI-LD Null notification", MINIMAL, {"notification": "urn:ngsi-ld:null"}, BadRequestData,
     "'notification' is mandatory and cannot be removed"),
    ("null endpoint (ETSI 029_04)", MINIMAL, {"type": "Subscription",
                                              "notification": {"format": "keyValues", "endpoint": None}},
     BadRequestData, "'notification.endpoint' is mandatory and cannot be removed"),
    ("null uri", MINIMAL, {"notification": {"endpoint": {"uri": None}}}, BadRequestData,
     "'notification.endpoint.uri' is mandatory and cannot be removed"),
    ("timeInterval next to watchedAttributes", VALID, {"timeInterval": 10}, BadRequestData,
     "cannot be combined with 'watchedAttributes'"),
    ("throttling on a periodic subscription", {**MINIMAL, "timeInterval": 30}, {"throttling": 10},
     BadRequestData, "cannot be combined with 'throttling'"),
    ("removing the only selection", MINIMAL, {"entities": None}, BadRequestData,
     "At least one of 'entities' and 'watchedAttributes'"),
    ("past expiresAt", MINIMAL, {"expiresAt": "2026-03-01T12:30:00Z"}, BadRequestData,
     "'expiresAt' 2026-03-01T12:30:00Z is not in the future"),
    ("showChanges on a keyValues subscription", {**MINIMAL, "notification": {"format": "keyValues",
                                                                            "endpoint": ENDPOINT}},
     {"notification": {"showChanges": True}}, BadRequestData, "cannot be used with the keyValues format"),
    ("pick next to attributes", FULL, {"notification": {"pick": ["id"]}}, BadRequestData,
     "'notification.attributes' and 'notification.pick' cannot be used together"),
    ("an invalid member value", MINIMAL, {"q": "temperature>>1"}, BadRequestData, "q:"),
    ("a bad endpoint uri", MINIMAL, {"notification": {"endpoint": {"uri": "ftp://x.example/a"}}},
     BadRequestData, "notifications go to http, https, mqtt or mqtts URIs only"),
]


@pytest.mark.parametrize(("case", "created", "fragment", "error", "detail"), BAD_PATCHES,
                         ids=[case for case, *_ in BAD_PATCHES])
def test_invalid_patch_is_rejected(case: str, created: dict[str, Any], fragment: Any, error: type[NgsiLdError],
                                   detail: str) -> None:
    with pytest.raises(error) as raised:
        patch(parse(created), fragment)
    assert type(raised.value) is error
    assert detail in raised.value.detail, raised.value.detail


def test_patch_keeps_internals_and_recomputes_index_status_and_modified_at() -> None:
    stored = parse(FULL)
    stored["notification"].update({"status": "ok", "timesSent": 4, "lastSuccess": NOW})
    stored["nextPeriodicAt"] = NOW  # a member the store keeps in the document
    before = copy.deepcopy(stored)
    result = patch(stored, {"watchedAttributes": ["humidity"], "entities": [{"type": "Vehicle"}]})
    assert stored == before, "the stored form passed in is not modified"
    assert result["createdAt"] == NOW
    assert result["modifiedAt"] == LATER
    assert result["context"] == USER_CONTEXT
    assert result["nextPeriodicAt"] == NOW
    assert result["index"] == {"types": [EX + "Vehicle"], "attributes": [EX + "humidity"]}
    assert {key: result["notification"][key] for key in ("status", "timesSent", "lastSuccess")} == {
        "status": "ok", "timesSent": 4, "lastSuccess": NOW}
    assert result["defaulted"] == []


def test_patch_restores_defaults_of_removed_members() -> None:
    result = patch(parse(FULL), {"isActive": None, "notification": {"format": None, "showChanges": None,
                                                                    "endpoint": {"accept": None}}})
    assert (result["isActive"], result["notification"]["format"], result["notification"]["showChanges"],
            result["notification"]["endpoint"]["accept"]) == (True, "normalized", False, "application/json")
    assert result["defaulted"] == ["isActive", "notification.format", "notification.showChanges",
                                   "notification.endpoint.accept"]


def test_patch_under_another_context_keeps_the_meaning_of_stored_names() -> None:
    stored = patch(parse(FULL), {"description": "core context only"}, terms=CORE)
    compiled = compile_subscription(stored, CORE)
    assert stored["watchedAttributes"] == [EX + "temperature", EX + "humidity"]
    assert compiled.query.selectors[0].types == TypeName(EX + "Building")
    assert compiled.query.q == And((Comparison(AttributePath(EX + "temperature"), ">", 30),
                              Comparison(AttributePath(EX + "humidity"), "==", 1)))


def test_patch_expands_the_fragment_with_the_patch_context() -> None:
    stored = patch(parse(FULL), {"q": "temperature<0", "watchedAttributes": ["temperature"]}, terms=CORE)
    assert stored["qExpanded"] == [["temperature", D + "temperature"]]
    assert stored["watchedAttributes"] == [D + "temperature"]
    assert compile_subscription(stored, USER).query.q == Comparison(AttributePath(D + "temperature"), "<", 0)


# ---- status ----------------------------------------------------------------------------------------

STATUSES: list[tuple[str, dict[str, Any], str]] = [
    ("default", {}, "active"),
    ("active", {"isActive": True}, "active"),
    ("paused", {"isActive": False}, "paused"),
    ("future expiry", {"expiresAt": LATER}, "active"),
    ("expiry reached exactly", {"expiresAt": NOW}, "expired"),
    ("expired", {"expiresAt": NOW - timedelta(seconds=1)}, "expired"),
    ("expired wins over paused", {"isActive": False, "expiresAt": NOW - timedelta(seconds=1)}, "expired"),
    ("naive stored time is UTC", {"expiresAt": datetime(2026, 3, 1, 11, 0)}, "expired"),
]


@pytest.mark.parametrize(("case", "stored", "status"), STATUSES, ids=[case for case, *_ in STATUSES])
def test_subscription_status(case: str, stored: dict[str, Any], status: str) -> None:
    assert subscription_status(stored, NOW) == status


EXPIRES_SOON = {**MINIMAL, "expiresAt": "2026-03-01T12:30:00Z"}  # expired at LATER
TRANSITIONS: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    # (case, created at NOW, fragment applied at LATER, status after it)
    ("isActive false pauses", MINIMAL, {"isActive": False}, "paused"),
    ("isActive true resumes", {**MINIMAL, "isActive": False}, {"isActive": True}, "active"),
    ("another change keeps paused", {**MINIMAL, "isActive": False}, {"description": "x"}, "paused"),
    ("isActive false does not pause an expired one", EXPIRES_SOON, {"isActive": False}, "expired"),
    ("isActive true does not revive an expired one", EXPIRES_SOON, {"isActive": True}, "expired"),
    ("another change keeps expired", EXPIRES_SOON, {"description": "x"}, "expired"),
    ("a future expiresAt revives an expired one", EXPIRES_SOON, {"expiresAt": "2027-01-01T00:00:00Z"}, "active"),
    ("removing expiresAt revives an expired one", EXPIRES_SOON, {"expiresAt": None}, "active"),
    ("a future expiresAt on a paused expired one", {**EXPIRES_SOON, "isActive": False},
     {"expiresAt": "2027-01-01T00:00:00Z"}, "paused"),
    ("both at once", {**EXPIRES_SOON, "isActive": False}, {"isActive": True, "expiresAt": "2027-01-01T00:00:00Z"},
     "active"),
]


@pytest.mark.parametrize(("case", "created", "fragment", "status"), TRANSITIONS, ids=[case for case, *_ in TRANSITIONS])
def test_patch_status_transitions(case: str, created: dict[str, Any], fragment: dict[str, Any], status: str) -> None:
    result = patch(parse(created), fragment)
    assert result["status"] == status
    assert render_subscription(result, USER, now=LATER)["status"] == status


# ---- compile -----------------------------------------------------------------------------------------


def test_compile_full_subscription() -> None:
    render = RenderOptions(format="concise", sys_attrs=True, lang="ja,en;q=0.5",
                           attrs=frozenset({EX + "temperature"}),
                           dataset_id=frozenset({"urn:ngsi-ld:Dataset:a", "@none"}))
    assert compile_subscription(parse(FULL), USER) == CompiledSubscription(
        id=SUB_ID,
        query=EntityQuery(
            selectors=(
                EntitySelector(types=TypeName(EX + "Building"), id_pattern="urn:ngsi-ld:Building:.*"),
                EntitySelector(types=Or((And((TypeName(EX + "Building"), TypeName(EX + "Vehicle"))),
                                         TypeName(D + "Car"))), ids=("urn:ngsi-ld:Car:1",)),
            ),
            q=And((Comparison(AttributePath(EX + "temperature"), ">", 30),
                   Comparison(AttributePath(EX + "humidity"), "==", 1))),
            scope_q=ScopeMatch("/Osaka/#"),
            geo=GeoQuery(georel="near", geometry={"type": "Point", "coordinates": [135.5, 34.7]},
                         geoproperty=NGSI + "location", max_distance=2000.0),
            render=render, limit=1000),
        watched=frozenset({EX + "temperature", EX + "humidity"}),
        triggers=frozenset({"attributeUpdated", "entityDeleted"}),
        render=render,
        show_changes=True,
        throttling=5,
        time_interval=None,
        is_active=True,
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )


def test_compile_minimal_subscription_uses_defaults() -> None:
    body = {"type": "Subscription", "id": SUB_ID, "watchedAttributes": ["temperature"],
            "notification": {"format": "simplified", "pick": ["id", "humidity"], "endpoint": ENDPOINT}}
    render = RenderOptions(format="keyValues", pick=frozenset({"id", EX + "humidity"}))
    assert compile_subscription(parse(body), USER) == CompiledSubscription(
        id=SUB_ID, query=EntityQuery(render=render, limit=1000), watched=frozenset({EX + "temperature"}),
        triggers=frozenset({"attributeCreated", "attributeUpdated"}),
        render=render,
        show_changes=False, throttling=None, time_interval=None, is_active=True, expires_at=None)


def test_compile_star_selector_matches_any_type() -> None:
    compiled = compile_subscription(parse({**MINIMAL, "entities": [{"type": "*"}], "timeInterval": 5}), USER)
    assert compiled.query.selectors == (EntitySelector(types=None),)
    assert compiled.time_interval == 5


def test_compile_uses_recorded_names_whatever_the_context() -> None:
    stored = parse(FULL)
    assert compile_subscription(stored, CORE) == compile_subscription(stored, USER)


T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("notification", "status"), [
    ({}, None),
    ({"status": "failed"}, None),  # a status stored by an earlier version is not read
    ({"lastSuccess": T0}, "ok"),
    ({"lastFailure": T0}, "failed"),
    ({"lastSuccess": T0, "lastFailure": T0 + timedelta(milliseconds=1)}, "failed"),
    ({"lastSuccess": T0 + timedelta(milliseconds=1), "lastFailure": T0}, "ok"),
    ({"lastSuccess": T0, "lastFailure": T0}, "ok"),
    ({"lastSuccess": T0.replace(tzinfo=None), "lastFailure": T0 + timedelta(seconds=1)}, "failed"),  # naive = UTC
])
def test_the_delivery_status_is_the_latest_outcome(notification, status):
    assert delivery_status(notification) == status
