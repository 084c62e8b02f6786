"""Which triggers an entity event fires, and the data items notifications carry (5.8.6, 5.3.1)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from broker.ngsild.context import core_term_map
from broker.ngsild.notification import EntityEvent, fired_triggers, notification_item, notification_payload
from broker.ngsild.params import RenderOptions
from broker.ngsild.update import AttributeChange

T = core_term_map()
NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
TEMP, HUM = T.expand("temperature"), T.expand("humidity")
OLD = {"type": "Property", "value": 20, "createdAt": NOW, "modifiedAt": NOW}
NEW = {"type": "Property", "value": 25, "createdAt": NOW, "modifiedAt": NOW}
ENTITY = {"id": "urn:ngsi-ld:Sensor:1", "type": [T.expand("Sensor")], "createdAt": NOW, "modifiedAt": NOW,
          "attrs": {TEMP: [NEW], HUM: [OLD]}}


def change(name, kind, previous=None, current=None):
    return AttributeChange(name, kind, None, previous, current)


@pytest.mark.parametrize(("event", "watched", "expected"), [
    (EntityEvent("created", ENTITY, [change(TEMP, "created", None, NEW)]), None,
     {"entityCreated", "attributeCreated"}),
    (EntityEvent("created", ENTITY, [change(TEMP, "created", None, NEW)]), frozenset({T.expand("other")}), set()),
    (EntityEvent("updated", ENTITY, [change(TEMP, "updated", OLD, NEW)]), None,
     {"entityUpdated", "attributeUpdated"}),
    (EntityEvent("updated", ENTITY, [change(TEMP, "updated", OLD, NEW)]), frozenset({HUM}), set()),
    (EntityEvent("updated", ENTITY, [change(HUM, "deleted", OLD, None)]), frozenset({HUM}),
     {"entityUpdated", "attributeDeleted"}),
    (EntityEvent("deleted", ENTITY, []), None, {"entityDeleted", "attributeDeleted"}),
    (EntityEvent("deleted", ENTITY, []), frozenset({T.expand("other")}), {"entityDeleted"}),
])
def test_fired_triggers(event, watched, expected):
    assert fired_triggers(event, watched) == expected


def test_a_deleted_entity_is_id_type_and_deleted_at_only():
    item = notification_item(EntityEvent("deleted", ENTITY, [], NOW), T, RenderOptions(), show_changes=True, now=NOW)
    assert item == {"id": "urn:ngsi-ld:Sensor:1", "type": "Sensor", "deletedAt": "2026-11-30T06:00:00.000Z"}


def test_show_changes_adds_previous_values_in_normalized_format_only():
    event = EntityEvent("updated", ENTITY, [change(TEMP, "updated", OLD, NEW)], NOW)
    normalized = notification_item(event, T, RenderOptions(), show_changes=True, now=NOW)
    assert normalized["temperature"] == {"type": "Property", "value": 25, "previousValue": 20}
    key_values = notification_item(event, T, RenderOptions(format="keyValues"), show_changes=True, now=NOW)
    assert key_values["temperature"] == 25


def test_a_deleted_attribute_is_rendered_as_ngsi_ld_null():
    entity = {**ENTITY, "attrs": {TEMP: [NEW]}}
    event = EntityEvent("updated", entity, [change(HUM, "deleted", OLD, None)], NOW)
    assert notification_item(event, T, RenderOptions(), show_changes=False, now=NOW)["humidity"] == {
        "type": "Property", "value": "urn:ngsi-ld:null"}
    assert notification_item(event, T, RenderOptions(format="keyValues"), show_changes=False,
                             now=NOW)["humidity"] == "urn:ngsi-ld:null"


def test_payload_shape():
    payload = notification_payload("urn:ngsi-ld:Subscription:1", [{"id": "x"}], NOW)
    assert payload["id"].startswith("urn:ngsi-ld:Notification:")
    assert {k: v for k, v in payload.items() if k != "id"} == {
        "type": "Notification", "subscriptionId": "urn:ngsi-ld:Subscription:1",
        "notifiedAt": "2026-11-30T06:00:00.000Z", "data": [{"id": "x"}]}
