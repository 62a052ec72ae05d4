"""``POST /handover/<key>/``: a tenant's bot hands a conversation over to Salesforce.

Checked in order: the endpoint key (404), the declared body size (413), the credentials the headers carry
(401, before the body is read), the body's size (413) and signature (401), JSON (400: strict,
relay/untrusted.py), the contract (400 with a message per field). Strings are made storable first (NUL
bytes removed, unpaired surrogates replaced, names cut to their columns) and the changes are listed on
the handover's line message (``content["sanitized"]``). Nothing is written unless everything passes. A new handover
answers 202; the same handover again (same ``handoverId``, ``conversationId`` or body) answers 200
with ``"duplicate": true`` and changes nothing.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..inbound.auth import json_error as _error
from ..inbound.auth import read_verified_json
from .auth import verify
from .contract import HandoverSerializer, repair_document
from .models import HandoverEndpoint
from .service import start_handover


@csrf_exempt  # a machine-to-machine endpoint: the secret authenticates the call
@require_POST
def handover(request, key: str):
    endpoint = (
        HandoverEndpoint.objects.select_related("tenant")
        .filter(key=key, active=True, tenant__active=True)
        .first()
        if "\x00"
        not in key  # anyone can put %00 in the URL: no key has one, PostgreSQL refuses to compare it
        else None
    )
    if endpoint is None:
        return _error(404, "unknown handover URL: check the key in the URL")
    document = read_verified_json(
        request,
        lambda headers, body: verify(endpoint, headers, body),
        who=f"handover for tenant {endpoint.tenant_id}",
    )
    if isinstance(document, JsonResponse):
        return document
    if not isinstance(document, dict):
        return _error(400, "the body must be a JSON object")
    document, repairs = repair_document(document)
    serializer = HandoverSerializer(data=document, context={"tenant": endpoint.tenant, "repairs": repairs})
    if not serializer.is_valid():
        return _error(400, "the handover is not valid", fields=serializer.errors)
    handover_row, created = start_handover(endpoint.tenant, serializer.validated_data)
    return JsonResponse(
        {
            "handover": handover_row.key,
            "status": handover_row.status,
            "conversation": handover_row.conversation_id,
            "entries": len(handover_row.entries) if handover_row.transcript_ready else None,
            "duplicate": not created,
        },
        status=202 if created else 200,
    )
