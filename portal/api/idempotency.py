"""``Idempotency-Key`` on sends: the first successful answer is stored and replayed for the same key.

A key is the caller's (per partner or per tenant-admin key owner); reusing it for a different request is a
422. Records are kept :data:`RETENTION` and cleaned by the periodic task.
"""

from __future__ import annotations

import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.response import Response

from relay.outbound.to_customer import IDEMPOTENCY_KEY_LIFETIME

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
RETENTION = IDEMPOTENCY_KEY_LIFETIME  # the relay's de-duplication of the message lasts as long


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used for a different request."
    default_code = "idempotency_key_reused"


def key_of(request) -> str:
    key = request.headers.get(HEADER)
    if key is None:
        return ""
    key = key.strip()
    if not key or len(key) > 255 or not key.isprintable():
        raise exceptions.ValidationError({HEADER: ["Use 1 to 255 printable characters, e.g. a UUID."]})
    return key


def fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def stored_response(scope_label: str, key: str, request) -> Response | None:
    record = IdempotencyRecord.objects.filter(
        scope=scope_label, key=key, created_at__gte=timezone.now() - RETENTION
    ).first()
    if record is None:
        return None
    if record.fingerprint != fingerprint(request):
        raise KeyReused()
    return Response(record.body, status=record.status_code, headers={"Idempotent-Replayed": "true"})


def remember(scope_label: str, key: str, request, response: Response) -> Response:
    """Store a successful answer; if a concurrent request with the same key stored one first, answer that."""
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.filter(
                scope=scope_label, key=key, created_at__lt=timezone.now() - RETENTION
            ).delete()
            IdempotencyRecord.objects.create(
                scope=scope_label,
                key=key,
                fingerprint=fingerprint(request),
                status_code=response.status_code,
                body=response.data,
            )
    except IntegrityError:
        return stored_response(scope_label, key, request) or response
    return response


def message_key(scope_label: str, key: str) -> str:
    """The relay's own de-duplication id for the message (bounded length, one per owner and key)."""
    return hashlib.sha256(f"{scope_label}:{key}".encode()).hexdigest()[:32]


def purge_expired() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - RETENTION).delete()
    return deleted
