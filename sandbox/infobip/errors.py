"""Infobip's two error envelopes, its status and error objects, and its validation messages.

Which envelope an endpoint uses is read from the vendor file itself: an operation whose 401
response is the ``ApiError`` schema speaks the new E-code envelope (``/sms/3``, ``/viber/2``,
``/messages-api/1``, ``GET /whatsapp/1/templates``); one whose 401 is ``ApiException`` the legacy
``requestError.serviceException`` envelope (``/whatsapp/1/message/*``, ``/sms/2``, ``/numbers/1``,
``/ccaas/1``). Bodies are copied from the files' examples.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import JSONResponse

from ..openapi import Operation, Violation

LEGACY = "legacy"
ECODE = "ecode"

LEGACY_ERRORS = {
    400: ("BAD_REQUEST", "Bad request"),
    401: ("UNAUTHORIZED", "Unauthorized"),
    403: ("FORBIDDEN", "Forbidden"),
    404: ("NOT_FOUND", "Not found"),
    429: ("TOO_MANY_REQUESTS", "Too many requests"),
    500: ("GENERAL_ERROR", "Something went wrong. Please contact support."),
}

ECODE_ERRORS = {
    400: ("Request cannot be processed.", "Check the syntax, violations and adjust the request.", []),
    401: (
        "The request lacks valid authentication credentials for the requested resource.",
        "Check the resources and adjust authentication credentials.",
        [{"name": "API Authentication", "url": "https://www.infobip.com/docs/essentials/api-authentication"}],
    ),
    403: (
        "Insufficient permissions to access the requested resource.",
        "Repeat the request with new or different credentials.",
        [
            {
                "name": "API Scopes",
                "url": "https://www.infobip.com/docs/essentials/api-essentials/api-authorization#api-scopes",
            }
        ],
    ),
    404: (
        "Not found - request URL doesn't exist on the API server or resource is not found.",
        "Check the syntax and the resource and adjust the request.",
        [],
    ),
    429: (
        "Too many requests sent.",
        "Check request rate limit specified in the API endpoint documentation resource.",
        [
            {
                "name": "Throttling handling errors",
                "url": "https://www.infobip.com/docs/essentials/integration-best-practices#throttling-handling-errors",
            }
        ],
    ),
    500: ("Something went wrong.", "Contact the support.", []),
}


def envelope_of(operation: Operation | None) -> str:
    """LEGACY or ECODE, from the schema the vendor file gives the operation's 401 answer."""
    if operation is None:
        return LEGACY
    pointer = operation.response_schema_pointer(401) or operation.response_schema_pointer(400) or ""
    return ECODE if pointer.endswith("/ApiError") or pointer.endswith(".ApiError") else LEGACY


def legacy_error(
    status: int, text: str | None = None, validation_errors: dict | None = None, message_id=None
):
    default_id, default_text = LEGACY_ERRORS.get(status, LEGACY_ERRORS[500])
    exception = {"messageId": message_id or default_id, "text": text or default_text}
    if validation_errors:
        exception["validationErrors"] = validation_errors
    return JSONResponse({"requestError": {"serviceException": exception}}, status_code=status)


def ecode_error(status: int, violations: list[dict] | None = None):
    description, action, resources = ECODE_ERRORS.get(status, ECODE_ERRORS[500])
    body = {
        "errorCode": f"E{status}",
        "description": description,
        "action": action,
        "violations": violations or [],
        "resources": resources,
    }
    return JSONResponse(body, status_code=status)


def error(envelope: str, status: int, text: str | None = None):
    """A plain error (no field details) in the given envelope."""
    if envelope == ECODE:
        return ecode_error(status)
    return legacy_error(status, text)


# --- validation messages (Java Bean Validation wording, as in the vendor's examples) -------------

INT_MAX = 2147483647


def bean_messages(violation: Violation) -> list[str]:
    """The Hibernate Validator messages Infobip returns for a schema violation."""
    kind, limit, value, schema = violation.keyword, violation.limit, violation.value, violation.schema
    if kind == "required":
        return ["must not be null"]
    if kind in ("minLength", "maxLength"):
        low, high = schema.get("minLength", 0), schema.get("maxLength", INT_MAX)
        messages = [f"size must be between {low} and {high}"]
        if isinstance(value, str) and not value.strip() and low >= 1:
            messages.append("must not be blank")
        return messages
    if kind in ("minItems", "maxItems"):
        return [f"size must be between {schema.get('minItems', 0)} and {schema.get('maxItems', INT_MAX)}"]
    if kind == "minimum":
        return [f"must be greater than or equal to {limit}"]
    if kind == "maximum":
        return [f"must be less than or equal to {limit}"]
    if kind == "pattern":
        return [f'must match "{limit}"']
    if kind == "enum":
        return [f"must be one of [{', '.join(str(v) for v in limit)}]"]
    if kind == "type":
        return [f"must be of type {limit if isinstance(limit, str) else '/'.join(limit)}"]
    if kind == "format":
        return [f"must be a valid {limit}"]
    return ["is invalid"]


def validation_map(violations: list[Violation]) -> dict[str, list[str]]:
    """Legacy ``validationErrors``: dotted property path -> messages."""
    out: dict[str, list[str]] = {}
    for violation in violations:
        for message in bean_messages(violation):
            messages = out.setdefault(violation.dotted() or "request", [])
            if message not in messages:
                messages.append(message)
    return out


def ecode_violations(violations: list[Violation]) -> list[dict]:
    """E400 ``violations``: ``{"property": path, "violation": "Must not be null."}`` items."""
    out = []
    for violation in violations:
        for message in bean_messages(violation):
            out.append(
                {
                    "property": violation.dotted() or "request",
                    "violation": message[0].upper() + message[1:] + ".",
                }
            )
    return out


def bad_request(envelope: str, violations: list[Violation] | None = None, extra: dict | None = None):
    """400 for schema violations (and/or ``extra`` ``{path: [messages]}`` from business rules)."""
    mapping = validation_map(violations or [])
    for path, messages in (extra or {}).items():
        mapping.setdefault(path, []).extend(m for m in messages if m not in mapping.get(path, []))
    if envelope == ECODE:
        items = [
            {"property": p, "violation": m[0].upper() + m[1:] + "."} for p, ms in mapping.items() for m in ms
        ]
        return ecode_error(400, items)
    return legacy_error(400, validation_errors=mapping or None)


# --- statuses, errors, timestamps ----------------------------------------------------------------

STATUS_PENDING_ENROUTE = {
    "groupId": 1,
    "groupName": "PENDING",
    "id": 7,
    "name": "PENDING_ENROUTE",
    "description": "Message sent to next instance",
}
STATUS_PENDING_ACCEPTED = {
    "groupId": 1,
    "groupName": "PENDING",
    "id": 26,
    "name": "PENDING_ACCEPTED",
    "description": "Message sent to next instance",
}
STATUS_MESSAGE_ACCEPTED = {**STATUS_PENDING_ACCEPTED, "name": "MESSAGE_ACCEPTED"}
STATUS_DELIVERED = {
    "groupId": 3,
    "groupName": "DELIVERED",
    "id": 5,
    "name": "DELIVERED_TO_HANDSET",
    "description": "Message delivered to handset",
}
# Group ids 2 (UNDELIVERABLE) and 5 (REJECTED) and these status ids are from memory [K], see README.
STATUS_UNDELIVERABLE = {
    "groupId": 2,
    "groupName": "UNDELIVERABLE",
    "id": 9,
    "name": "UNDELIVERABLE_NOT_DELIVERED",
    "description": "Message sent not delivered",
}
STATUS_REJECTED = {
    "groupId": 5,
    "groupName": "REJECTED",
    "id": 6,
    "name": "REJECTED_NETWORK",
    "description": "Network is forbidden",
}
NO_ERROR = {
    "groupId": 0,
    "groupName": "OK",
    "id": 0,
    "name": "NO_ERROR",
    "description": "No Error",
    "permanent": False,
}
# Infobip's id/name for "outside the 24-hour window" is an open question; Meta's code is 131047.
OUTSIDE_WINDOW_ERROR = {
    "groupId": 1,
    "groupName": "HANDSET_ERRORS",
    "id": 131047,
    "name": "EC_OUTSIDE_24H_WINDOW",
    "description": "Re-engagement message: more than 24 hours have passed since the customer last replied "
    "(WhatsApp 24-hour customer service window); send a template message instead",
    "permanent": True,
}
TEMPLATE_ERROR = {
    "groupId": 2,
    "groupName": "USER_ERRORS",
    "id": 132001,
    "name": "EC_TEMPLATE_DOES_NOT_EXIST",
    "description": "Template name does not exist in the translation or is not approved",
    "permanent": True,
}
TEMPLATE_PARAMS_ERROR = {
    "groupId": 2,
    "groupName": "USER_ERRORS",
    "id": 132000,
    "name": "EC_TEMPLATE_PARAM_COUNT_MISMATCH",
    "description": "Number of parameters does not match the expected number of params",
    "permanent": True,
}
GENERIC_FAILURE = {
    "groupId": 1,
    "groupName": "HANDSET_ERRORS",
    "id": 1,
    "name": "EC_UNKNOWN_SUBSCRIBER",
    "description": "Unknown subscriber",
    "permanent": True,
}


def now() -> datetime:
    return datetime.now(UTC)


def infobip_time(moment: datetime) -> str:
    """``2025-01-01T10:10:00.000+0000``: milliseconds, offset without a colon."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def conversations_time(moment: datetime) -> str:
    """The Conversations API's form: ``2024-01-01T00:00:00.000+00:00``."""
    return infobip_time(moment)[:-5] + "+00:00"


def parse_time(text: str) -> datetime:
    """Either offset form (``+0000`` or ``+00:00``), or ``Z``."""
    return datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
