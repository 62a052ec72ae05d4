"""One error shape for every answer that is not a success.

``{"error": {"status": 400, "code": "invalid", "message": "...", "fields": {"org_id": ["..."]}}}``:
``fields`` maps a field (nested fields joined with dots) to its messages and is empty when the error is
not about a field.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from portal.unavailable import RETRY_AFTER_SECONDS
from relay.errors import ExternalError

log = logging.getLogger(__name__)

MESSAGES = {
    400: "The request is not valid: see the fields.",
    401: "Authentication is needed.",
    403: "This key may not do that.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "Conflict.",
    413: "The body is too large.",
    429: "Too many requests.",
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        super().__init__(f"The body is over {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE).")


class UpstreamError(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The provider or Salesforce did not answer as expected."
    default_code = "upstream_error"


class DatabaseUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "Switchboard's database is unavailable for a moment; nothing was stored. Retry later."
    default_code = "unavailable"


def exception_handler(exc, context):
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if isinstance(exc, DatabaseUnavailable) and response is not None:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if response is None:  # a bug: still answer in the documented shape, and log it
        log.exception("unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        set_rollback()
        return Response(
            error_body(500, "server_error", "Something went wrong on our side; it has been logged."),
            status=500,
        )
    response.data = error_body(response.status_code, *_code_message_fields(exc, response.status_code))
    return response


def error_body(status_code: int, code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"status": status_code, "code": code, "message": message, "fields": fields or {}}}


def _as_api_exception(exc):
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(detail=as_serializer_error(exc))
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, ProtectedError):
        return Conflict(
            "Still in use: conversations or messages refer to it. Disable it instead.", code="protected"
        )
    if isinstance(exc, IntegrityError):  # two requests raced for the same unique value; the loser may retry
        log.warning("integrity error answered 409: %s", exc)
        return Conflict("Another request changed the same data at the same moment; send it again.")
    if isinstance(exc, OperationalError | InterfaceError):  # an outage, not a bug: the caller retries
        log.error("database unavailable: %s", exc)
        return DatabaseUnavailable()
    if isinstance(exc, RequestDataTooBig):  # Django's own body limit, wherever the body was read
        return PayloadTooLarge()
    if isinstance(exc, ExternalError):
        return UpstreamError(exc.message, code="upstream_error")
    return exc


def _code_message_fields(exc, status_code: int) -> tuple[str, str, dict]:
    if not isinstance(exc, exceptions.APIException):
        return "error", MESSAGES.get(status_code, "Error."), {}
    detail, codes = exc.detail, exc.get_codes()
    if isinstance(exc, exceptions.ValidationError):
        fields: dict[str, list[str]] = {}
        general: list[str] = []
        _flatten(detail, "", fields)
        general = fields.pop("non_field_errors", []) + fields.pop("", [])
        message = " ".join(general) or MESSAGES[400]
        # "invalid" for field errors (each field has its messages); a general error may say more.
        general_codes = codes.get("non_field_errors") if isinstance(codes, dict) else codes
        code = (_first_code(general_codes) if general else None) or "invalid"
        return code, message, fields
    return (_first_code(codes) or "error"), str(detail), {}


def _flatten(detail, prefix: str, out: dict) -> None:
    if isinstance(detail, dict):
        for key, value in detail.items():
            _flatten(value, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out.setdefault(prefix, []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if item:
                    _flatten(item, f"{prefix}.{index}" if prefix else str(index), out)
    else:
        out.setdefault(prefix, []).append(str(detail))


def _first_code(codes) -> str | None:
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict):
        codes = list(codes.values())
    for item in codes or []:
        found = _first_code(item)
        if found:
            return found
    return None


# --- the documented shape ------------------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    code = serializers.CharField(help_text="Machine-readable: invalid, not_found, throttled, conflict, ...")
    message = serializers.CharField(help_text="What is wrong, for a person.")
    # A declared field named "fields": DRF's metaclass moves it into _declared_fields, so Serializer.fields
    # (the property) is not shadowed at runtime; the stubs cannot see the metaclass do it.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field (nested fields joined with dots) → messages. Empty when no field is at fault.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
