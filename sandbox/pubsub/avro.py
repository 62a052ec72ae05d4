"""Avro schemas of platform events, as the Pub/Sub API's GetSchema returns them, and their codec.

A custom platform event ``Acme_Msg_Event__e`` becomes a record in namespace ``com.sforce.eventbus``
with the two standard fields every event carries (``CreatedDate`` epoch ms, ``CreatedById``) and one
nullable field per custom field, each with the ``doc`` string Salesforce puts there
(``Data:<Type>:<field id>``). Payloads are Avro binary without a container ("schemaless"), which is
what Pub/Sub clients decode with ``fastavro.schemaless_reader``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.validation import ValidationError, validate

NAMESPACE = "com.sforce.eventbus"

# Salesforce field type -> Avro type of the event field. Date fields travel as days since the epoch
# (Avro int) and DateTime as epoch milliseconds (long); everything text-like is a string.
AVRO_TYPES = {
    "Text": "string",
    "TextArea": "string",
    "LongTextArea": "string",
    "Number": "double",
    "Checkbox": "boolean",
    "DateTime": "long",
    "Date": "int",
}

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class PayloadError(ValueError):
    """An event payload that does not fit its schema (bad field, bad type, undecodable bytes)."""


def custom_field_id(org_id: str, event_api_name: str, field_name: str) -> str:
    """A stable 15-character ``00N`` id for a custom field (the doc string names it)."""
    digest = hashlib.sha256(f"{org_id[:15]}/{event_api_name}/{field_name}".encode()).digest()
    number = int.from_bytes(digest[:12], "big")
    chars = []
    for _ in range(12):
        number, rest = divmod(number, 62)
        chars.append(_BASE62[rest])
    return "00N" + "".join(chars)


def schema_for(org_id: str, event_api_name: str, fields: dict[str, str]) -> dict:
    """The Avro schema (as a JSON-ready dict) of a platform event with these custom fields."""
    avro_fields: list[dict] = [
        {"name": "CreatedDate", "type": "long", "doc": "CreatedDate:DateTime"},
        {"name": "CreatedById", "type": "string", "doc": "CreatedBy:EntityId"},
    ]
    for name, sf_type in fields.items():
        avro_fields.append(
            {
                "name": name,
                "type": ["null", AVRO_TYPES.get(sf_type, "string")],
                "doc": f"Data:{sf_type}:{custom_field_id(org_id, event_api_name, name)}",
                "default": None,
            }
        )
    return {"type": "record", "name": event_api_name, "namespace": NAMESPACE, "fields": avro_fields}


def schema_id_of(schema_json: str) -> str:
    """A schema fingerprint in the shape Salesforce uses (22 url-safe characters): same schema, same id."""
    digest = hashlib.sha256(schema_json.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


@dataclass(frozen=True)
class EventSchema:
    """One event schema: its JSON text (as GetSchema returns it), its id and a ready codec."""

    name: str  # the event's API name, e.g. Acme_Msg_Event__e
    schema_json: str
    schema_id: str
    parsed: Any

    @classmethod
    def build(cls, org_id: str, event_api_name: str, fields: dict[str, str]) -> EventSchema:
        schema = schema_for(org_id, event_api_name, fields)
        schema_json = json.dumps(schema, separators=(",", ":"))
        return cls(
            name=event_api_name,
            schema_json=schema_json,
            schema_id=schema_id_of(schema_json),
            parsed=parse_schema(schema),
        )

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in json.loads(self.schema_json)["fields"]]

    def encode(self, record: dict) -> bytes:
        """Avro-encode a record after checking it against the schema (unknown fields are refused)."""
        unknown = sorted(set(record) - set(self.field_names))
        if unknown:
            raise PayloadError(f"unknown field(s) for {self.name}: {', '.join(unknown)}")
        try:
            validate(record, self.parsed, raise_errors=True)
        except ValidationError as exc:
            raise PayloadError(f"payload does not match schema {self.schema_id}: {exc}") from exc
        buffer = io.BytesIO()
        schemaless_writer(buffer, self.parsed, record)
        return buffer.getvalue()

    def decode(self, payload: bytes) -> dict:
        """Decode an Avro payload; the whole payload must be consumed by exactly one record."""
        buffer = io.BytesIO(payload)
        try:
            record = schemaless_reader(buffer, self.parsed, None)
        except Exception as exc:  # fastavro raises EOFError, UnicodeDecodeError, IndexError, ...
            raise PayloadError(
                f"payload is not a valid Avro record of schema {self.schema_id}: {exc}"
            ) from exc
        if buffer.tell() != len(payload):
            raise PayloadError(
                f"payload has {len(payload) - buffer.tell()} trailing byte(s) after the record"
            )
        return record
