"""What each member of a Subscription may hold (GS CIM 009 5.2.12, 5.2.8, 5.2.14, 5.2.15), one member at a time.

`MemberParser.parse` validates and expands the members present in a subscription or in a PATCH
fragment; the rules that tie members together live in subscription.py. Names are expanded with the
request's term map; names inside q and type expressions are recorded with their expansion, so a
stored subscription keeps its meaning whatever @context later reads or patches it.

receiverInfo keys must be HTTP header names and values free of control characters: they become
notification headers, and a CR/LF would let a client inject headers.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

from broker.ngsild.context import TermMap
from broker.ngsild.errors import BadRequestData, OperationNotSupported
from broker.ngsild.geoquery import parse_geo_query
from broker.ngsild.model import NGSI_LD_NULL
from broker.ngsild.names import is_uri, is_valid_name, parse_datetime, require_entity_id
from broker.ngsild.params import ENTITY_MEMBER_NAMES, Format, parse_render_options
from broker.ngsild.q import parse_q
from broker.ngsild.query_ast import GeoQuery
from broker.ngsild.scopeq import parse_scope_q
from broker.ngsild.typeexpr import parse_type_expression

SUBSCRIPTION_TYPE = "Subscription"
TRIGGERS = ("entityCreated", "entityUpdated", "entityDeleted",
            "attributeCreated", "attributeUpdated", "attributeDeleted")
FORMATS: dict[str, Format] = {"normalized": "normalized", "keyValues": "keyValues",
                              "simplified": "keyValues", "concise": "concise"}
ACCEPTS = ("application/json", "application/ld+json")
ENDPOINT_SCHEMES = ("http", "https", "mqtt", "mqtts")
MQTT_QOS = ("0", "1", "2")
MQTT_VERSIONS = ("mqtt3.1.1", "mqtt5.0")
JOINS = ("flat", "inline", "@none")
MAX_ID_PATTERN = 256

#: the members a client writes, in the order GET returns them
SUBSCRIPTION_MEMBERS = ("id", "type", "subscriptionName", "description", "entities", "watchedAttributes",
                        "notificationTrigger", "timeInterval", "q", "geoQ", "scopeQ", "lang", "isActive",
                        "expiresAt", "throttling", "datasetId", "jsonldContext", "notification")
NOTIFICATION_MEMBERS = ("attributes", "sysAttrs", "format", "showChanges", "pick", "omit", "join", "joinLevel",
                        "endpoint")
ENDPOINT_MEMBERS = ("uri", "accept", "timeout", "cooldown", "receiverInfo", "notifierInfo")
#: delivery outcomes under `notification`, written by the notifier (5.2.14)
DELIVERY_OUTCOMES = ("timesSent", "timesFailed", "lastNotification", "lastSuccess", "lastFailure")
#: with `status`, derived from the outcomes when rendered (a status stored by earlier versions is ignored)
DELIVERY_MEMBERS = ("status", *DELIVERY_OUTCOMES)
#: read-only members a client may send back; they are ignored (5.2.12, 5.2.14)
READ_ONLY_MEMBERS = frozenset({*DELIVERY_MEMBERS, "createdAt", "modifiedAt"})
#: stored members derived from a client member: set and removed with it
DERIVED_MEMBERS = {"q": "qExpanded"}
REMOVE: Any = object()
"""A PATCH fragment member that removes the stored member (JSON null or NGSI-LD Null, 5.8.3)."""

#: spec members of other subscription kinds or features this broker does not offer
_UNSUPPORTED = {"csf": "context source filters (csf) need distributed operation, which this broker does not offer",
                "temporalQ": "temporalQ belongs to context source subscriptions (5.11), not to subscriptions"}
#: RFC 9110 5.6.2 token: receiverInfo keys become HTTP header names
_HEADER_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: headers that frame or route the HTTP request itself: a receiverInfo pair must not override them
_FRAMING_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "upgrade", "te",
                              "trailer", "keep-alive", "proxy-connection"})
_TYPE_OPERATORS = re.compile(r"([,;|()])")


def type_names(text: str) -> list[str]:
    """The entity type names of a type expression, in textual order (4.17); `*` is not a name."""
    names = []
    for part in _TYPE_OPERATORS.split(text):
        name = part.strip()
        if name and name != "*" and not _TYPE_OPERATORS.fullmatch(name):
            names.append(name)
    return names


def replace_type_names(text: str, replacement: dict[str, str]) -> str:
    """The type expression with each name replaced (spacing and operators kept)."""
    parts = []
    for part in _TYPE_OPERATORS.split(text):
        name = part.strip()
        if name in replacement:
            part = part.replace(name, replacement[name], 1)
        parts.append(part)
    return "".join(parts)


class MemberParser:
    """Validate and expand the members of a subscription (patch=False) or of a PATCH fragment (patch=True)."""

    def __init__(self, terms: TermMap, now: datetime, *, patch: bool) -> None:
        self.terms = terms
        self.now = now
        self.patch = patch

    def parse(self, members: dict[str, Any]) -> dict[str, Any]:
        """The stored form of each member present (id and type excepted); REMOVE where a PATCH removes one."""
        _check_known(members, SUBSCRIPTION_MEMBERS, "", ignored=READ_ONLY_MEMBERS, unsupported=_UNSUPPORTED)
        out: dict[str, Any] = {}
        for name in SUBSCRIPTION_MEMBERS[2:]:
            if name not in members:
                continue
            value = members[name]
            if self._null(value, name, mandatory=name == "notification"):
                out[name] = REMOVE
                if name in DERIVED_MEMBERS:
                    out[DERIVED_MEMBERS[name]] = REMOVE
                continue
            if name == "q":
                out["q"], out["qExpanded"] = self.q(value)
            else:
                out[name] = getattr(self, _PARSERS[name])(value, name)
        return out

    def _null(self, value: Any, where: str, *, mandatory: bool = False) -> bool:
        """True if a PATCH removes this member; Null anywhere else is BadRequestData (5.2.1)."""
        if value is not None and value != NGSI_LD_NULL:
            return False
        if not self.patch:
            if value is None:
                raise BadRequestData(f"'{where}' must not be null")
            raise BadRequestData(f"'{where}' must not be NGSI-LD Null: it only removes members in a PATCH")
        if mandatory:
            raise BadRequestData(f"'{where}' is mandatory and cannot be removed")
        return True

    def entities(self, value: Any, where: str) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not value:
            raise BadRequestData(f"'{where}' must be a non-empty array of EntitySelectors, got {value!r}")
        return [self.selector(item, f"{where}[{index}]") for index, item in enumerate(value)]

    def selector(self, item: Any, where: str) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise BadRequestData(f"'{where}' must be an object with 'type' and optional 'id' or 'idPattern'")
        _check_known(item, ("id", "idPattern", "type"), f"{where}.")
        if "type" not in item:
            raise BadRequestData(f"'{where}.type' is mandatory")
        text = item["type"]
        if not isinstance(text, str):
            raise BadRequestData(f"'{where}.type' must be a string, got {text!r}")
        parse_type_expression(text, self.terms, f"{where}.type")
        selector: dict[str, Any] = {}
        if "id" in item:
            selector["id"] = require_entity_id(item["id"], f"{where}.id")
        if "idPattern" in item:
            selector["idPattern"] = _id_pattern(item["idPattern"], f"{where}.idPattern")
        selector["type"] = text
        selector["typeExpanded"] = [self.terms.expand(name) for name in type_names(text)]
        return selector

    def names(self, value: Any, where: str) -> list[str]:
        if not isinstance(value, list) or not value:
            raise BadRequestData(f"'{where}' must be a non-empty array of attribute names, got {value!r}")
        for name in value:
            if not is_valid_name(name):
                raise BadRequestData(f"'{where}': {name!r} is not a valid attribute name")
        return [self.terms.expand(name) for name in value]

    def projection(self, value: Any, where: str) -> list[str]:
        if not isinstance(value, list) or not value:
            raise BadRequestData(f"'{where}' must be a non-empty array of attribute or member names, got {value!r}")
        out = []
        for name in value:
            if name in ENTITY_MEMBER_NAMES:
                out.append(name)
            elif is_valid_name(name):
                out.append(self.terms.expand(name))
            else:
                raise BadRequestData(f"'{where}': {name!r} is not a valid attribute name, 'id', 'type' or 'scope'")
        return out

    def triggers(self, value: Any, where: str) -> list[str]:
        if not isinstance(value, list) or not value:
            raise BadRequestData(f"'{where}' must be a non-empty array, got {value!r}")
        for trigger in value:
            if trigger not in TRIGGERS:
                raise BadRequestData(f"'{where}': {trigger!r} is not one of {', '.join(TRIGGERS)}")
        return list(value)

    def q(self, value: Any) -> tuple[str, list[list[str]]]:
        if not isinstance(value, str):
            raise BadRequestData(f"'q' must be a string, got {value!r}")
        recorder = RecordingTerms(self.terms)
        parse_q(value, cast(TermMap, recorder))
        return value, [[name, iri] for name, iri in recorder.names.items()]

    def scope_q(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise BadRequestData(f"'{where}' must be a string, got {value!r}")
        parse_scope_q(value)
        return value

    def geo_q(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise BadRequestData(f"'{where}' must be an object with georel, geometry, coordinates and "
                                 f"optional geoproperty, got {value!r}")
        _check_known(value, ("georel", "geometry", "coordinates", "geoproperty"), f"{where}.")
        for member in ("georel", "geometry", "coordinates"):
            if member not in value:
                raise BadRequestData(f"'{where}.{member}' is mandatory")
        geoproperty = value.get("geoproperty")
        if "geoproperty" in value and not isinstance(geoproperty, str):
            raise BadRequestData(f"'{where}.geoproperty' must be an attribute name, got {geoproperty!r}")
        if not isinstance(value["coordinates"], list | str):
            raise BadRequestData(f"'{where}.coordinates' must be an array, got {value['coordinates']!r}")
        try:
            geo = parse_geo_query(value["georel"], value["geometry"], value["coordinates"], geoproperty, self.terms)
        except BadRequestData as exc:
            raise BadRequestData(f"'{where}': {exc.detail}") from None
        out = {"georel": value["georel"], "geometry": value["geometry"], "coordinates": value["coordinates"]}
        if geoproperty is not None:
            out["geoproperty"] = cast(GeoQuery, geo).geoproperty
        return out

    def lang(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise BadRequestData(f"'{where}' must be a string, got {value!r}")
        try:
            parse_render_options({"lang": value}, self.terms)
        except BadRequestData as exc:
            raise BadRequestData(f"'{where}': {exc.detail}") from None
        return value

    def expires_at(self, value: Any, where: str) -> datetime:
        at = parse_datetime(value, where)
        if at <= self.now:
            raise BadRequestData(f"'{where}' {value} is not in the future")
        return at

    def dataset_ids(self, value: Any, where: str) -> list[str]:
        if not isinstance(value, list) or not value:
            raise BadRequestData(f"'{where}' must be a non-empty array of URIs or \"@none\", got {value!r}")
        for dataset_id in value:
            if dataset_id != "@none" and not is_uri(dataset_id):
                raise BadRequestData(f"'{where}': {dataset_id!r} is not a URI or \"@none\"")
        return list(value)

    def uri(self, value: Any, where: str) -> str:
        if not is_uri(value):
            raise BadRequestData(f"'{where}' must be a URI, got {value!r}")
        return value

    def notification(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise BadRequestData(f"'{where}' must be an object (NotificationParams), got {value!r}")
        _check_known(value, NOTIFICATION_MEMBERS, f"{where}.", ignored=READ_ONLY_MEMBERS)
        out: dict[str, Any] = {}
        for name in NOTIFICATION_MEMBERS:
            if name not in value:
                continue
            path = f"{where}.{name}"
            if self._null(value[name], path, mandatory=name == "endpoint"):
                out[name] = REMOVE
            else:
                out[name] = getattr(self, _NOTIFICATION_PARSERS[name])(value[name], path)
        return out

    def format(self, value: Any, where: str) -> str:
        if value not in FORMATS:
            raise BadRequestData(f"'{where}' must be normalized, keyValues, simplified or concise, got {value!r}")
        return value

    def join(self, value: Any, where: str) -> str:
        if value not in JOINS:
            raise BadRequestData(f"'{where}' must be flat, inline or @none, got {value!r}")
        return value

    def join_level(self, value: Any, where: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise BadRequestData(f"'{where}' must be a positive integer, got {value!r}")
        return value

    def endpoint(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise BadRequestData(f"'{where}' must be an object (Endpoint), got {value!r}")
        _check_known(value, ENDPOINT_MEMBERS, f"{where}.")
        out: dict[str, Any] = {}
        for name in ENDPOINT_MEMBERS:
            if name not in value:
                continue
            path = f"{where}.{name}"
            if self._null(value[name], path, mandatory=name == "uri"):
                out[name] = REMOVE
            else:
                out[name] = getattr(self, _ENDPOINT_PARSERS[name])(value[name], path)
        return out

    def endpoint_uri(self, value: Any, where: str) -> str:
        if not is_uri(value):
            raise BadRequestData(f"'{where}' must be an http, https, mqtt or mqtts URI, got {value!r}")
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError as exc:
            raise BadRequestData(f"'{where}' {value!r} is not a valid URI: {exc}") from None
        if port == 0:
            raise BadRequestData(f"'{where}' {value!r}: port 0 is not a valid port")
        scheme = parts.scheme.lower()
        if scheme not in ENDPOINT_SCHEMES:
            raise BadRequestData(f"'{where}' {value!r}: notifications go to http, https, mqtt or mqtts URIs only")
        if not parts.hostname:
            raise BadRequestData(f"'{where}' {value!r} has no host")
        if scheme.startswith("mqtt"):
            topic = parts.path[1:]
            if not topic or "?" in value or "#" in value or "+" in topic:
                raise BadRequestData(f"'{where}' {value!r}: an MQTT endpoint is "
                                     "mqtt[s]://[user[:password]@]host[:port]/topic with a topic "
                                     "free of '+', '#' and '?'")
        return value

    def accept(self, value: Any, where: str) -> str:
        if value not in ACCEPTS:
            raise BadRequestData(f"'{where}' must be application/json or application/ld+json, got {value!r}")
        return value

    def key_values(self, value: Any, where: str) -> list[dict[str, str]]:
        if not isinstance(value, list) or not value:
            raise BadRequestData(f"'{where}' must be a non-empty array of {{\"key\", \"value\"}} objects")
        pairs = []
        for index, pair in enumerate(value):
            item = f"{where}[{index}]"
            if not isinstance(pair, dict) or set(pair) != {"key", "value"}:
                raise BadRequestData(f"'{item}' must be an object with exactly 'key' and 'value', got {pair!r}")
            key, text = pair["key"], pair["value"]
            if not isinstance(key, str) or not isinstance(text, str):
                raise BadRequestData(f"'{item}': key and value must be strings, got {pair!r}")
            pairs.append({"key": key, "value": text})
        return pairs

    def receiver_info(self, value: Any, where: str) -> list[dict[str, str]]:
        pairs = self.key_values(value, where)
        for pair in pairs:
            if not _HEADER_TOKEN.match(pair["key"]) or _CONTROL.search(pair["value"]):
                raise BadRequestData(f"'{where}': {pair!r} cannot be sent as an HTTP header (the key must be a "
                                     "header name, the value free of control characters)")
            if pair["key"].lower() in _FRAMING_HEADERS:
                raise BadRequestData(f"'{where}': the header {pair['key']!r} is set by the broker, not by receiverInfo")
        return pairs

    def notifier_info(self, value: Any, where: str) -> list[dict[str, str]]:
        pairs = self.key_values(value, where)
        keys = [pair["key"] for pair in pairs]
        if len(set(keys)) != len(keys):
            raise BadRequestData(f"'{where}' names a key more than once: {keys}")
        for pair in pairs:
            if pair["key"] == "MQTT-QoS" and pair["value"] not in MQTT_QOS:
                raise BadRequestData(f"'{where}': MQTT-QoS must be 0, 1 or 2, got {pair['value']!r}")
            if pair["key"] == "MQTT-Version" and pair["value"] not in MQTT_VERSIONS:
                raise BadRequestData(f"'{where}': MQTT-Version must be mqtt3.1.1 or mqtt5.0, got {pair['value']!r}")
        return pairs

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise BadRequestData(f"'{where}' must be a string, got {value!r}")
        return value

    def boolean(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise BadRequestData(f"'{where}' must be true or false, got {value!r}")
        return value

    def positive(self, value: Any, where: str) -> int | float:
        if not _is_number(value) or value <= 0:
            raise BadRequestData(f"'{where}' must be a number of seconds greater than 0, got {value!r}")
        return value

    def non_negative(self, value: Any, where: str) -> int | float:
        if not _is_number(value) or value < 0:
            raise BadRequestData(f"'{where}' must be a number greater than or equal to 0, got {value!r}")
        return value


_PARSERS = {
    "subscriptionName": "string", "description": "string", "entities": "entities", "watchedAttributes": "names",
    "notificationTrigger": "triggers", "timeInterval": "positive", "geoQ": "geo_q", "scopeQ": "scope_q",
    "lang": "lang", "isActive": "boolean", "expiresAt": "expires_at", "throttling": "positive",
    "datasetId": "dataset_ids", "jsonldContext": "uri", "notification": "notification",
}
_NOTIFICATION_PARSERS = {
    "attributes": "names", "sysAttrs": "boolean", "format": "format", "showChanges": "boolean",
    "pick": "projection", "omit": "projection", "join": "join", "joinLevel": "join_level", "endpoint": "endpoint",
}
_ENDPOINT_PARSERS = {
    "uri": "endpoint_uri", "accept": "accept", "timeout": "non_negative", "cooldown": "non_negative",
    "receiverInfo": "receiver_info", "notifierInfo": "notifier_info",
}


# --- helpers --------------------------------------------------------------------------------------


def _check_known(members: dict[str, Any], allowed: tuple[str, ...], prefix: str, *,
                 ignored: frozenset[str] = frozenset(), unsupported: dict[str, str] | None = None) -> None:
    for name in members:
        if name in allowed or name in ignored:
            continue
        if unsupported and name in unsupported:
            raise OperationNotSupported(unsupported[name])
        raise BadRequestData(f"Unknown member '{prefix}{name}': allowed are {', '.join(allowed)}")


def _id_pattern(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequestData(f"'{where}' must be a non-empty regular expression, got {value!r}")
    if len(value) > MAX_ID_PATTERN:
        raise BadRequestData(f"'{where}' is longer than {MAX_ID_PATTERN} characters")
    try:
        re.compile(value)
    except re.error as exc:
        raise BadRequestData(f"'{where}' {value!r} is not a valid regular expression: {exc}") from None
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value  # NaN excluded


class RecordingTerms:
    """A TermMap stand-in that remembers every expansion a parser asks for."""

    def __init__(self, terms: TermMap) -> None:
        self._terms = terms
        self.names: dict[str, str] = {}

    def expand(self, name: str) -> str:
        iri = self._terms.expand(name)
        self.names[name] = iri
        return iri

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._terms, attribute)


class ReplayTerms(RecordingTerms):
    """A TermMap stand-in that expands recorded names as recorded, others with the fallback map."""

    def __init__(self, names: dict[str, str], terms: TermMap) -> None:
        super().__init__(terms)
        self.names = names

    def expand(self, name: str) -> str:
        iri = self.names.get(name)
        return iri if iri is not None else self._terms.expand(name)


def replay_terms(names: dict[str, str], terms: TermMap) -> TermMap:
    return cast(TermMap, ReplayTerms(names, terms))
