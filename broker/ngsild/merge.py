"""How one attribute instance absorbs a patch: partial update (5.5.8, 5.6.4) and merge-patch (5.5.12).

Pure functions on the expanded instance shape of `broker.ngsild.model`. They return new dicts and
never mutate their arguments; untouched members and nested values are shared with the old instance,
not copied (this is the write hot path).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from broker.ngsild.model import NGSI_LD_NULL, PROPERTY, Instance

#: value members whose NGSI-LD Null marks "delete this instance" (5.5.8, 5.5.12)
_NULLABLE_VALUE_MEMBERS = ("value", "object", "vocab", "json", "valueList", "objectList")
#: list-valued members where the parser may also hand us the Null wrapped in a one-item list
_LIST_VALUE_MEMBERS = ("valueList", "objectList", "vocab", "object")
_NULL_LANGUAGE_MAP = {"@none": NGSI_LD_NULL}
#: metadata members a patch may remove by setting them to the NGSI-LD Null
_REMOVABLE_METADATA = frozenset({"observedAt", "unitCode", "expiresAt", "valueType", "objectType"})
#: the broker sets these; a patch never overwrites them
_SYSTEM_MEMBERS = frozenset({"createdAt", "modifiedAt"})


def is_ngsi_ld_null(instance: Instance) -> bool:
    """True when the instance is the deletion marker: its value member is the NGSI-LD Null (5.2.1)."""
    for member in _NULLABLE_VALUE_MEMBERS:
        if member in instance:
            value = instance[member]
            if value == NGSI_LD_NULL:
                return True
            if member in _LIST_VALUE_MEMBERS and value == [NGSI_LD_NULL]:
                return True
    return instance.get("languageMap") == _NULL_LANGUAGE_MAP


def created_at(previous: Instance | None, now: datetime) -> datetime:
    """The createdAt a rewritten instance keeps: the previous one's, or now for a new instance."""
    if previous is None:
        return now
    return previous.get("createdAt", now)


def stamp(instance: Instance, *, created: datetime, now: datetime) -> Instance:
    """The instance with system timestamps set; the same object when they are already right."""
    if instance.get("createdAt") == created and instance.get("modifiedAt") == now:
        return instance
    return {**instance, "createdAt": created, "modifiedAt": now}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: objects merge key by key, a JSON null removes a key, else replace."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def merge_instance(previous: Instance | None, patch: Instance, *, now: datetime) -> Instance:
    """Merge-patch (5.5.12): members given overwrite, others are kept, sub-attributes merge recursively.

    A Property value that is a JSON object merges per RFC 7396. A patch whose `type` differs from the
    previous instance's replaces it (createdAt still kept). The caller handles a Null patch.
    """
    created = created_at(previous, now)
    if previous is None or patch.get("type", previous.get("type")) != previous.get("type"):
        previous = {}
    is_property = patch.get("type", previous.get("type", PROPERTY)) == PROPERTY
    result = dict(previous)
    for member, value in patch.items():
        if member == "attrs":
            _set_sub_attributes(result, _merge_sub_attributes(previous.get("attrs"), value, now=now))
        elif member == "value" and is_property and isinstance(value, dict):
            result["value"] = merge_patch(previous.get("value"), value)
        else:
            _overwrite_member(result, member, value)
    result["createdAt"] = created
    result["modifiedAt"] = now
    return result


def overlay_instance(previous: Instance, patch: Instance, *, now: datetime) -> Instance:
    """Partial update (5.5.8): members and sub-attributes given replace theirs whole, others are kept."""
    result = dict(previous)
    for member, value in patch.items():
        if member == "attrs":
            _set_sub_attributes(result, _overlay_sub_attributes(previous.get("attrs"), value, now=now))
        else:
            _overwrite_member(result, member, value)
    result["createdAt"] = created_at(previous, now)
    result["modifiedAt"] = now
    return result


def _overwrite_member(result: Instance, member: str, value: Any) -> None:
    if member in _SYSTEM_MEMBERS:
        return
    if member in _REMOVABLE_METADATA and value == NGSI_LD_NULL:
        result.pop(member, None)
    else:
        result[member] = value


def _merge_sub_attributes(previous: dict[str, Instance] | None, patch: dict[str, Instance], *,
                          now: datetime) -> dict[str, Instance]:
    result = dict(previous or {})
    for name, sub_patch in patch.items():
        if is_ngsi_ld_null(sub_patch):
            result.pop(name, None)
        else:
            result[name] = merge_instance(result.get(name), sub_patch, now=now)
    return result


def _overlay_sub_attributes(previous: dict[str, Instance] | None, patch: dict[str, Instance], *,
                            now: datetime) -> dict[str, Instance]:
    result = dict(previous or {})
    for name, sub_patch in patch.items():
        if is_ngsi_ld_null(sub_patch):
            result.pop(name, None)
        else:
            result[name] = stamp(sub_patch, created=created_at(result.get(name), now), now=now)
    return result


def _set_sub_attributes(result: Instance, sub_attributes: dict[str, Instance]) -> None:
    if sub_attributes:
        result["attrs"] = sub_attributes
    else:
        result.pop("attrs", None)
