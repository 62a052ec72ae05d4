"""Tooling API create/read/delete for the setup a BYOC partner wizard performs.

``POST /services/data/vXX.X/tooling/sobjects/{type}`` with ``{"FullName", "Metadata"}`` for:

- ``CustomObject`` ``Foo__e``: a platform event (``org.platform_events``), with no fields yet;
- ``CustomField`` ``Foo__e.Bar__c``: a field on that event (``Metadata.type``: Text, LongTextArea, ...);
- ``ConversationVendorInfo`` and ``ConversationChannelDefinition``: records the Interaction Service
  reads, with the Metadata keys turned into fields (``customPlatformEvent`` -> ``CustomPlatformEvent``).

Success is ``201 {"id", "success": true, "errors": [], "warnings": [], "infos": []}``.
"""

from __future__ import annotations

import re

from . import schema
from .orgs_fixture import add_platform_event
from .schema import TOOLING, ObjectDef, stable_id
from .sobjects import Answer, Context, find, not_found, read, sf_error

CREATABLE = ("ConversationVendorInfo", "ConversationChannelDefinition", "CustomObject", "CustomField")
API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# Defaults a CCD gets when the Metadata leaves them out (the same fields the fixture loader writes).
CCD_DEFAULTS = {
    "RoutingOwner": "Salesforce",
    "ConsentOwner": "Salesforce",
    "IsTypingIndicatorDisabled": False,
    "IsInboundReceiptsEnabled": False,
    "ConnectedAppType": "Customer",
}


def tooling_object(name: str) -> ObjectDef | None:
    return schema.lookup(name, TOOLING)


def created(record_id: str) -> Answer:
    return Answer(201, {"id": record_id, "success": True, "errors": [], "warnings": [], "infos": []})


def duplicate(full_name: str, label: str) -> Answer:
    return sf_error(
        400,
        "DUPLICATE_DEVELOPER_NAME",
        f"The {label} '{full_name}' already exists. Choose a unique developer name.",
        [],
    )


def _missing(*names: str) -> Answer:
    return sf_error(
        400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(names)}]", list(names)
    )


def create(ctx: Context, sobject: str, body) -> Answer:
    obj = tooling_object(sobject)
    if obj is None:
        return not_found()
    if obj.name not in CREATABLE:
        return sf_error(400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {obj.label}")
    if not isinstance(body, dict):
        return sf_error(
            400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of {obj.name} from START_ARRAY value"
        )
    for key in body:
        if key not in ("FullName", "Metadata", "attributes"):
            return sf_error(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}")
    full_name, metadata = body.get("FullName"), body.get("Metadata")
    missing = [name for name, value in (("FullName", full_name), ("Metadata", metadata)) if not value]
    if missing:
        return _missing(*missing)
    if not isinstance(full_name, str) or not isinstance(metadata, dict):
        return sf_error(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of string from START_OBJECT value"
        )
    handler = {
        "CustomObject": _create_custom_object,
        "CustomField": _create_custom_field,
        "ConversationVendorInfo": _create_vendor_info,
        "ConversationChannelDefinition": _create_channel_definition,
    }[obj.name]
    return handler(ctx, full_name, metadata)


def _create_custom_object(ctx: Context, full_name: str, metadata: dict) -> Answer:
    if not full_name.endswith("__e") or not API_NAME.fullmatch(full_name):
        # The sandbox only keeps platform events; custom objects (__c) have no sObject API here.
        return sf_error(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            f"Only platform events (__e) can be created here: {full_name}",
            [],
        )
    if full_name in ctx.org.platform_events:
        return duplicate(full_name, "custom object")
    if not metadata.get("label"):
        return _missing("Label")
    add_platform_event(ctx.org, {"api_name": full_name, "label": metadata["label"], "fields": {}})
    return created(stable_id(ctx.org, "CustomObject", full_name))


def _create_custom_field(ctx: Context, full_name: str, metadata: dict) -> Answer:
    object_name, _, field_name = full_name.partition(".")
    if not field_name or not field_name.endswith("__c") or not API_NAME.fullmatch(field_name):
        return sf_error(400, "INVALID_FIELD", f"Invalid custom field name: {full_name}", ["FullName"])
    event = ctx.org.platform_events.get(object_name)
    if event is None:
        return sf_error(
            400,
            "INVALID_CROSS_REFERENCE_KEY",
            f"invalid cross reference id: no custom object {object_name}",
            [],
        )
    if field_name in event.fields:
        return duplicate(full_name, "custom field")
    if not metadata.get("type"):
        return _missing("Type")
    event.fields[field_name] = str(metadata["type"])
    return created(stable_id(ctx.org, "CustomField", full_name))


def _fields_from_metadata(metadata: dict) -> dict:
    """``{"customPlatformEvent": ...}`` -> ``{"CustomPlatformEvent": ...}`` (Salesforce's field casing)."""
    return {key[:1].upper() + key[1:]: value for key, value in metadata.items() if key}


def _create_vendor_info(ctx: Context, full_name: str, metadata: dict) -> Answer:
    records = ctx.org.records
    if records.first("ConversationVendorInfo", DeveloperName=full_name):
        return duplicate(full_name, "conversation vendor info")
    fields = _fields_from_metadata(metadata)
    fields["DeveloperName"] = full_name
    fields.setdefault("MasterLabel", full_name)
    fields.setdefault("NamespacePrefix", None)
    row = records.insert("ConversationVendorInfo", fields)
    return created(row["Id"])


def _create_channel_definition(ctx: Context, full_name: str, metadata: dict) -> Answer:
    org = ctx.org
    if org.records.first("ConversationChannelDefinition", DeveloperName=full_name):
        return duplicate(full_name, "conversation channel definition")
    fields = {**CCD_DEFAULTS, **_fields_from_metadata(metadata)}
    fields["DeveloperName"] = full_name
    fields.setdefault("MasterLabel", full_name)
    fields.setdefault("NamespacePrefix", None)
    event_name = fields.get("CustomPlatformEvent")
    if not event_name:
        return _missing("CustomPlatformEvent")
    event = org.platform_events.get(event_name)
    if event is None:
        return sf_error(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            f"Custom platform event {event_name} doesn't exist.",
            ["CustomPlatformEvent"],
        )
    for key in ("CustomEventTypeField", "CustomEventPayloadField"):
        value = fields.get(key)
        if value is None:
            continue
        owner, _, field_name = str(value).partition(".")
        if owner != event_name or field_name not in event.fields:
            return sf_error(400, "FIELD_INTEGRITY_EXCEPTION", f"Field {value} doesn't exist.", [key])
    vendor = fields.pop("ConversationVendorInfo", None)
    if vendor:
        row = org.records.first("ConversationVendorInfo", DeveloperName=vendor)
        if row is None:
            return sf_error(
                400, "FIELD_INTEGRITY_EXCEPTION", f"Conversation vendor info {vendor} doesn't exist.", []
            )
        fields["ConversationVendorInfoId"] = row["Id"]
    row = org.records.insert("ConversationChannelDefinition", fields)
    return created(row["Id"])


def get(ctx: Context, sobject: str, record_id: str) -> Answer:
    obj = tooling_object(sobject)
    if obj is None:
        return not_found()
    return read(ctx, obj, record_id, tooling=True)


def delete(ctx: Context, sobject: str, record_id: str) -> Answer:
    obj = tooling_object(sobject)
    if obj is None:
        return not_found()
    row, error = find(ctx, obj, record_id)
    if error:
        return error
    if obj.name == "CustomObject":
        ctx.org.platform_events.pop(row["FullName"], None)
    elif obj.name == "CustomField":
        event_name, _, field_name = row["FullName"].partition(".")
        ctx.org.platform_events[event_name].fields.pop(field_name, None)
    elif obj.name in ("ConversationVendorInfo", "ConversationChannelDefinition"):
        ctx.org.records.delete(obj.name, row["Id"])
    else:
        return sf_error(400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be deleted: {obj.label}")
    return Answer(204)
