"""The Interaction Service API (BYOC for Messaging) on the org's SCRT host: ``/api/v1/...``.

Every call carries ``Authorization: Bearer``, ``OrgId`` (the 15-character org id; 18 gives 10016),
``AuthorizationContext`` (the ConversationChannelDefinition developer name) and a fresh ``RequestId``.
Entry and message ids come from the caller, so a retried call repeats the same ids and Salesforce
keeps one entry.

Errors (bodies ``{"message", "code"}``, sometimes ``{"success": false, "errorDetail": {...}}``):
10004 (invalid token) refreshes the token once and retries; 10003 (missing ``interaction_api`` scope)
is permanent with a message that says how to fix the Connected App; 10019/10055/10056/10094 ("retry") and
5xx/timeouts are transient; 429 is transient with ``Retry-After``; other 4xx are permanent with
Salesforce's code and message.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import httpx

from relay import http
from relay.errors import AuthError, ExternalError

from .auth import forget_token, send_with_token

log = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024  # 10008 above this
# The Interaction Service's MIME allow-list (10095 otherwise).
ATTACHMENT_MIME_TYPES = frozenset(
    {
        "image/jpeg",
        "image/gif",
        "image/bmp",
        "image/png",
        "application/pdf",
        "video/3gpp2",
        "audio/3gpp2",
        "video/3gpp",
        "audio/3gpp",
        "video/mpeg",
        "audio/mpeg",
        "video/mp4",
        "audio/mp4",
    }
)
MAX_HISTORY_ENTRIES = 5  # per conversationHistory call (the docs; the YAML says 25)
MAX_ACKNOWLEDGEMENTS = 25

INVALID_TOKEN = 10004
MISSING_SCOPE = 10003
# Precondition failed / processing aborted / downstream timeout / read-only during an org migration ("Try
# again later", ERRORCODES.md): whatever the HTTP status, the same request succeeds later.
RETRYABLE_CODES = {10019, 10055, 10056, 10094}
# Salesforce refusing the file of an AttachmentInteraction (ERRORCODES.md: file id empty, over 25 MB, empty,
# contentLength missing, parts mismatched, size mismatched, MIME type not determined); 413 is the same answer
# from before the service reads the body.
ATTACHMENT_REFUSALS = {10007, 10008, 10009, 10010, 10011, 10051, 10095}
# messagingSession errorReasons worth a retry; the others need a different request.
RETRYABLE_REASONS = {"INTERNAL_ERROR", "CONVERSATION_PROCESSING_ABORTED", "CONVERSATION_PRECONDITION_FAILED"}

CCD = "ConversationChannelDefinition"
# Acknowledgement entry ids are derived from what they acknowledge, so a retried receipt is one entry.
ACK_NAMESPACE = uuid.UUID("8c5d3f0e-6a57-4bd4-9a55-0f1f3f7a2c11")


class AttachmentNotAccepted(ExternalError):
    """Salesforce would refuse this file (type or size): send it as a link with a note instead."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, permanent=True, code=code)


def attachment_problem(mime: str, size: int) -> AttachmentNotAccepted | None:
    """Why Salesforce would refuse a file of this type and size, or None when it accepts it."""
    kind = normalize_mime(mime)
    if kind not in ATTACHMENT_MIME_TYPES:
        return AttachmentNotAccepted(
            f"Salesforce does not accept {kind or 'files of unknown type'} as a Messaging attachment.",
            code="10095",
        )
    if size <= 0:
        return AttachmentNotAccepted("The file is empty.", code="10009")
    if size > MAX_ATTACHMENT_BYTES:
        return AttachmentNotAccepted(
            f"The file has {size / 1024 / 1024:.1f} MB; Salesforce accepts at most 25 MB.", code="10008"
        )
    return None


def attachment_refused(error: ExternalError) -> bool:
    """Salesforce refused a file for what it is (a permanent answer about the attachment itself): the
    customer's message is still delivered, as a link with a note."""
    if not error.permanent:
        return False
    return error.status == 413 or _code(error.code) in ATTACHMENT_REFUSALS


def normalize_mime(mime: str | None) -> str:
    return (mime or "").split(";")[0].strip().lower()


def now_ms() -> int:
    return int(time.time() * 1000)


def end_user(subject: str) -> dict:
    return {"appType": "custom", "subject": subject, "role": "EndUser"}


def text_payload(entry_id: str, text: str, *, in_reply_to: str | None = None) -> dict:
    """A customer's text message as an entry payload (``payload.id == abstractMessage.id``)."""
    message = {
        "messageType": "StaticContentMessage",
        "id": entry_id,
        "staticContent": {"formatType": "Text", "text": text},
    }
    if in_reply_to:
        message["inReplyToMessageId"] = in_reply_to
    return {"id": entry_id, "entryType": "Message", "abstractMessage": message}


class InteractionClient:
    """The Interaction Service for one tenant's :class:`~tenants.models.SalesforceConnection`."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.base_url = connection.interaction_base_url.rstrip("/") + "/api/v1"

    # --- /interactions ---------------------------------------------------------------------------

    def send_entry(
        self,
        to: str,
        from_: str,
        payload: dict,
        *,
        timestamp_ms: int,
        routing_attributes: dict[str, str] | None = None,
    ) -> dict:
        """One ``EntryInteraction`` (message, typing indicator, delivery failure) from the customer."""
        interaction = {"timestamp": timestamp_ms, "interactionType": "EntryInteraction", "payload": payload}
        return self._interaction(to, from_, interaction, routing_attributes=routing_attributes)

    def send_text(
        self,
        to: str,
        from_: str,
        text: str,
        *,
        entry_id: str,
        timestamp_ms: int,
        routing_attributes: dict[str, str] | None = None,
        in_reply_to: str | None = None,
    ) -> dict:
        payload = text_payload(entry_id, text, in_reply_to=in_reply_to)
        return self.send_entry(
            to, from_, payload, timestamp_ms=timestamp_ms, routing_attributes=routing_attributes
        )

    def send_attachment(
        self,
        to: str,
        from_: str,
        *,
        content: bytes,
        filename: str,
        mime: str,
        entry_id: str,
        timestamp_ms: int,
        caption: str | None = None,
        routing_attributes: dict[str, str] | None = None,
    ) -> dict:
        """A customer's file as an ``AttachmentInteraction``.

        Raises :class:`AttachmentNotAccepted` (permanent, nothing sent) for a type outside Salesforce's
        allow-list, an empty file or one over 25 MB.
        """
        problem = attachment_problem(mime, len(content))
        if problem is not None:
            raise problem
        interaction = {
            "timestamp": timestamp_ms,
            "interactionType": "AttachmentInteraction",
            "id": entry_id,
            "attachmentIndex": 0,
            "contentLength": len(content),
        }
        if caption:
            interaction["text"] = caption
        file = (filename or "attachment", content, normalize_mime(mime))
        return self._interaction(to, from_, interaction, routing_attributes=routing_attributes, file=file)

    def send_typing(
        self,
        to: str,
        from_: str,
        started: bool,
        *,
        entry_id: str | None = None,
        timestamp_ms: int | None = None,
    ) -> dict:
        """Typing started/stopped. Salesforce hides the indicator after a while: re-send while typing."""
        stamp = timestamp_ms or now_ms()
        payload = {
            "id": entry_id or str(uuid.uuid4()),
            "entryType": "TypingStartedIndicator" if started else "TypingStoppedIndicator",
            "timestamp": stamp,
        }
        return self.send_entry(to, from_, payload, timestamp_ms=stamp)

    def send_delivery_failed(
        self,
        to: str,
        from_: str,
        failed_entry_id: str,
        error_code: str,
        error_message: str = "",
        *,
        entry_id: str,
        timestamp_ms: int | None = None,
    ) -> dict:
        """Tell the agent their message (``failed_entry_id``, the event's ``payload.identifier``) did not
        reach the customer; ``error_message`` is what the agent reads."""
        payload = {
            "id": entry_id,
            "entryType": "MessageDeliveryFailed",
            "failedConversationEntryIdentifier": failed_entry_id,
            "recipient": end_user(from_),
            "errorCode": str(error_code),
        }
        if error_message:
            payload["errorMessage"] = error_message
        return self.send_entry(to, from_, payload, timestamp_ms=timestamp_ms or now_ms())

    # --- JSON endpoints ----------------------------------------------------------------------------

    def acknowledge(
        self, conversation_identifier: str, from_: str, acknowledgements: list[tuple[str, str, int]]
    ) -> dict:
        """Delivered/Read receipts for agent entries: ``[(entry_id, "Delivered"|"Read", timestamp_ms)]``.

        ``acknowledgementTimestamp`` goes as a number of milliseconds (the docs and Salesforce's sample;
        the YAML's string type is an erratum). Each receipt's own entry id is derived from what it
        acknowledges, so a retried call creates no second receipt.
        """
        if not 1 <= len(acknowledgements) <= MAX_ACKNOWLEDGEMENTS:
            raise ValueError(f"1 to {MAX_ACKNOWLEDGEMENTS} acknowledgements per call")
        items = []
        for entry_id, kind, stamp in acknowledgements:
            if kind not in ("Delivered", "Read"):
                raise ValueError(f"acknowledgement type must be Delivered or Read, not {kind!r}")
            items.append(
                {
                    "acknowledgementTimestamp": int(stamp),
                    "acknowledgementType": kind,
                    "acknowledgedConversationEntryIdentifier": entry_id,
                    "acknowledgmentCreatedConversationEntryIdentifier": str(
                        uuid.uuid5(ACK_NAMESPACE, f"{entry_id}/{kind}")
                    ),
                }
            )
        body = {
            "sender": end_user(from_),
            "conversationIdentifier": conversation_identifier,
            "acknowledgements": items,
        }
        return self._json("POST", "/acknowledgement", body, action="acknowledgement")

    def end_session(
        self,
        channel_address: str,
        from_: str,
        conversation_identifier: str,
        *,
        operation: str = "End",
        operation_by: str = "EndUser",
        session_id: str | None = None,
    ) -> dict:
        """End (or ``Inactivate``, which needs ``session_id``) the customer's Messaging session.

        Salesforce answers 200 ``{"success": false, "errorReason"}`` when it cannot; that becomes an
        :class:`ExternalError` whose ``code`` is the reason (``ACTIVE_CONVERSATION_NOT_FOUND``: nothing
        left to end).
        """
        if operation == "Inactivate" and not session_id:
            raise ValueError("Inactivate needs the session id")
        body = {
            "channelAddressIdentifier": channel_address,
            "endUserClientId": from_,
            "conversationIdentifier": conversation_identifier,
            "operation": operation,
            "operationBy": operation_by,
        }
        if session_id:
            body["sessionId"] = session_id
        return self._json("POST", "/messagingSession", body, action="messagingSession")

    def establish_conversation(
        self, channel_address: str, from_: str, *, routing_attributes: dict[str, str] | None = None
    ) -> dict:
        """Open (or find) the conversation and session without a message: ``conversationIdentifier`` and
        ``messagingSessionId``. Idempotent on Salesforce's side."""
        body: dict[str, Any] = {
            "channelAddressIdentifier": channel_address,
            "participants": [end_user(from_)],
        }
        if routing_attributes:
            body["routingAttributes"] = dict(routing_attributes)
        return self._json("POST", "/conversation", body, action="conversation")

    def send_history(
        self,
        channel_address: str,
        *,
        participants: list[dict],
        entries: list[dict],
        messaging_session: dict | None = None,
    ) -> dict:
        """Import up to 5 historical entries (newest first; BYOC for CCaaS orgs only, else 10057).

        ``participants``: ``ConversationParticipant`` objects; ``entries``: ``ConversationEntryHistory``
        objects; ``messaging_session``: ``{"messagingSessionRequestType": "EstablishMessagingSession" |
        "AttachMessagingSession", "payload": {...}}``.
        """
        if not 1 <= len(entries) <= MAX_HISTORY_ENTRIES:
            raise ValueError(f"1 to {MAX_HISTORY_ENTRIES} history entries per call")
        body: dict[str, Any] = {
            "channelAddressIdentifier": channel_address,
            "conversationParticipants": participants,
            "conversationEntries": entries,
        }
        if messaging_session is not None:
            body["messagingSession"] = messaging_session
        return self._json(
            "POST", "/conversationHistory", body, action="conversationHistory", context_type=CCD
        )

    def register_capabilities(self, body: dict) -> dict:
        """``PATCH /capabilities`` with a ``CapabilitiesRequest`` (built by
        :mod:`relay.salesforce.capabilities`). Salesforce keeps the last one per channel definition, so a
        repeat is harmless; ``{"success": false, "errorDetail"}`` raises a permanent ExternalError."""
        return self._json(
            "PATCH", "/capabilities", body, action="capabilities registration", context_type=CCD
        )

    # --- transport ---------------------------------------------------------------------------------

    def _interaction(
        self,
        to: str,
        from_: str,
        interaction: dict,
        *,
        routing_attributes: dict[str, str] | None = None,
        file: tuple[str, bytes, str] | None = None,
    ) -> dict:
        data: dict[str, Any] = {"to": to, "from": from_, "interactions": [interaction]}
        if routing_attributes:
            data["routingAttributes"] = {str(k): str(v) for k, v in routing_attributes.items()}
        encoded = json.dumps(data).encode()
        if file is None:
            # The one-part form every text message is: written here, at a fraction of httpx's multipart cost.
            boundary = uuid.uuid4().hex
            body = b"".join(
                (
                    f"--{boundary}\r\n".encode(),
                    b'Content-Disposition: form-data; name="json"\r\nContent-Type: application/json\r\n\r\n',
                    encoded,
                    f"\r\n--{boundary}--\r\n".encode(),
                )
            )
            content_type = f"multipart/form-data; boundary={boundary}"
            return self._send(
                "POST", "/interactions", action="interaction", content=body, content_type=content_type
            )
        # httpx multipart parts: (field name, (file name or None for a plain part, content, content type))
        parts: list[tuple[str, tuple[str | None, bytes, str]]] = [
            ("json", (None, encoded, "application/json")),
            ("attachments", file),
        ]
        return self._send("POST", "/interactions", action="interaction", files=parts)

    def _json(
        self, method: str, path: str, body: dict, *, action: str, context_type: str | None = None
    ) -> dict:
        return self._send(
            method,
            path,
            action=action,
            context_type=context_type,
            content=json.dumps(body).encode(),
            content_type="application/json",
        )

    def _headers(self, token, *, context_type: str | None, content_type: str | None) -> dict:
        headers = {
            "Authorization": f"Bearer {token.access_token}",
            "OrgId": self.connection.tenant.org_id15,
            "AuthorizationContext": self.connection.authorization_context,
            "RequestId": str(uuid.uuid4()),
            "Accept": "application/json",
        }
        if context_type:
            headers["AuthorizationContextType"] = context_type
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _send(
        self,
        method: str,
        path: str,
        *,
        action: str,
        context_type: str | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
        files: list | None = None,
    ) -> dict:
        url = self.base_url + path

        def send(token) -> httpx.Response:
            headers = self._headers(token, context_type=context_type, content_type=content_type)
            return http.request("salesforce", method, url, headers=headers, content=content, files=files)

        response = send_with_token(self.connection, send, refused=_token_refused)
        body = _body(response)
        if response.status_code < 300:
            if isinstance(body, dict) and body.get("success") is False:
                raise _unsuccessful(action, response, body)
            return body if isinstance(body, dict) else {}
        if _code(_error_fields(body)[0]) == MISSING_SCOPE:
            # Once the admin adds the scope, only a new token carries it: do not keep this one.
            forget_token(self.connection)
        raise _error(action, response, body)


def _body(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return None


def _error_fields(body) -> tuple[int | str | None, str]:
    """Salesforce's code and message from ``{"message", "code"}`` or ``{"errorDetail": {...}}``."""
    if not isinstance(body, dict):
        return None, ""
    detail = nested if isinstance(nested := body.get("errorDetail"), dict) else body
    return detail.get("code"), str(detail.get("message") or "")


def _code(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _token_refused(response: httpx.Response) -> bool:
    """10004 (whatever the HTTP status), or a 401 that is not about the app's scopes."""
    if response.status_code < 400:
        return False
    code = _code(_error_fields(_body(response))[0])
    return code == INVALID_TOKEN or (response.status_code == 401 and code != MISSING_SCOPE)


def _error(action: str, response: httpx.Response, body) -> ExternalError:
    status = response.status_code
    code, message = _error_fields(body)
    number = _code(code)
    code_text = str(code) if code is not None else None
    retry_after = http.retry_after_seconds(response)
    said = message or f"HTTP {status}"
    if number == MISSING_SCOPE:
        return ExternalError(
            "The Salesforce token lacks the interaction_api scope: add 'Access Interaction API resources "
            f"(interaction_api)' to the Connected App's OAuth scopes. Salesforce said: {said}",
            permanent=True,
            status=status,
            code=code_text,
        )
    if status == 401 or number == INVALID_TOKEN:
        return AuthError(
            f"Salesforce refused a freshly minted token for {action}: {said}",
            permanent=False,
            status=status,
            code=code_text,
        )
    if status >= 500 or status in (408, 429) or number in RETRYABLE_CODES:
        return ExternalError(
            f"Salesforce {action} failed, will retry: {said}",
            permanent=False,
            status=status,
            code=code_text,
            retry_after=retry_after,
        )
    return ExternalError(
        f"Salesforce refused the {action}: {said}", permanent=True, status=status, code=code_text
    )


def _unsuccessful(action: str, response: httpx.Response, body: dict) -> ExternalError:
    reason = body.get("errorReason")
    code, message = _error_fields(body)
    code_text = str(reason or code or "") or None
    return ExternalError(
        f"Salesforce could not complete the {action}: {message or reason or 'success: false'}",
        permanent=reason not in RETRYABLE_REASONS and _code(code) not in RETRYABLE_CODES,
        status=response.status_code,
        code=code_text,
    )
