"""Change Data Capture: ``/data/<Entity>ChangeEvent`` channels on the Pub/Sub API, for the entities an org
has selected (Setup → Change Data Capture; here ``Org.change_events``, e.g. ``{"Case"}``).

Shapes, as Salesforce documents them:

- The event is an Avro record named ``<Entity>ChangeEvent`` (namespace ``com.sforce.eventbus``) whose first
  field is ``ChangeEventHeader`` (entityName, recordIds, changeType, changeOrigin, transactionKey,
  sequenceNumber, commitTimestamp, commitNumber, commitUser, nulledFields, diffFields, changedFields), then
  one nullable field per field of the object ("Change Event Message Structure", Change Data Capture
  Developer Guide: https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_message_structure.htm ;
  "ChangeEventHeader Fields": .../cdc_event_fields_header.htm).
- Over the Pub/Sub API every record field is present and "unchanged fields are null even if they have a
  value in the Salesforce record"; date fields are epoch milliseconds ("Differences Between Change Events
  Received with Streaming API vs. Pub/Sub API":
  https://developer.salesforce.com/docs/atlas.en-us.api_streaming.meta/api_streaming/cdc_event_diff_pubsub_cometd.htm).
- ``changedFields``, ``nulledFields`` and ``diffFields`` are bitmaps: an array of strings whose first element
  is a hexadecimal bitmap of the non-compound fields, a bit set for the field at that position in the Avro
  schema, e.g. ``['0x650004E0']`` ("Event Deserialization Considerations", Pub/Sub API:
  https://developer.salesforce.com/docs/platform/pub-sub-api/guide/event-deserialization-considerations.html).
- ``changedFields`` lists the fields changed by an update (including LastModifiedDate) and is empty for
  other operations.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from fastavro import parse_schema

from ..salesforce import schema as sobject_schema
from .avro import NAMESPACE, EventSchema, schema_id_of

if TYPE_CHECKING:
    from ..salesforce.org import Org
    from ..world import World

CHANGE_TYPES = [
    "CREATE",
    "UPDATE",
    "DELETE",
    "UNDELETE",
    "GAP_CREATE",
    "GAP_UPDATE",
    "GAP_DELETE",
    "GAP_UNDELETE",
    "GAP_OVERFLOW",
]
SUFFIX = "ChangeEvent"
_AVRO = {"boolean": "boolean", "int": "int", "double": "double", "datetime": "long"}
#: Fields a change event does not carry (the Id is in recordIds; Salesforce leaves these out).
_LEFT_OUT = {"Id", "IsDeleted", "SystemModstamp", "CaseNumber"}


def entity_of(api_name: str) -> str | None:
    """``CaseChangeEvent`` → ``Case``; None for a platform event name."""
    return api_name[: -len(SUFFIX)] if api_name.endswith(SUFFIX) and len(api_name) > len(SUFFIX) else None


def record_fields(entity: str) -> list[tuple[str, str]]:
    obj = sobject_schema.OBJECTS.get(entity)
    if obj is None:
        return []
    return [(name, _AVRO.get(f.type, "string")) for name, f in obj.fields.items() if name not in _LEFT_OUT]


def schema_for(entity: str) -> dict:
    header = {
        "type": "record",
        "name": "ChangeEventHeader",
        "namespace": NAMESPACE,
        "fields": [
            {"name": "entityName", "type": "string"},
            {"name": "recordIds", "type": {"type": "array", "items": "string"}},
            {"name": "changeType", "type": {"type": "enum", "name": "ChangeType", "symbols": CHANGE_TYPES}},
            {"name": "changeOrigin", "type": "string"},
            {"name": "transactionKey", "type": "string"},
            {"name": "sequenceNumber", "type": "int"},
            {"name": "commitTimestamp", "type": "long"},
            {"name": "commitNumber", "type": "long"},
            {"name": "commitUser", "type": "string"},
            {"name": "nulledFields", "type": {"type": "array", "items": "string"}},
            {"name": "diffFields", "type": {"type": "array", "items": "string"}},
            {"name": "changedFields", "type": {"type": "array", "items": "string"}},
        ],
    }
    fields: list[dict] = [{"name": "ChangeEventHeader", "type": header}]
    fields += [
        {"name": name, "type": ["null", avro], "default": None} for name, avro in record_fields(entity)
    ]
    return {"type": "record", "name": entity + SUFFIX, "namespace": NAMESPACE, "fields": fields}


def build_schema(entity: str) -> EventSchema:
    parsed_json = schema_for(entity)
    schema_json = json.dumps(parsed_json, separators=(",", ":"))
    return EventSchema(
        name=entity + SUFFIX,
        schema_json=schema_json,
        schema_id=schema_id_of(schema_json),
        parsed=parse_schema(parsed_json),
    )


def bitmap(names: list[str], positions: dict[str, int]) -> list[str]:
    """The documented bitmap form: one hex string, bit i set for the field at schema position i."""
    bits = 0
    for name in names:
        if name in positions:
            bits |= 1 << positions[name]
    return [f"0x{bits:X}"] if bits else []


def _avro_value(value, avro: str):
    if value is None:
        return None
    if avro == "long":
        if isinstance(value, str):
            try:
                return int(
                    datetime.fromisoformat(
                        value.replace("Z", "+00:00").replace("+0000", "+00:00")
                    ).timestamp()
                    * 1000
                )
            except ValueError:
                return None
        return int(value)
    if avro == "boolean":
        return bool(value)
    if avro in ("int", "double"):
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    return str(value)


class ChangeDataCapture:
    """Turns record changes of the selected entities into events on the org's change event channel."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._commit_numbers = itertools.count(int(time.time() * 1000))
        self._schemas: dict[str, EventSchema] = {}

    def schema(self, entity: str) -> EventSchema:
        if entity not in self._schemas:
            self._schemas[entity] = build_schema(entity)
        return self._schemas[entity]

    def attach(self, org: Org) -> None:
        """Watch the org's records (called when an org is added to the world)."""
        org.records.on_change = lambda sobject, change, row, values: self.record(
            org, sobject, change, row, values
        )

    def record(self, org: Org, sobject: str, change_type: str, row: dict, values: dict) -> None:
        """One record change: an event when the org selected the object for Change Data Capture."""
        if sobject not in org.change_events:
            return
        schema = self.schema(sobject)
        fields = record_fields(sobject)
        positions = {name: index for index, name in enumerate(schema.field_names)}
        record: dict = {name: None for name, _ in fields}
        changed: list[str] = []
        if change_type in ("CREATE", "UNDELETE"):
            for name, avro in fields:
                record[name] = _avro_value(row.get(name), avro)
        elif change_type == "UPDATE":
            types = dict(fields)
            changed = [name for name in values if name in types]
            if "LastModifiedDate" in types and "LastModifiedDate" not in changed:
                changed.append("LastModifiedDate")
            for name in changed:
                record[name] = _avro_value(row.get(name), types[name])
        nulled = [name for name in changed if row.get(name) is None]
        record["ChangeEventHeader"] = {
            "entityName": sobject,
            "recordIds": [row["Id"]],
            "changeType": change_type,
            "changeOrigin": "com/salesforce/api/rest/62.0",
            "transactionKey": str(uuid.uuid4()),
            "sequenceNumber": 1,
            "commitTimestamp": int(time.time() * 1000),
            "commitNumber": next(self._commit_numbers),
            "commitUser": str(row.get("LastModifiedById") or row.get("CreatedById") or ""),
            "nulledFields": bitmap(nulled, positions),
            "diffFields": [],
            "changedFields": bitmap(changed, positions),
        }
        self.world.pubsub.append_change(org.org_id, sobject + SUFFIX, schema, schema.encode(record))
