"""Write semantics of the entity operations (broker.ngsild.update, broker.ngsild.merge)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from broker.ngsild.errors import BadRequestData, NgsiLdError, ResourceNotFound
from broker.ngsild.merge import is_ngsi_ld_null, merge_patch
from broker.ngsild.model import NGSI_LD_NULL, Entity, Instance
from broker.ngsild.update import (
    NO_OVERWRITE_REASON,
    NOTHING_TO_DELETE_REASON,
    AttributeChange,
    NotUpdated,
    UpdateResult,
    WriteOutcome,
    append_attributes,
    delete_attribute,
    deleted_entity_changes,
    merge_entity,
    partial_update_attribute,
    replace_attribute,
    replace_entity,
    update_attributes,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # when the stored entity was written
NOW = datetime(2026, 2, 1, 12, 30, tzinfo=UTC)  # the write under test

NS = "https://uri.etsi.org/ngsi-ld/default-context/"
ID = "urn:ngsi-ld:Building:1"
BUILDING, SHOP = NS + "Building", NS + "Shop"
TEMP, HUM, OWNER = NS + "temperature", NS + "humidity", NS + "owner"
ADDRESS, NAME, ACCURACY, SENSOR = NS + "address", NS + "name", NS + "accuracy", NS + "sensor"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
DS_A, DS_B = "urn:ngsi-ld:Dataset:a", "urn:ngsi-ld:Dataset:b"
OBSERVED = "2026-01-05T08:59:00Z"


def at(when: datetime, **members: Any) -> Instance:
    """An instance written at `when` (createdAt = modifiedAt = when)."""
    return {**members, "createdAt": when, "modifiedAt": when}


def rewritten(previous: Instance, **members: Any) -> Instance:
    """An instance rewritten now that was created with `previous`."""
    return {**members, "createdAt": previous["createdAt"], "modifiedAt": NOW}


def building(attrs: dict[str, list[Instance]], *, modified: datetime = T0, **members: Any) -> Entity:
    return {"id": ID, "type": [BUILDING], "createdAt": T0, "modifiedAt": modified, **members,
            "attrs": attrs}


def fragment(attrs: dict[str, list[Instance]] | None = None, **members: Any) -> Entity:
    return {"attrs": attrs or {}, **members}


def run(operation: Callable[..., WriteOutcome], *args: Any, **kwargs: Any) -> WriteOutcome:
    """Call the operation and check it left its inputs untouched."""
    before = copy.deepcopy((args, kwargs))
    outcome = operation(*args, **kwargs)
    assert (args, kwargs) == before, "an input was mutated"
    return outcome


def created(name: str, current: Instance) -> AttributeChange:
    return AttributeChange(name, "created", current.get("datasetId"), None, current)


def updated(name: str, previous: Instance, current: Instance) -> AttributeChange:
    return AttributeChange(name, "updated", current.get("datasetId"), previous, current)


def deleted(name: str, previous: Instance) -> AttributeChange:
    return AttributeChange(name, "deleted", previous.get("datasetId"), previous, None)


# The stored instances the tests start from.
TEMP_0 = at(T0, type="Property", value=21.5, unitCode="CEL", observedAt=OBSERVED,
            attrs={ACCURACY: at(T0, type="Property", value=0.5, unitCode="CEL"),
                   SENSOR: at(T0, type="Relationship", object="urn:ngsi-ld:Sensor:1")})
TEMP_A = at(T0, type="Property", value=19.0, datasetId=DS_A)
OWNER_0 = at(T0, type="Relationship", object="urn:ngsi-ld:Person:1")
ADDRESS_0 = at(T0, type="Property", value={"street": "Midosuji", "city": "Osaka", "zip": "530-0001"})
LOCATION_0 = at(T0, type="GeoProperty", value={"type": "Point", "coordinates": [135.5, 34.7]})
NAME_0 = at(T0, type="LanguageProperty", languageMap={"ja": "梅田ビル", "en": "Umeda Building"})


def stored() -> Entity:
    return building({TEMP: [TEMP_0, TEMP_A], OWNER: [OWNER_0], ADDRESS: [ADDRESS_0],
                     LOCATION: [LOCATION_0], NAME: [NAME_0]}, scope=["/Osaka/Kita"])


def with_attrs(entity: Entity, modified: datetime = NOW, **members: Any) -> Callable[..., Entity]:
    """`expected(**{name: instances})`: the entity with these attributes set (None: removed)."""
    def expected(changed: dict[str, list[Instance] | None]) -> Entity:
        attrs = {name: instances for name, instances in {**entity["attrs"], **changed}.items()
                 if instances is not None}
        return {**entity, "modifiedAt": modified, **members, "attrs": attrs}
    return expected


# ---------------------------------------------------------------------------------------------------
# Append Attributes (5.6.3)

HUM_NEW = at(NOW, type="Property", value=40)
TEMP_NEW = at(NOW, type="Property", value=25.0, observedAt="2026-02-01T12:29:00Z")
TEMP_B_NEW = at(NOW, type="Property", value=18.0, datasetId=DS_B)


def test_append_adds_a_new_attribute() -> None:
    entity = stored()
    outcome = run(append_attributes, entity, fragment({HUM: [HUM_NEW]}), overwrite=True, now=NOW)
    assert outcome == WriteOutcome(with_attrs(entity)({HUM: [HUM_NEW]}), [created(HUM, HUM_NEW)],
                                   UpdateResult([HUM], []))


def test_append_adds_an_instance_with_a_new_dataset_id() -> None:
    entity = stored()
    outcome = run(append_attributes, entity, fragment({TEMP: [TEMP_B_NEW]}), overwrite=False, now=NOW)
    assert outcome == WriteOutcome(with_attrs(entity)({TEMP: [TEMP_0, TEMP_A, TEMP_B_NEW]}),
                                   [created(TEMP, TEMP_B_NEW)], UpdateResult([TEMP], []))


def test_append_with_overwrite_replaces_the_whole_instance_keeping_created_at() -> None:
    entity = stored()
    outcome = run(append_attributes, entity, fragment({TEMP: [TEMP_NEW]}), overwrite=True, now=NOW)
    current = rewritten(TEMP_0, type="Property", value=25.0, observedAt="2026-02-01T12:29:00Z")
    assert outcome == WriteOutcome(with_attrs(entity)({TEMP: [current, TEMP_A]}),
                                   [updated(TEMP, TEMP_0, current)], UpdateResult([TEMP], []))


def test_append_with_no_overwrite_skips_existing_instances_and_leaves_the_entity_unchanged() -> None:
    entity = stored()
    temp_a = at(NOW, type="Property", value=1.0, datasetId=DS_A)
    outcome = run(append_attributes, entity, fragment({TEMP: [TEMP_NEW, temp_a]}), overwrite=False,
                  now=NOW)
    assert outcome == WriteOutcome(entity, [], UpdateResult([], [
        NotUpdated(TEMP, NO_OVERWRITE_REASON), NotUpdated(TEMP, NO_OVERWRITE_REASON, DS_A)]))
    assert outcome.entity is not entity
    assert not outcome.changed


def test_append_with_no_overwrite_adds_only_what_is_new() -> None:
    entity = stored()
    outcome = run(append_attributes, entity, fragment({TEMP: [TEMP_NEW], HUM: [HUM_NEW]}),
                  overwrite=False, now=NOW)
    assert outcome == WriteOutcome(with_attrs(entity)({HUM: [HUM_NEW]}), [created(HUM, HUM_NEW)],
                                   UpdateResult([HUM], [NotUpdated(TEMP, NO_OVERWRITE_REASON)]))


def test_append_adds_types_without_duplicates_and_replaces_scope() -> None:
    entity = stored()
    outcome = run(append_attributes, entity,
                  fragment(type=[BUILDING, SHOP, SHOP], scope=["/Osaka/Minami"]), overwrite=True, now=NOW)
    expected = with_attrs(entity, type=[BUILDING, SHOP], scope=["/Osaka/Minami"])({})
    assert outcome == WriteOutcome(expected, [], UpdateResult([], []))


def test_append_of_known_types_and_same_scope_changes_nothing() -> None:
    entity = stored()
    outcome = run(append_attributes, entity, fragment(type=[BUILDING], scope=["/Osaka/Kita"]),
                  overwrite=True, now=NOW)
    assert outcome == WriteOutcome(entity, [], UpdateResult([], []))


def test_append_copies_only_the_touched_instance_lists() -> None:
    entity = stored()
    outcome = append_attributes(entity, fragment({HUM: [HUM_NEW]}), overwrite=True, now=NOW)
    assert outcome.entity["attrs"] is not entity["attrs"]
    assert outcome.entity["attrs"][TEMP] is entity["attrs"][TEMP]
    assert outcome.entity["attrs"][HUM][0] is HUM_NEW


# ---------------------------------------------------------------------------------------------------
# Update Attributes (5.6.2)

def test_update_replaces_the_whole_instance_dropping_unmentioned_members() -> None:
    entity = stored()
    outcome = run(update_attributes, entity, fragment({TEMP: [at(NOW, type="Property", value=30)]}),
                  now=NOW)
    current = rewritten(TEMP_0, type="Property", value=30)
    assert outcome == WriteOutcome(with_attrs(entity)({TEMP: [current, TEMP_A]}),
                                   [updated(TEMP, TEMP_0, current)], UpdateResult([TEMP], []))


@pytest.mark.parametrize(("patch", "expected_attrs", "changes"), [
    pytest.param({HUM: [HUM_NEW]}, {HUM: [HUM_NEW]}, [created(HUM, HUM_NEW)],
                 id="absent attribute is appended"),
    pytest.param({TEMP: [TEMP_B_NEW]}, {TEMP: [TEMP_0, TEMP_A, TEMP_B_NEW]}, [created(TEMP, TEMP_B_NEW)],
                 id="unknown datasetId adds an instance"),
])
def test_update_appends_what_does_not_exist(patch: dict[str, list[Instance]],
                                            expected_attrs: dict[str, list[Instance]],
                                            changes: list[AttributeChange]) -> None:
    entity = stored()
    outcome = run(update_attributes, entity, fragment(patch), now=NOW)
    assert outcome == WriteOutcome(with_attrs(entity)(expected_attrs), changes,
                                   UpdateResult(list(patch), []))


NULL_PROPERTY = at(NOW, type="Property", value=NGSI_LD_NULL)


@pytest.mark.parametrize(("name", "null", "expected_attrs", "removed"), [
    pytest.param(TEMP, NULL_PROPERTY, {TEMP: [TEMP_A]}, TEMP_0, id="default instance"),
    pytest.param(TEMP, {**NULL_PROPERTY, "datasetId": DS_A}, {TEMP: [TEMP_0]}, TEMP_A, id="datasetId"),
    pytest.param(OWNER, at(NOW, type="Relationship", object=NGSI_LD_NULL), {OWNER: None}, OWNER_0,
                 id="last instance removes the attribute"),
    pytest.param(NAME, at(NOW, type="LanguageProperty", languageMap={"@none": NGSI_LD_NULL}),
                 {NAME: None}, NAME_0, id="languageMap marker"),
    pytest.param(LOCATION, at(NOW, type="GeoProperty", value=NGSI_LD_NULL), {LOCATION: None}, LOCATION_0,
                 id="GeoProperty"),
])
def test_update_with_null_deletes_the_instance(name: str, null: Instance,
                                               expected_attrs: dict[str, list[Instance] | None],
                                               removed: Instance) -> None:
    entity = stored()
    outcome = run(update_attributes, entity, fragment({name: [null]}), now=NOW)
    assert outcome == WriteOutcome(with_attrs(entity)(expected_attrs), [deleted(name, removed)],
                                   UpdateResult([name], []))


@pytest.mark.parametrize(("name", "null", "dataset_id"), [
    pytest.param(HUM, NULL_PROPERTY, None, id="absent attribute"),
    pytest.param(TEMP, {**NULL_PROPERTY, "datasetId": DS_B}, DS_B, id="absent datasetId"),
    pytest.param(ADDRESS, {**NULL_PROPERTY, "datasetId": DS_A}, DS_A, id="only a default instance"),
])
def test_update_with_null_on_a_missing_instance_reports_it_not_updated(name: str, null: Instance,
                                                                       dataset_id: str | None) -> None:
    entity = stored()
    outcome = run(update_attributes, entity, fragment({name: [null]}), now=NOW)
    assert outcome == WriteOutcome(entity, [], UpdateResult(
        [], [NotUpdated(name, NOTHING_TO_DELETE_REASON, dataset_id)]))


def test_update_reports_an_attribute_both_updated_and_not_updated_per_instance() -> None:
    entity = stored()
    outcome = run(update_attributes, entity,
                  fragment({TEMP: [{**NULL_PROPERTY, "datasetId": DS_B}, TEMP_NEW]}), now=NOW)
    current = rewritten(TEMP_0, type="Property", value=25.0, observedAt="2026-02-01T12:29:00Z")
    assert outcome == WriteOutcome(with_attrs(entity)({TEMP: [current, TEMP_A]}),
                                   [updated(TEMP, TEMP_0, current)],
                                   UpdateResult([TEMP], [NotUpdated(TEMP, NOTHING_TO_DELETE_REASON, DS_B)]))


@pytest.mark.parametrize("operation", [update_attributes, merge_entity])
def test_an_empty_type_list_in_a_fragment_changes_nothing(operation: Callable[..., WriteOutcome]) -> None:
    entity = stored()
    outcome = run(operation, entity, fragment(type=[]), now=NOW)
    assert outcome == WriteOutcome(entity, [], UpdateResult([], []))


def test_update_adds_types_and_replaces_scope_alongside_attributes() -> None:
    entity = stored()
    outcome = run(update_attributes, entity,
                  fragment({HUM: [HUM_NEW], OWNER: [at(NOW, type="Relationship", object=NGSI_LD_NULL)]},
                           type=[SHOP], scope=["/Kyoto"]), now=NOW)
    expected = with_attrs(entity, type=[BUILDING, SHOP], scope=["/Kyoto"])({HUM: [HUM_NEW], OWNER: None})
    assert outcome == WriteOutcome(expected, [created(HUM, HUM_NEW), deleted(OWNER, OWNER_0)],
                                   UpdateResult([HUM, OWNER], []))


# ---------------------------------------------------------------------------------------------------
# Merge Entity (5.6.17, merge-patch 5.5.12)

def test_merge_overwrites_given_members_and_keeps_the_others() -> None:
    entity = stored()
    outcome = run(merge_entity, entity, fragment({TEMP: [at(NOW, type="Property", value=30)]}), now=NOW)
    current = rewritten(TEMP_0, type="Property", value=30, unitCode="CEL", observedAt=OBSERVED,
                        attrs=TEMP_0["attrs"])
    assert outcome == WriteOutcome(with_attrs(entity)({TEMP: [current, TEMP_A]}),
                                   [updated(TEMP, TEMP_0, current)], UpdateResult([TEMP], []))


def test_merge_adds_new_attributes_and_instances() -> None:
    entity = stored()
    outcome = run(merge_entity, entity, fragment({HUM: [HUM_NEW], TEMP: [TEMP_B_NEW]}), now=NOW)
    assert outcome == WriteOutcome(with_attrs(entity)({HUM: [HUM_NEW], TEMP: [TEMP_0, TEMP_A, TEMP_B_NEW]}),
                                   [created(HUM, HUM_NEW), created(TEMP, TEMP_B_NEW)],
                                   UpdateResult([HUM, TEMP], []))


def test_merge_merges_sub_attributes_recursively() -> None:
    entity = stored()
    patch = {"attrs": {ACCURACY: at(NOW, type="Property", value=0.2),
                       SENSOR: at(NOW, type="Relationship", object=NGSI_LD_NULL),
                       NS + "calibrated": at(NOW, type="Property", value=True)}}
    outcome = run(merge_entity, entity, fragment({TEMP: [patch]}), now=NOW)
    accuracy = rewritten(TEMP_0["attrs"][ACCURACY], type="Property", value=0.2, unitCode="CEL")
    current = rewritten(TEMP_0, type="Property", value=21.5, unitCode="CEL", observedAt=OBSERVED,
                        attrs={ACCURACY: accuracy, NS + "calibrated": at(NOW, type="Property", value=True)})
    assert outcome == WriteOutcome(with_attrs(entity)({TEMP: [current, TEMP_A]}),
                                   [updated(TEMP, TEMP_0, current)], UpdateResult([TEMP], []))


def test_merge_removes_the_sub_attributes_member_when_the_last_one_is_nulled() -> None:
    entity = building({TEMP: [at(T0, type="Property", value=1, attrs={ACCURACY: at(T0, type="Property",
                                                                                     value=0.5)})]})
    patch = {"attrs": {ACCURACY: {"value": NGSI_LD_NULL}}}
    outcome = run(merge_entity, entity, fragment({TEMP: [patch]}), now=NOW)
    current = rewritten(entity["attrs"][TEMP][0], type="Property", value=1)
    assert outcome == WriteOutcome(building({TEMP: [current]}, modified=NOW),
                                   [updated(TEMP, entity["attrs"][TEMP][0], current)],
                                   UpdateResult([TEMP], []))


def test_merge_merges_json_object_values_per_rfc_7396() -> None:
    entity = stored()
    patch = at(NOW, type="Property", value={"city": "Sakai", "zip": None, "floor": {"n": 3, "x": None}})
    outcome = run(merge_entity, entity, fragment({ADDRESS: [patch]}), now=NOW)
    current = rewritten(ADDRESS_0, type="Property",
                        value={"street": "Midosuji", "city": "Sakai", "floor": {"n": 3}})
    assert outcome == WriteOutcome(with_attrs(entity)({ADDRESS: [current]}),
                                   [updated(ADDRESS, ADDRESS_0, current)], UpdateResult([ADDRESS], []))


@pytest.mark.parametrize(("name", "previous", "patch"), [
    pytest.param(LOCATION, LOCATION_0,
                 at(NOW, type="GeoProperty", value={"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}),
                 id="GeoProperty geometry"),
    pytest.param(NAME, NAME_0, at(NOW, type="LanguageProperty", languageMap={"fr": "Immeuble Umeda"}),
                 id="languageMap"),
    pytest.param(ADDRESS, ADDRESS_0, at(NOW, type="Property", value="Midosuji 1, Osaka"),
                 id="object value by a string"),
])
def test_merge_replaces_non_property_and_non_object_values_whole(name: str, previous: Instance,
                                                                  patch: Instance) -> None:
    entity = stored()
    outcome = run(merge_entity, entity, fragment({name: [patch]}), now=NOW)
    current = {**patch, "createdAt": T0}
    assert outcome == WriteOutcome(with_attrs(entity)({name: [current]}), [updated(name, previous, current)],
                                   UpdateResult([name], []))


def test_merge_with_a_type_change_replaces_the_instance() -> None:
    entity = stored()
    patch = at(NOW, type="Relationship", object="urn:ngsi-ld:Sensor:9")
    outcome = run(merge_entity, entity, fragment({TEMP: [patch]}), now=NOW)
    current = rewritten(TEMP_0, type="Relationship", object="urn:ngsi-ld:Sensor:9")
    assert outcome == WriteOutcome(with_attrs(entity)({TEMP: [current, TEMP_A]}),
                                   [updated(TEMP, TEMP_0, current)], UpdateResult([TEMP], []))


def test_merge_with_null_deletes_instances_and_reports_missing_ones() -> None:
    entity = stored()
    outcome = run(merge_entity, entity, fragment({
        TEMP: [{**NULL_PROPERTY, "datasetId": DS_A}], HUM: [NULL_PROPERTY]}), now=NOW)
    assert outcome == WriteOutcome(with_attrs(entity)({TEMP: [TEMP_0]}), [deleted(TEMP, TEMP_A)],
                                   UpdateResult([TEMP], [NotUpdated(HUM, NOTHING_TO_DELETE_REASON)]))


def test_merge_with_null_metadata_removes_that_member() -> None:
    entity = stored()
    outcome = run(merge_entity, entity, fragment({TEMP: [{"unitCode": NGSI_LD_NULL}]}), now=NOW)
    current = rewritten(TEMP_0, type="Property", value=21.5, observedAt=OBSERVED, attrs=TEMP_0["attrs"])
    assert outcome == WriteOutcome(with_attrs(entity)({TEMP: [current, TEMP_A]}),
                                   [updated(TEMP, TEMP_0, current)], UpdateResult([TEMP], []))


def test_merge_with_observed_at_restamps_instances_that_had_one() -> None:
    temp_a_0, hum_0 = {**TEMP_A, "observedAt": OBSERVED}, at(T0, type="Property", value=40)
    entity = building({TEMP: [TEMP_0, temp_a_0], HUM: [hum_0]})
    stamp_time = "2026-02-01T12:00:00Z"
    own_time = "2026-02-01T11:00:00Z"
    owner_new = at(NOW, type="Relationship", object="urn:ngsi-ld:Person:2")
    outcome = run(merge_entity, entity, fragment({
        TEMP: [{"value": 22}, {"value": 20, "datasetId": DS_A, "observedAt": own_time}],
        HUM: [{"value": 41}],
        OWNER: [owner_new],
    }), now=NOW, observed_at=stamp_time)
    temp = rewritten(TEMP_0, type="Property", value=22, unitCode="CEL", observedAt=stamp_time,
                     attrs=TEMP_0["attrs"])
    temp_a = rewritten(TEMP_A, type="Property", value=20, datasetId=DS_A, observedAt=own_time)
    hum = rewritten(hum_0, type="Property", value=41)
    assert outcome == WriteOutcome(
        building({TEMP: [temp, temp_a], HUM: [hum], OWNER: [owner_new]}, modified=NOW),
        [updated(TEMP, TEMP_0, temp), updated(TEMP, temp_a_0, temp_a), updated(HUM, hum_0, hum),
         created(OWNER, owner_new)],
        UpdateResult([TEMP, HUM, OWNER], []))


def test_merge_of_a_new_object_value_drops_its_json_nulls_as_rfc_7396_does() -> None:
    entity = stored()
    patch = at(NOW, type="Property", value={"a": 1, "b": None})
    outcome = run(merge_entity, entity, fragment({HUM: [patch]}), now=NOW)
    current = at(NOW, type="Property", value={"a": 1})
    assert outcome == WriteOutcome(with_attrs(entity)({HUM: [current]}), [created(HUM, current)],
                                   UpdateResult([HUM], []))


def test_merge_adds_types_and_replaces_scope() -> None:
    entity = stored()
    outcome = run(merge_entity, entity, fragment(type=[SHOP], scope=["/Kyoto", "/Nara"]), now=NOW)
    assert outcome == WriteOutcome(with_attrs(entity, type=[BUILDING, SHOP], scope=["/Kyoto", "/Nara"])({}),
                                   [], UpdateResult([], []))


# ---------------------------------------------------------------------------------------------------
# Partial Attribute Update (5.6.4, 5.5.8)

@pytest.mark.parametrize(("name", "patch", "expected"), [
    pytest.param(TEMP, [{"value": 56}],
                 [rewritten(TEMP_0, type="Property", value=56, unitCode="CEL", observedAt=OBSERVED,
                            attrs=TEMP_0["attrs"]), TEMP_A],
                 id="value only, unitCode and sub-attributes kept"),
    pytest.param(TEMP, [{"type": "Property", "value": 56, "datasetId": DS_A, "unitCode": "FAH"}],
                 [TEMP_0, rewritten(TEMP_A, type="Property", value=56, datasetId=DS_A, unitCode="FAH")],
                 id="datasetId targets that instance"),
    pytest.param(TEMP, [{"attrs": {ACCURACY: at(NOW, type="Property", value=0.1)}}],
                 [rewritten(TEMP_0, type="Property", value=21.5, unitCode="CEL", observedAt=OBSERVED,
                            attrs={ACCURACY: rewritten(TEMP_0["attrs"][ACCURACY], type="Property", value=0.1),
                                   SENSOR: TEMP_0["attrs"][SENSOR]}), TEMP_A],
                 id="a given sub-attribute is replaced whole, others kept"),
    pytest.param(TEMP, [{"attrs": {SENSOR: {"object": NGSI_LD_NULL}}}],
                 [rewritten(TEMP_0, type="Property", value=21.5, unitCode="CEL", observedAt=OBSERVED,
                            attrs={ACCURACY: TEMP_0["attrs"][ACCURACY]}), TEMP_A],
                 id="a Null sub-attribute is deleted"),
    pytest.param(ADDRESS, [{"value": {"city": "Sakai"}}],
                 [rewritten(ADDRESS_0, type="Property", value={"city": "Sakai"})],
                 id="object value replaced whole, no JSON merge"),
    pytest.param(LOCATION, [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [0, 1]}}],
                 [rewritten(LOCATION_0, type="GeoProperty", value={"type": "Point", "coordinates": [0, 1]})],
                 id="GeoProperty value replaced whole"),
    pytest.param(TEMP, [{"value": 56, "createdAt": NOW, "modifiedAt": T0}],
                 [rewritten(TEMP_0, type="Property", value=56, unitCode="CEL", observedAt=OBSERVED,
                            attrs=TEMP_0["attrs"]), TEMP_A],
                 id="client system timestamps ignored"),
])
def test_partial_update_overwrites_only_the_given_members(name: str, patch: list[Instance],
                                                          expected: list[Instance]) -> None:
    entity = stored()
    outcome = run(partial_update_attribute, entity, name, patch, now=NOW)
    previous = entity["attrs"][name]
    changes = [updated(name, old, new) for old, new in zip(previous, expected, strict=True) if old is not new]
    assert outcome == WriteOutcome(with_attrs(entity)({name: expected}), changes, UpdateResult([name], []))


def test_partial_update_with_null_deletes_the_instance() -> None:
    entity = stored()
    outcome = run(partial_update_attribute, entity, TEMP, [{"value": NGSI_LD_NULL, "datasetId": DS_A}],
                  now=NOW)
    assert outcome == WriteOutcome(with_attrs(entity)({TEMP: [TEMP_0]}), [deleted(TEMP, TEMP_A)],
                                   UpdateResult([TEMP], []))


@pytest.mark.parametrize(("name", "patch", "error", "detail"), [
    pytest.param(HUM, [{"value": 1}], ResourceNotFound, f"Entity {ID} has no attribute {HUM}",
                 id="unknown attribute"),
    pytest.param(TEMP, [{"value": 1, "datasetId": DS_B}], ResourceNotFound,
                 f"Attribute {TEMP} has no instance with datasetId {DS_B}", id="unknown datasetId"),
    pytest.param(NS + "multi", [{"value": 1}], ResourceNotFound,
                 f"Attribute {NS}multi has no default instance and no datasetId was given",
                 id="no default instance"),
    pytest.param(TEMP, [{"type": "Relationship", "object": "urn:ngsi-ld:X:1"}], BadRequestData,
                 f"Partial update cannot change the type of attribute {TEMP} from Property to Relationship",
                 id="type change"),
])
def test_partial_update_errors(name: str, patch: list[Instance], error: type[NgsiLdError],
                               detail: str) -> None:
    entity = building({**stored()["attrs"], NS + "multi": [TEMP_A]})
    with pytest.raises(error) as raised:
        run(partial_update_attribute, entity, name, patch, now=NOW)
    assert raised.value.detail == detail


# ---------------------------------------------------------------------------------------------------
# Replace Attribute (5.6.19)

def test_replace_attribute_replaces_instances_whole_and_may_change_the_type() -> None:
    entity = stored()
    new_default = at(NOW, type="Relationship", object="urn:ngsi-ld:Sensor:3")
    outcome = run(replace_attribute, entity, TEMP, [new_default, TEMP_B_NEW], now=NOW)
    current = {**new_default, "createdAt": T0}
    assert outcome == WriteOutcome(with_attrs(entity)({TEMP: [current, TEMP_A, TEMP_B_NEW]}),
                                   [updated(TEMP, TEMP_0, current), created(TEMP, TEMP_B_NEW)],
                                   UpdateResult([TEMP], []))


def test_replace_attribute_of_an_unknown_attribute_is_not_found() -> None:
    with pytest.raises(ResourceNotFound):
        run(replace_attribute, stored(), HUM, [HUM_NEW], now=NOW)


# ---------------------------------------------------------------------------------------------------
# Delete Attribute (5.6.5)

@pytest.mark.parametrize(("name", "dataset_id", "delete_all", "expected_attrs", "removed"), [
    pytest.param(TEMP, None, False, {TEMP: [TEMP_A]}, [TEMP_0], id="default instance"),
    pytest.param(TEMP, DS_A, False, {TEMP: [TEMP_0]}, [TEMP_A], id="datasetId"),
    pytest.param(TEMP, None, True, {TEMP: None}, [TEMP_0, TEMP_A], id="deleteAll"),
    pytest.param(OWNER, None, False, {OWNER: None}, [OWNER_0], id="last instance removes the name"),
])
def test_delete_attribute(name: str, dataset_id: str | None, delete_all: bool,
                          expected_attrs: dict[str, list[Instance] | None], removed: list[Instance]) -> None:
    entity = stored()
    outcome = run(delete_attribute, entity, name, dataset_id=dataset_id, delete_all=delete_all, now=NOW)
    assert outcome == WriteOutcome(with_attrs(entity)(expected_attrs),
                                   [deleted(name, instance) for instance in removed],
                                   UpdateResult([name], []))


@pytest.mark.parametrize(("name", "dataset_id", "detail"), [
    pytest.param(HUM, None, f"Entity {ID} has no attribute {HUM}", id="unknown attribute"),
    pytest.param(HUM, DS_A, f"Entity {ID} has no attribute {HUM}", id="unknown attribute, datasetId"),
    pytest.param(TEMP, DS_B, f"Attribute {TEMP} has no instance with datasetId {DS_B}",
                 id="unknown datasetId"),
    pytest.param(NS + "multi", None,
                 f"Attribute {NS}multi has no default instance and no datasetId was given",
                 id="no default instance"),
])
def test_delete_attribute_not_found(name: str, dataset_id: str | None, detail: str) -> None:
    entity = building({**stored()["attrs"], NS + "multi": [TEMP_A]})
    with pytest.raises(ResourceNotFound) as raised:
        run(delete_attribute, entity, name, dataset_id=dataset_id, delete_all=False, now=NOW)
    assert raised.value.detail == detail


# ---------------------------------------------------------------------------------------------------
# Replace Entity (5.6.18) and Delete Entity

def test_replace_entity_replaces_attributes_type_scope_and_keeps_created_at() -> None:
    entity = building({TEMP: [TEMP_0, TEMP_A], OWNER: [OWNER_0]}, scope=["/Osaka"])
    temp_new, temp_b = at(NOW, type="Property", value=1), at(NOW, type="Property", value=2, datasetId=DS_B)
    replacement = {"id": ID, "type": [SHOP], "expiresAt": "2027-01-01T00:00:00Z", "createdAt": NOW,
                   "modifiedAt": NOW, "attrs": {TEMP: [temp_new, temp_b], HUM: [HUM_NEW]}}
    outcome = run(replace_entity, entity, replacement, now=NOW)
    temp = {**temp_new, "createdAt": T0}
    assert outcome == WriteOutcome(
        {"id": ID, "type": [SHOP], "expiresAt": "2027-01-01T00:00:00Z", "createdAt": T0, "modifiedAt": NOW,
         "attrs": {TEMP: [temp, temp_b], HUM: [HUM_NEW]}},
        [updated(TEMP, TEMP_0, temp), created(TEMP, temp_b), created(HUM, HUM_NEW),
         deleted(TEMP, TEMP_A), deleted(OWNER, OWNER_0)],
        UpdateResult([TEMP, HUM, OWNER], []))


def test_replace_entity_never_empties_the_type_list() -> None:
    entity = building({OWNER: [OWNER_0]})
    outcome = run(replace_entity, entity, {"id": ID, "type": [], "attrs": {}}, now=NOW)
    assert outcome == WriteOutcome(building({}, modified=NOW), [deleted(OWNER, OWNER_0)],
                                   UpdateResult([OWNER], []))


def test_deleted_entity_changes_lists_every_instance() -> None:
    assert deleted_entity_changes(building({TEMP: [TEMP_0, TEMP_A], OWNER: [OWNER_0]})) == [
        deleted(TEMP, TEMP_0), deleted(TEMP, TEMP_A), deleted(OWNER, OWNER_0)]


# ---------------------------------------------------------------------------------------------------
# The building blocks

@pytest.mark.parametrize(("instance", "expected"), [
    ({"type": "Property", "value": NGSI_LD_NULL}, True),
    ({"value": NGSI_LD_NULL}, True),
    ({"type": "Relationship", "object": NGSI_LD_NULL}, True),
    ({"type": "VocabProperty", "vocab": NGSI_LD_NULL}, True),
    ({"type": "JsonProperty", "json": NGSI_LD_NULL}, True),
    ({"type": "ListProperty", "valueList": NGSI_LD_NULL}, True),
    ({"type": "ListProperty", "valueList": [NGSI_LD_NULL]}, True),
    ({"type": "ListRelationship", "objectList": NGSI_LD_NULL}, True),
    ({"type": "LanguageProperty", "languageMap": {"@none": NGSI_LD_NULL}}, True),
    ({"type": "LanguageProperty", "languageMap": {"@none": NGSI_LD_NULL, "ja": "x"}}, False),
    ({"type": "Property", "value": [NGSI_LD_NULL]}, False),
    ({"type": "Property", "value": {"a": NGSI_LD_NULL}}, False),
    ({"type": "Property", "value": 0}, False),
    ({"unitCode": NGSI_LD_NULL}, False),
])
def test_is_ngsi_ld_null(instance: Instance, expected: bool) -> None:
    assert is_ngsi_ld_null(instance) is expected


@pytest.mark.parametrize(("target", "patch", "expected"), [  # RFC 7396 Appendix A
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch_follows_rfc_7396(target: Any, patch: Any, expected: Any) -> None:
    before = copy.deepcopy(target)
    assert merge_patch(target, patch) == expected
    assert target == before


def test_purge_keep_deletes_every_other_attribute_and_drop_only_the_named_ones():
    from broker.ngsild.update import purge_attributes
    now = datetime(2026, 12, 1, tzinfo=UTC)
    entity = {"id": "urn:ngsi-ld:T:1", "type": ["T"], "createdAt": now, "modifiedAt": now,
              "attrs": {"a": [{"type": "Property", "value": 1}], "b": [{"type": "Property", "value": 2}],
                        "c": [{"type": "Property", "value": 3}]}}
    kept = purge_attributes(entity, keep=frozenset({"a"}), now=now)
    assert set(kept.entity["attrs"]) == {"a"}
    assert sorted((c.name, c.kind) for c in kept.changes) == [("b", "deleted"), ("c", "deleted")]
    dropped = purge_attributes(entity, drop=frozenset({"a", "z"}), now=now)
    assert set(dropped.entity["attrs"]) == {"b", "c"}
    assert set(entity["attrs"]) == {"a", "b", "c"}
    assert not purge_attributes(entity, drop=frozenset({"z"}), now=now).changed
