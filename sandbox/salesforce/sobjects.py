"""sObject create/read/update/delete as the REST API does it, independent of HTTP.

Both the HTTP routes and ``/composite`` subrequests call these; each returns an :class:`Answer`
(status, JSON body, headers). Error bodies are Salesforce's JSON arrays
``[{"message", "errorCode", "fields"?}]``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import epoch
from ..inputs import parse_json
from . import case_records, schema
from .ids import KEY_PREFIXES, to18
from .org import sf_datetime
from .schema import DATA, FieldDef, ObjectDef

if TYPE_CHECKING:
    from .org import IssuedToken, Org

ID_PATTERN = re.compile(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?")
NOT_FOUND = "The requested resource does not exist"
ROLLED_BACK = "The transaction was rolled back since another operation in the same transaction failed."


@dataclass
class Answer:
    status: int
    body: object = None  # JSON-able; None for 204
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status < 400


@dataclass
class Context:
    """Who is calling, on which org, with which API version."""

    org: Org
    token: IssuedToken
    version: str

    @property
    def user_id(self) -> str:
        return self.token.user_id


def sf_error(status: int, code: str, message: str, fields: list[str] | None = None) -> Answer:
    item: dict = {"message": message, "errorCode": code}
    if fields is not None:
        item["fields"] = fields
    return Answer(status, [item])


def not_found() -> Answer:
    return sf_error(404, "NOT_FOUND", NOT_FOUND)


def method_not_allowed(method: str, allowed: str) -> Answer:
    return sf_error(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {allowed}")


def parse_json_body(raw: bytes | str | None) -> tuple[object, Answer | None]:
    """The decoded JSON body, or a JSON_PARSER_ERROR answer worded like Salesforce's (Jackson's)."""
    if raw is None or (isinstance(raw, bytes | str) and not raw.strip()):
        return None, sf_error(
            400, "JSON_PARSER_ERROR", "No content to map due to end-of-input at [line:1, column:0]"
        )
    if not isinstance(raw, bytes | str):
        return raw, None  # a composite subrequest body is already decoded
    try:
        return parse_json(raw), None
    except json.JSONDecodeError as exc:
        char = exc.doc[exc.pos] if exc.pos < len(exc.doc) else ""
        shown = f"'{char}' (code {ord(char)})" if char else "end-of-input"
        return None, sf_error(
            400,
            "JSON_PARSER_ERROR",
            f"Unexpected character ({shown}): {exc.msg}\n at [line:{exc.lineno}, column:{exc.colno}]",
        )
    except ValueError as exc:  # bytes that are not UTF-8
        return None, sf_error(400, "JSON_PARSER_ERROR", f"Invalid UTF-8 middle byte: {exc}")


def record_url(sobject: str, record_id: str, version: str, *, tooling: bool = False) -> str:
    return f"/services/data/v{version}/{'tooling/' if tooling else ''}sobjects/{sobject}/{record_id}"


def valid_id_shape(value: str) -> bool:
    """15 or 18 alphanumerics, and for 18 the checksum suffix matches (case-insensitively)."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        return False
    return len(value) == 15 or to18(value[:15]).upper() == value.upper()


def normalize_id(value: str) -> str:
    return to18(value[:15])


def present(
    obj: ObjectDef, row: dict, ctx: Context, *, fields: list[FieldDef] | None = None, tooling=False
) -> dict:
    """A record as ``GET .../sobjects/{type}/{id}`` returns it: attributes, then every field."""
    record = {
        "attributes": {"type": obj.name, "url": record_url(obj.name, row["Id"], ctx.version, tooling=tooling)}
    }
    if fields is None:
        names = list(obj.fields)
        names += [k for k in row if k not in obj.fields and not k.startswith("_")]
    else:
        names = ["Id", *[f.name for f in fields if f.name != "Id"]]
    for name in names:
        record[name] = row.get(name)
    return record


# --- writes ------------------------------------------------------------------------------------


def _relationship_label(fdef: FieldDef) -> str:
    return f"{fdef.relationship_name or fdef.name} ID"


def _check_values(ctx: Context, obj: ObjectDef, body: dict, *, creating: bool) -> tuple[dict, Answer | None]:
    """Field names, writability and value types; returns the values to store or the first error."""
    values: dict = {}
    unwritable: list[str] = []
    for key, value in body.items():
        if key == "attributes":
            continue
        fdef = obj.field(ctx.org, key)
        if fdef is None or fdef.name not in obj.fields:
            return {}, sf_error(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}")
        if not (fdef.createable if creating else fdef.updateable):
            unwritable.append(fdef.name)
            continue
        checked, error = _check_value(ctx, fdef, value)
        if error:
            return {}, error
        values[fdef.name] = checked
    if unwritable:
        return {}, sf_error(
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(unwritable)}. Please check the security settings of "
            f"this field and verify that it is read/write for your profile or permission set.",
            unwritable,
        )
    return values, None


def _jackson_kind(value) -> str:
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, int | float):
        return "VALUE_NUMBER_INT" if isinstance(value, int) else "VALUE_NUMBER_FLOAT"
    return "VALUE_STRING"


def _deserialize_error(type_name: str, value) -> Answer:
    return sf_error(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {type_name} from {_jackson_kind(value)} value "
        f"{json.dumps(value)} or request may be missing a required field",
    )


def _check_value(ctx: Context, fdef: FieldDef, value):
    if value is None:
        return None, None
    if fdef.type == "boolean":
        if not isinstance(value, bool):
            return None, _deserialize_error("boolean", value)
        return value, None
    if fdef.type in ("int", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, _deserialize_error("double", value)
        return value, None
    if isinstance(value, dict | list):
        return None, _deserialize_error("string", value)
    if fdef.type == "reference":
        return _check_reference(ctx, fdef, str(value))
    return value if isinstance(value, str) else json.dumps(value), None


def _check_reference(ctx: Context, fdef: FieldDef, value: str):
    if value == "":
        return None, None
    label = _relationship_label(fdef)
    if not valid_id_shape(value):
        return None, sf_error(
            400, "MALFORMED_ID", f"{label}: id value of incorrect type: {value}", [fdef.name]
        )
    prefixes = {KEY_PREFIXES[t] for t in fdef.reference_to if t in KEY_PREFIXES}
    if prefixes and value[:3] not in prefixes:
        return None, sf_error(
            400, "MALFORMED_ID", f"{label}: id value of incorrect type: {value}", [fdef.name]
        )
    if prefixes and ctx.org.records.find(value) is None:
        return None, sf_error(
            400,
            "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
            f"insufficient access rights on cross-reference id: {value}",
            [],
        )
    return normalize_id(value), None


def _derived(ctx: Context, obj: ObjectDef, row: dict, values: dict) -> dict:
    """Fields Salesforce computes on save (formula and roll-ups the sandbox cares about)."""
    merged = {**row, **values}
    derived: dict = {"LastModifiedById": ctx.user_id}
    if obj.name == "Contact":
        derived["Name"] = " ".join(p for p in (merged.get("FirstName"), merged.get("LastName")) if p)
    if obj.name == "Case" and "Status" in values:
        closed = values["Status"] == "Closed"
        derived["IsClosed"] = closed
        derived["ClosedDate"] = (row.get("ClosedDate") or sf_datetime()) if closed else None
    return derived


def _defaults(ctx: Context, obj: ObjectDef) -> dict:
    stamped = ("Id", "CreatedDate", "LastModifiedDate", "SystemModstamp")  # RecordStore.insert sets these
    row = {name: None for name in obj.fields if name not in stamped}
    row.update({"CreatedById": ctx.user_id, "LastModifiedById": ctx.user_id, "IsDeleted": False})
    if "OwnerId" in obj.fields:
        row["OwnerId"] = ctx.user_id
    if obj.name == "Case":
        row.update(
            {
                "CaseNumber": ctx.org.next_case_number(),
                "Status": "New",
                "Priority": "Medium",
                "IsClosed": False,
            }
        )
    if obj.name == "MessagingSession":
        count = len(ctx.org.records.all("MessagingSession")) + 1 + epoch.number_base()
        row["Name"] = f"MS-{count:07d}"
    if obj.name == "MessagingEndUser":
        row["MessagingConsentStatus"] = "ImplicitlyOptedIn"
    return row


def _required_missing(ctx: Context, obj: ObjectDef, row: dict) -> list[str]:
    required = [f.name for f in obj.fields.values() if f.required]
    if obj.name == "Case" and ctx.org.case_subject_required:
        required.append("Subject")
    return [name for name in required if row.get(name) in (None, "")]


def data_object(name: str) -> ObjectDef | None:
    return schema.lookup(name, DATA)


def create(ctx: Context, obj: ObjectDef, body) -> Answer:
    if not obj.createable:
        return sf_error(400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {obj.label}")
    if not isinstance(body, dict):
        return _deserialize_error(obj.name, body)
    values, error = _check_values(ctx, obj, body, creating=True)
    if error:
        return error
    row = _defaults(ctx, obj)
    row.update(values)
    row.update(_derived(ctx, obj, row, values))
    missing = _required_missing(ctx, obj, row)
    if missing:
        return sf_error(
            400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
        )
    if refused := case_records.prepare(ctx, obj.name, row):  # the Cases desk's records (transcript, files)
        return refused
    stored = ctx.org.records.insert(obj.name, row)
    case_records.after_insert(ctx, obj.name, stored)
    return Answer(
        201,
        {"id": stored["Id"], "success": True, "errors": []},
        {"Location": record_url(obj.name, stored["Id"], ctx.version)},
    )


def find(ctx: Context, obj: ObjectDef, record_id: str) -> tuple[dict | None, Answer | None]:
    """The row for an id in a URL, or Salesforce's answer for a bad or unknown id."""
    if not valid_id_shape(record_id):
        # Salesforce reads a non-id as an external id value of the object's Id field.
        return None, sf_error(
            404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {record_id}"
        )
    if obj.key_prefix and record_id[:3] != obj.key_prefix:
        return None, sf_error(
            400, "MALFORMED_ID", f"{obj.name} ID: id value of incorrect type: {record_id}", ["Id"]
        )
    wanted = normalize_id(record_id)
    row = next((r for r in obj.all_rows(ctx.org) if r["Id"] == wanted), None)
    if row is None:
        return None, not_found()
    return row, None


def read(
    ctx: Context, obj: ObjectDef, record_id: str, fields_param: str | None = None, *, tooling=False
) -> Answer:
    row, error = find(ctx, obj, record_id)
    if error:
        return error
    selected = None
    if fields_param:
        selected = []
        for name in [n.strip() for n in fields_param.split(",") if n.strip()]:
            fdef = obj.field(ctx.org, name)
            if fdef is None:
                return sf_error(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on entity '{obj.name}'. If you are attempting to use a custom "
                    f"field, be sure to append the '__c' after the custom field name. Please reference your "
                    f"WSDL or the describe call for the appropriate names.",
                )
            selected.append(fdef)
    return Answer(200, present(obj, row, ctx, fields=selected, tooling=tooling))


def update(ctx: Context, obj: ObjectDef, record_id: str, body) -> Answer:
    row, error = find(ctx, obj, record_id)
    if error:
        return error
    if not obj.updateable:
        return sf_error(400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {obj.label}")
    if not isinstance(body, dict):
        return _deserialize_error(obj.name, body)
    values, error = _check_values(ctx, obj, body, creating=False)
    if error:
        return error
    merged = {**row, **values}
    missing = [name for name in _required_missing(ctx, obj, merged) if name in values]
    if missing:
        return sf_error(
            400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
        )
    values.update(_derived(ctx, obj, row, values))
    ctx.org.records.update(obj.name, row["Id"], values)
    return Answer(204)


def delete(ctx: Context, obj: ObjectDef, record_id: str) -> Answer:
    row, error = find(ctx, obj, record_id)
    if error:
        return error
    if not obj.deletable:
        return sf_error(400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be deleted: {obj.label}")
    ctx.org.records.delete(obj.name, row["Id"])
    return Answer(204)
