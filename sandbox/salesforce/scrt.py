"""The Interaction Service API on the SCRT host (``/sim/scrt/api/v1/...``), as BYOC for Messaging sees it.

Headers are checked in Salesforce's order (token 10004, scope 10003, OrgId 10016, AuthorizationContext
10005, RequestId 10016); bodies are checked against ``specs/salesforce/inbound-interaction-api.yaml``
and the documented rules (ERRORCODES.md); errors are ``{"message", "code"}`` with the vendor's text.
HTTP status of errors: 401 for 10004, 400 otherwise (undocumented, open question 1; overridable per
code through ``PUT /__sim/console/api/scrt/error-status``). Endpoints whose documented error response
is a ``{"success": ...}`` object (acknowledgement, capabilities) answer ``success: false`` alongside
``message``/``code`` (and ``errorDetail`` for capabilities), which fits both schemas.

The content-distribution download URL of Salesforce Files (``/sim/files/sfc/dist/version/download/``)
is served here too: agent attachments in outbound events point at it.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

from python_multipart.exceptions import MultipartParseError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..inputs import parse_json, whole_number
from .ids import to15
from .interaction_spec import schema_error
from .messaging import (
    Conversation,
    Entry,
    InteractionError,
    end_user_participant,
    now_ms,
)
from .org import Org

PREFIX = "/sim/scrt/api/v1"
ORG_ID_RE = re.compile(r"^00D[0-9A-Za-z]{12}$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
# The Interaction API docs' MIME allow-list (ERRORCODES 10095 otherwise).
ATTACHMENT_MIME_TYPES = frozenset(
    [
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
    ]
)
MESSAGE_TYPES = {
    "ChoicesMessage",
    "ChoicesResponseMessage",
    "FormMessage",
    "FormResponseMessage",
    "StaticContentMessage",
}
END_USER_MESSAGE_TYPES = {"StaticContentMessage", "ChoicesResponseMessage", "FormResponseMessage"}
INBOUND_ENTRY_TYPES = {"Message", "TypingStartedIndicator", "TypingStoppedIndicator", "MessageDeliveryFailed"}
# formatType values an end user's message may carry, per messageType (others: 10049).
END_USER_FORMATS = {
    "StaticContentMessage": {"Text", "Links"},
    "ChoicesResponseMessage": {"Selections"},
    "FormResponseMessage": {"Inputs", "Result"},
}
CONTENT_FIELD = {
    "StaticContentMessage": "staticContent",
    "ChoicesResponseMessage": "choicesResponse",
    "FormResponseMessage": "formResponse",
}
FORMAT_TYPES = {
    "Attachments", "RichLink", "Media", "Buttons", "Carousel", "QuickReplies", "ListPicker", "Selections", "Links",
    "TimePicker", "Application", "Result", "Inputs", "WebView", "Text", "ExperienceType", "Flow", "MessageDefinition",
}  # fmt: skip
HISTORY_MAX_ENTRIES = 5  # the docs; the YAML says 25 (open question 5: the docs win)
HISTORY_MAX_AGE_MS = 24 * 3600 * 1000

# The vendor's texts (ERRORCODES.md), used as the error body's message.
MESSAGES = {
    10001: 'The AuthorizationContext in the request isn\'t valid for the provided value in the "to"/'
    '"channelAddressIdentifier" field.',
    10003: "The supplied Authorization access token is missing the required Connected App scope. "
    "Required value: interaction_api.",
    10004: "The supplied Authorization access token is not valid.",
    10005: "The AuthorizationContext for the request isn't valid based on the supplied Authorization access token.",
    10007: "The file ID field is empty.",
    10008: "The file size exceeds the maximum limit of 25 MB.",
    10009: "The file is empty or doesn’t exist.",
    10010: "The interaction contentLength field is empty.",
    10011: "The number of interactions of type AttachmentInteraction does not match the number of attachment files.",
    10016: "Enter a valid header.",
    10017: "The channelAddressIdentifier provided does not exist.",
    10018: "The conversation identifier is not valid.",
    10027: 'The provided "to" field isn\'t valid.',
    10028: 'The provided "from" field isn\'t valid.',
    10029: "The provided interaction list isn't valid.",
    10031: "The channelAddressIdentifier provided is not active.",
    10036: "The participant does not exist.",
    10037: "The AppType provided is not supported.",
    10038: "The Participant Role provided is not supported.",
    10039: "Add participants to your conversation.",
    10042: "Include one end user participant in the conversation.",
    10043: "Invalid participant role. Specify a Chatbot or EndUser role for all participants.",
    10044: "Include only one end user participant in the conversation.",
    10045: "Provide a valid message entry format.",
    10046: "Invalid clientTimestamp. Send messages within the allowed response time frame.",
    10047: "Specified Message Type is invalid.",
    10048: "Specified Format Type is invalid.",
    10049: "Specified Message Type and Format Type combination is invalid.",
    10050: "Specified custom integration is invalid.",
    10051: "The file size (in bytes) of uploaded attachment is incorrect.",
    10052: 'The "channelAddressIdentifier" field set in post conversation request isn\'t valid.',
    10053: 'The "participants" field set in post conversation request is either invalid or empty.',
    10054: "Invalid subject of participant in conversation request.",
    10057: "Looks like you don't have access to the ConversationHistory API. Only Bring Your Own Channel for "
    "CCaaS partners can access them. Your Salesforce admin can help with that.",
    10059: "Interaction ID or Message ID is empty.",
    10060: "Interaction ID and Message ID are mismatched.",
    10061: "The StartTime provided for messaging session is invalid.",
    10062: "Invalid message type. Only StaticContentMessage, ChoicesResponseMessage, and FormResponseMessage "
    "types are supported for messages sent from an end user.",
    10064: "The EndTime provided for messaging session is invalid.",
    10065: "Invalid end-user participant details. Conversations with end-users remain open and don't have a leftTime.",
    10066: "Invalid chatbot participant details. leftTime is required for conversations with chatbots when the "
    "conversation is ended.",
    10067: "Invalid joinedTime. Specify a joinedTime that is earlier than the leftTime.",
    10068: "Invalid participant. The message isn't from an approved participant.",
    10069: "Specify a valid channel address identifier or check your authorization configuration.",
    10070: "Provide a channel address identifier that's configured with the specified authorization context.",
    10071: "Session is not found.",
    10072: "Specify a valid session ID.",
    10073: "Invalid message ID. Provide a unique ID for each message entry.",
    10074: "Invalid message timestamp. The message Timestamp must occur while the sender is in the conversation.",
    10078: "An error occurred due to an invalid payload parameter. Check the parameters and try again. For help, "
    "see Send Historical Conversation Entries.",
    10089: "Invalid parameters passed to API.",
    10093: "Invalid authorization context type.",
    10095: "The MIME type of the uploaded file cannot be determined. Please check the file and try again.",
    10100: "A request body is required and can't be empty. Provide a valid payload and ensure data is included "
    "and correctly formatted.",
    10101: "We found duplicate participants. Make sure each participant is unique and try again.",
    10102: "Invalid operation type value for POST messaging session request.",
    10103: "Invalid operationBy value for POST messaging session.",
    10106: "Messaging Session ID is missing for Inactivate Messaging Session API.",
}


def fail(code: int, detail: str = "") -> InteractionError:
    """An InteractionError with the vendor's message; ``detail`` (why, for people) goes to the request log."""
    error = InteractionError(code, MESSAGES.get(code, "Invalid parameters passed to API."))
    error.detail = detail
    return error


class Call:
    """One authorized Interaction Service request: its org, token, channel definition and JSON body."""

    def __init__(self, org: Org, token, ccd: dict, body) -> None:
        self.org = org
        self.token = token
        self.ccd = ccd
        self.body = body


def _authorize(world, request: Request, *, context_type: str) -> tuple[Org, object, dict]:
    """Header checks in Salesforce's order. ``context_type``: "required", "optional" or "none"."""
    headers = request.headers
    scheme, _, bearer = headers.get("authorization", "").partition(" ")
    found = world.orgs.by_token(bearer.strip()) if scheme.lower() == "bearer" and bearer.strip() else None
    if found is None or not found[1].valid:
        raise fail(10004, "unknown, expired or revoked bearer token")
    org, token = found
    has_scope = (
        token.has_scope("interaction_api")
        if hasattr(token, "has_scope")
        else "interaction_api" in token.scopes
    )
    if not has_scope:
        raise fail(10003, f"token scopes: {' '.join(token.scopes)}")
    org_header = headers.get("orgid", "")
    if not ORG_ID_RE.match(org_header) or org_header != to15(org.org_id):
        raise fail(
            10016, f"OrgId must be the token's 15-character org id {to15(org.org_id)}, got {org_header!r}"
        )
    context = headers.get("authorizationcontext", "")
    if not context.strip():
        raise fail(10016, "AuthorizationContext header is missing")
    if context_type != "none" or headers.get("authorizationcontexttype"):
        kind = headers.get("authorizationcontexttype")
        if kind is None and context_type == "required":
            raise fail(10016, "AuthorizationContextType header is missing")
        if kind is not None and kind != "ConversationChannelDefinition":
            raise fail(
                10093,
                f"AuthorizationContextType {kind!r}: the sandbox supports ConversationChannelDefinition",
            )
    ccd = world.messaging.channel_definition(org, context)
    if ccd is None:
        raise fail(10005, f"no ConversationChannelDefinition named {context!r} in the org")
    if not UUID_RE.match(headers.get("requestid", "")):
        raise fail(10016, f"RequestId must be a UUID, got {headers.get('requestid', '')!r}")
    return org, token, ccd


def _json_body(raw: bytes):
    if not raw.strip():
        raise fail(10100, "empty body")
    try:
        return parse_json(raw)
    except ValueError as exc:
        raise fail(10100, f"malformed JSON: {exc}") from None


def _channel(
    world, org: Org, ccd: dict, address, *, missing: int, unknown: int, other_ccd: int = 10001
) -> dict:
    if not isinstance(address, str) or not address or len(address) > 240:
        raise fail(missing, f"channel address {address!r}")
    channel = world.messaging.channel_by_address(org, address)
    if channel is None:
        raise fail(unknown, f"no MessagingChannel with ChannelAddressIdentifier {address!r}")
    if not channel.get("IsActive", True):
        raise fail(10031, f"MessagingChannel {channel['DeveloperName']} is inactive")
    if channel.get("ChannelDefinitionId") != ccd["Id"]:
        raise fail(other_ccd, f"channel {channel['DeveloperName']} belongs to another channel definition")
    return channel


def _routing_attributes(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise fail(10089, "routingAttributes must map channel variable names to strings")
    return dict(value)


def _is_timestamp(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_message(message, entry_id, *, allowed_types: set[str] | None = None) -> None:
    """abstractMessage rules shared by /interactions and /conversationHistory."""
    if not isinstance(message, dict):
        raise fail(10045, "a Message entry needs abstractMessage")
    if not message.get("id") or not entry_id:
        raise fail(10059, "payload.id and abstractMessage.id are required")
    if message["id"] != entry_id:
        raise fail(10060, f"payload.id {entry_id!r} != abstractMessage.id {message['id']!r}")
    message_type = message.get("messageType")
    if message_type not in MESSAGE_TYPES:
        raise fail(10047, f"messageType {message_type!r}")
    if allowed_types is not None and message_type not in allowed_types:
        raise fail(10062, f"messageType {message_type}")
    content = message.get(CONTENT_FIELD.get(message_type, "")) if message_type in CONTENT_FIELD else None
    if message_type in CONTENT_FIELD:
        format_type = content.get("formatType") if isinstance(content, dict) else None
        if format_type not in FORMAT_TYPES:
            raise fail(10048, f"formatType {format_type!r}")
        if format_type not in END_USER_FORMATS[message_type]:
            raise fail(10049, f"{message_type} with formatType {format_type}")


def _check_schema(schema: str, value, code: int) -> None:
    problem = schema_error(schema, value)
    if problem:
        raise fail(code, problem)


# --- /interactions ---------------------------------------------------------------------------------


async def _read_interactions_form(request: Request) -> tuple[dict, list[UploadFile]]:
    raw = await request.body()
    if not raw:
        raise fail(10100, "empty body")
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise fail(10100, "POST /interactions takes multipart/form-data with a 'json' part")
    try:
        form = await request.form(max_files=16, max_fields=16, max_part_size=4 * 1024 * 1024)
    except (MultiPartException, MultipartParseError, ValueError) as exc:
        raise fail(10100, f"unreadable multipart body: {exc}") from None
    part = form.get("json")
    if part is None:
        raise fail(10100, "the multipart body has no 'json' part")
    text = (await part.read()).decode("utf-8", "replace") if isinstance(part, UploadFile) else part
    data = _json_body(text.encode())
    if not isinstance(data, dict):
        raise fail(10100, "the 'json' part must be a JSON object")
    files = [f for f in form.getlist("attachments")]
    return data, files


async def _validate_attachment(item: dict, files: list) -> tuple[UploadFile, bytes]:
    if len(files) != 1:
        raise fail(10011, f"1 AttachmentInteraction, {len(files)} file(s)")
    if not item.get("id"):
        raise fail(10007, "AttachmentInteraction.id is empty")
    if item.get("contentLength") is None:
        raise fail(10010, "AttachmentInteraction.contentLength is missing")
    index = item.get("attachmentIndex")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(files):
        raise fail(10011, f"attachmentIndex {index!r} names no attached file")
    upload = files[index]
    if not isinstance(upload, UploadFile):
        raise fail(10009, "the 'attachments' part is not a file")
    data = await upload.read()
    if not data:
        raise fail(10009, "the attached file is empty")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise fail(10008, f"{len(data)} bytes")
    if item.get("contentLength") != len(data):
        raise fail(10051, f"contentLength {item.get('contentLength')!r}, file has {len(data)} bytes")
    mime = (upload.content_type or "").split(";")[0].strip().lower()
    if mime not in ATTACHMENT_MIME_TYPES:
        raise fail(10095, f"MIME type {mime or 'none'!r}")
    return upload, data


def routes(world) -> list:
    messaging = world.messaging

    def endpoint(context_type: str, *, error_shape: str = "error"):
        """Wrap a handler: authorize, log the exchange, and turn InteractionErrors into vendor errors."""

        def wrap(handler: Callable[[Request, Org, object, dict], Awaitable[Response]]):
            async def view(request: Request) -> Response:
                org = None
                started = time.time()
                try:
                    org, token, ccd = _authorize(world, request, context_type=context_type)
                    response = await handler(request, org, token, ccd)
                    code, detail = None, ""
                except InteractionError as error:
                    code, detail = error.code, getattr(error, "detail", "")
                    body = {"message": error.message, "code": error.code}
                    if error_shape != "error":
                        body = {"success": False, **body}
                        if error_shape == "errorDetail":
                            body["errorDetail"] = {"message": error.message, "code": error.code}
                    response = JSONResponse(body, status_code=messaging.http_status(error.code))
                if org is None:  # refused before the org was known: log under the OrgId header's org
                    org = world.orgs.get(request.headers.get("orgid", ""))
                messaging.log_request(
                    org,
                    {
                        "time": started,
                        "method": request.method,
                        "path": request.url.path.removeprefix("/sim/scrt"),
                        "requestId": request.headers.get("requestid"),
                        "status": response.status_code,
                        "code": code,
                        "detail": detail,
                    },
                )
                return response

            return view

        return wrap

    @endpoint("none")
    async def interactions(request: Request, org: Org, token, ccd: dict) -> Response:
        data, files = await _read_interactions_form(request)
        to, sender = data.get("to"), data.get("from")
        if not isinstance(to, str) or not to or len(to) > 240:
            raise fail(10027, f"to {to!r}")
        if not isinstance(sender, str) or not sender.strip() or len(sender) > 255:
            raise fail(10028, f"from {sender!r}")
        channel = _channel(world, org, ccd, to, missing=10027, unknown=10017)
        attributes = _routing_attributes(data.get("routingAttributes"))
        items = data.get("interactions")
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            raise fail(10029, "interactions must hold exactly one interaction")
        item = items[0]
        kind = item.get("interactionType")
        if kind not in ("EntryInteraction", "AttachmentInteraction") or not _is_timestamp(
            item.get("timestamp")
        ):
            raise fail(
                10029, "interactionType EntryInteraction|AttachmentInteraction and an epoch-ms timestamp"
            )
        upload = content = None
        if kind == "AttachmentInteraction":
            upload, content = await _validate_attachment(item, files)
        else:
            if files:
                raise fail(10011, f"0 AttachmentInteractions, {len(files)} file(s)")
            payload = item.get("payload")
            if not isinstance(payload, dict) or payload.get("entryType") not in INBOUND_ENTRY_TYPES:
                raise fail(
                    10045, "payload.entryType must be Message, Typing*Indicator or MessageDeliveryFailed"
                )
            if not payload.get("id"):
                raise fail(10059, "payload.id is empty")
            if payload["entryType"] == "Message":
                _check_message(
                    payload.get("abstractMessage"), payload["id"], allowed_types=END_USER_MESSAGE_TYPES
                )
            if payload["entryType"] == "MessageDeliveryFailed":
                recipient = payload.get("recipient") if isinstance(payload.get("recipient"), dict) else {}
                if recipient.get("appType") != "custom":
                    raise fail(10037, "MessageDeliveryFailed recipient.appType must be 'custom'")
                if recipient.get("role") != "EndUser":
                    raise fail(10038, "MessageDeliveryFailed recipient.role must be 'EndUser'")
        _check_schema("InteractionRequestJson", data, 10045)

        conversation = messaging.ensure_conversation(org, channel, ccd, sender, attributes)
        if kind == "EntryInteraction" and payload["entryType"] == "MessageDeliveryFailed":
            failed_id = payload.get("failedConversationEntryIdentifier")
            failed = conversation.entry(failed_id) if failed_id else None
            if failed_id and (failed is None or failed.sender.get("role") != "Agent"):
                raise fail(10045, f"failedConversationEntryIdentifier {failed_id!r} is no agent entry here")
        session = messaging.ensure_session(org, conversation, routing_attributes=attributes)
        identifier = item["id"] if kind == "AttachmentInteraction" else payload["id"]
        if conversation.entry(identifier) is None:  # a retried request is accepted once
            if kind == "AttachmentInteraction":
                _add_attachment(world, org, conversation, session, item, upload, content, token)
            else:
                _add_entry(world, org, conversation, session, item, payload)
        body = {
            "conversationIdentifier": conversation.identifier,
            "workItemIds": [to15(session["Id"])],
            "success": True,
        }
        return JSONResponse(body, status_code=202)

    @endpoint("none")
    async def conversation(request: Request, org: Org, token, ccd: dict) -> Response:
        data = _json_body(await request.body())
        if not isinstance(data, dict):
            raise fail(10100, "the body must be a JSON object")
        channel = _channel(
            world, org, ccd, data.get("channelAddressIdentifier"), missing=10052, unknown=10052
        )
        participants = data.get("participants")
        if (
            not isinstance(participants, list)
            or len(participants) != 1
            or not isinstance(participants[0], dict)
        ):
            raise fail(10053, "participants must hold exactly one participant")
        participant = participants[0]
        if participant.get("role") != "EndUser" or participant.get("appType") != "custom":
            raise fail(10053, "the participant must be {appType: custom, role: EndUser}")
        subject = participant.get("subject")
        if not isinstance(subject, str) or not subject.strip() or len(subject) > 255:
            raise fail(10054, f"subject {subject!r}")
        attributes = _routing_attributes(data.get("routingAttributes"))
        _check_schema("PostConversationRequest", data, 10089)
        conv = messaging.ensure_conversation(org, channel, ccd, subject, attributes)
        session = messaging.ensure_session(org, conv, routing_attributes=attributes)
        body = {
            "conversationIdentifier": conv.identifier,
            "messagingSessionId": to15(session["Id"]),
            "success": True,
        }
        return JSONResponse(body, status_code=202)

    @endpoint("required")
    async def conversation_history(request: Request, org: Org, token, ccd: dict) -> Response:
        if not org.ccaas_enabled:
            raise fail(10057, "the org is not flagged ccaas_enabled")
        data = _json_body(await request.body())
        if not isinstance(data, dict):
            raise fail(10100, "the body must be a JSON object")
        channel = _channel(
            world,
            org,
            ccd,
            data.get("channelAddressIdentifier"),
            missing=10069,
            unknown=10069,
            other_ccd=10070,
        )
        participants = _history_participants(data.get("conversationParticipants"))
        entries = data.get("conversationEntries")
        if not isinstance(entries, list) or not 1 <= len(entries) <= HISTORY_MAX_ENTRIES:
            raise fail(10078, f"conversationEntries: 1 to {HISTORY_MAX_ENTRIES} entries")
        _check_history_entries(entries, participants)
        session_request = data.get("messagingSession")
        _check_schema("AddConversationHistoryRequest", data, 10078)
        end_user = next(p for p in participants.values() if p["participant"]["role"] == "EndUser")
        conv = messaging.ensure_conversation(org, channel, ccd, end_user["participant"]["subject"])
        for entry in entries:
            if conv.entry(entry["entryPayload"]["id"]) is not None:
                raise fail(10073, f"message id {entry['entryPayload']['id']!r} was already imported")
        session = _history_session(world, org, conv, session_request)
        for item in entries:
            sender = item["sender"]
            part = participants[(sender["role"], sender["subject"])]
            payload = item["entryPayload"]
            messaging.add_entry(
                org,
                conv,
                Entry(
                    identifier=payload["id"],
                    entry_type=payload["entryType"],
                    sender=dict(sender),
                    sender_display_name=part.get("displayName") or sender["subject"],
                    entry_payload=payload,
                    client_timestamp=item["clientTimestamp"],
                    transcripted_timestamp=now_ms(),
                    session_id=session["Id"],
                    source="history",
                ),
            )
        body = {
            "success": True,
            "conversationIdentifier": conv.identifier,
            "messagingSessionId": to15(session["Id"]),
        }
        return JSONResponse(body, status_code=202)

    @endpoint("none", error_shape="success")
    async def acknowledgement(request: Request, org: Org, token, ccd: dict) -> Response:
        data = _json_body(await request.body())
        if not isinstance(data, dict):
            raise fail(10100, "the body must be a JSON object")
        conv = messaging.conversation(org, data.get("conversationIdentifier") or "")
        if conv is None or conv.channel_definition != ccd["DeveloperName"]:
            raise fail(10018, f"conversationIdentifier {data.get('conversationIdentifier')!r}")
        sender = data.get("sender") if isinstance(data.get("sender"), dict) else {}
        if sender.get("appType") != "custom":
            raise fail(10037, "sender.appType must be 'custom'")
        if sender.get("role") != "EndUser":
            raise fail(10038, "sender.role must be 'EndUser'")
        if sender.get("subject") != conv.end_user_subject:
            raise fail(10036, f"sender.subject {sender.get('subject')!r} is not this conversation's end user")
        acks = data.get("acknowledgements")
        if not isinstance(acks, list) or not 1 <= len(acks) <= 25:
            raise fail(10089, "acknowledgements: 1 to 25 items")
        for ack in acks:
            if not isinstance(ack, dict) or ack.get("acknowledgementType") not in ("Read", "Delivered"):
                raise fail(10089, "acknowledgementType must be Read or Delivered")
            stamp = ack.get("acknowledgementTimestamp")
            # ASCII digits only: "²" passes str.isdigit() but int() below would refuse it after state changed
            digits = whole_number(stamp) if isinstance(stamp, str) else None
            if not (_is_timestamp(stamp) or (digits is not None and digits >= 0)):
                raise fail(10089, f"acknowledgementTimestamp {stamp!r}: epoch milliseconds")
            if not ack.get("acknowledgmentCreatedConversationEntryIdentifier"):
                raise fail(10089, "acknowledgmentCreatedConversationEntryIdentifier is required")
            if conv.entry(ack.get("acknowledgedConversationEntryIdentifier") or "") is None:
                raise fail(
                    10089,
                    f"no entry {ack.get('acknowledgedConversationEntryIdentifier')!r} in the conversation",
                )
        _check_schema("AcknowledgementRequest", {**data, "acknowledgements": [
            {**a, "acknowledgementTimestamp": str(a["acknowledgementTimestamp"])} for a in acks
        ]}, 10089)  # fmt: skip
        for ack in acks:
            target = conv.entry(ack["acknowledgedConversationEntryIdentifier"])
            created = ack["acknowledgmentCreatedConversationEntryIdentifier"]
            known = next((a for a in target.acknowledgements if a["createdEntryIdentifier"] == created), None)
            if known is not None:
                # A replayed acknowledgement stores no second entry (its id is the client's); counted, so a
                # test can tell a client that sends each receipt once from one that sends it again.
                known["received"] += 1
                continue
            target.acknowledgements.append(
                {
                    "type": ack["acknowledgementType"],
                    "timestamp": int(ack["acknowledgementTimestamp"]),
                    "createdEntryIdentifier": created,
                    "receivedAt": now_ms(),
                    "received": 1,
                }
            )
        return JSONResponse({"success": True})

    @endpoint("none")
    async def messaging_session(request: Request, org: Org, token, ccd: dict) -> Response:
        data = _json_body(await request.body())
        if not isinstance(data, dict):
            raise fail(10100, "the body must be a JSON object")
        if data.get("operation") not in ("End", "Inactivate"):
            raise fail(10102, f"operation {data.get('operation')!r}")
        if data.get("operationBy") not in (None, "EndUser", "System"):
            raise fail(10103, f"operationBy {data.get('operationBy')!r}")
        if data["operation"] == "Inactivate" and not data.get("sessionId"):
            raise fail(10106, "Inactivate needs sessionId")
        for name in ("channelAddressIdentifier", "conversationIdentifier", "endUserClientId"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise fail(10089, f"{name} is required")
        reason = _end_or_inactivate(world, org, ccd, data, token)
        if reason:
            return JSONResponse({"success": False, "errorReason": reason})
        return JSONResponse({"success": True})

    @endpoint("optional", error_shape="errorDetail")
    async def capabilities(request: Request, org: Org, token, ccd: dict) -> Response:
        data = _json_body(await request.body())
        if not isinstance(data, dict):
            raise fail(10100, "the body must be a JSON object")
        _check_schema("CapabilitiesRequest", data, 10089)
        for channel in data["capabilities"]["channelCapabilities"]:
            integration = channel.get("customIntegration") or {}
            name = integration.get("conversationChannelDefinitionDevName")
            if integration and name != ccd["DeveloperName"]:
                raise fail(
                    10050, f"conversationChannelDefinitionDevName {name!r} is not {ccd['DeveloperName']}"
                )
        messaging.state(org).capabilities[ccd["DeveloperName"]] = data["capabilities"]
        return JSONResponse({"success": True})

    @endpoint("optional")
    async def route(request: Request, org: Org, token, ccd: dict) -> Response:
        """RoutingOwner=Partner only: record the request; Salesforce answers with a PSR (simulated)."""
        data = _json_body(await request.body())
        if not isinstance(data, dict):
            raise fail(10100, "the body must be a JSON object")
        conv = messaging.conversation(org, data.get("conversationIdentifier") or "")
        if conv is None:
            raise fail(10018, f"conversationIdentifier {data.get('conversationIdentifier')!r}")
        schema = "PostRouteRequest" if request.method == "POST" else "DeleteRouteRequest"
        _check_schema(schema, data, 10089)
        messaging.state(org).routes.append({"method": request.method, "path": "/route", "body": data})
        if request.method == "DELETE":
            return JSONResponse({"success": True}, status_code=202)
        session = messaging.open_session(org, conv) or messaging.ensure_session(org, conv)
        body = {
            "success": True,
            "psrId": "0JR" + to15(session["Id"])[3:],
            "workItemId": to15(session["Id"]),
            "routingCorrelationId": str(uuid.uuid4()),
        }
        return JSONResponse(body, status_code=202)

    @endpoint("none")
    async def routing_result(request: Request, org: Org, token, ccd: dict) -> Response:
        data = _json_body(await request.body())
        if not isinstance(data, dict):
            raise fail(10100, "the body must be a JSON object")
        _check_schema("RoutingResultRequest", data, 10089)
        if messaging.conversation(org, data["conversationIdentifier"]) is None:
            raise fail(10018, f"conversationIdentifier {data['conversationIdentifier']!r}")
        messaging.state(org).routes.append({"method": "POST", "path": "/routingResult", "body": data})
        return JSONResponse({"success": True}, status_code=202)

    async def download(request: Request) -> Response:
        """A Salesforce Files content-distribution download: ``oid``, ``ids`` and the token ``d`` required."""
        params = request.query_params
        org = world.orgs.get(params.get("oid", ""))
        stored = messaging.file(org, params.get("ids", "")) if org else None
        if stored is None or not params.get("d") or params.get("d") != stored.token:
            return Response(
                "File not found or the link has expired.", status_code=404, media_type="text/plain"
            )
        headers = {"Content-Disposition": f'attachment; filename="{stored.name}"'}
        return Response(stored.data, media_type=stored.mime_type, headers=headers)

    return [
        Route(f"{PREFIX}/interactions", interactions, methods=["POST"]),
        Route(f"{PREFIX}/conversation", conversation, methods=["POST"]),
        Route(f"{PREFIX}/conversationHistory", conversation_history, methods=["POST"]),
        Route(f"{PREFIX}/acknowledgement", acknowledgement, methods=["POST"]),
        Route(f"{PREFIX}/messagingSession", messaging_session, methods=["POST"]),
        Route(f"{PREFIX}/capabilities", capabilities, methods=["PATCH"]),
        Route(f"{PREFIX}/route", route, methods=["POST", "DELETE"]),
        Route(f"{PREFIX}/routingResult", routing_result, methods=["POST"]),
        Route("/sim/files/sfc/dist/version/download/", download, methods=["GET"]),
    ]


# --- effects of /interactions ----------------------------------------------------------------------


def _add_entry(world, org: Org, conv: Conversation, session: dict, item: dict, payload: dict) -> Entry:
    messaging = world.messaging
    entry = Entry(
        identifier=payload["id"],
        entry_type=payload["entryType"],
        sender=end_user_participant(conv.end_user_subject),
        sender_display_name=conv.end_user_subject,
        entry_payload=payload,
        client_timestamp=item["timestamp"],
        transcripted_timestamp=now_ms(),
        session_id=session["Id"],
        source="interaction",
    )
    messaging.add_entry(org, conv, entry)
    info = messaging.state(org).sessions[session["Id"]]
    if entry.entry_type in ("TypingStartedIndicator", "TypingStoppedIndicator"):
        info.typing = entry.entry_type == "TypingStartedIndicator"
    elif entry.entry_type == "Message":
        info.typing = False
    if entry.entry_type == "MessageDeliveryFailed" and payload.get("failedConversationEntryIdentifier"):
        failed = conv.entry(payload["failedConversationEntryIdentifier"])
        failed.delivery_failures.append(
            {
                "entryIdentifier": entry.identifier,
                "errorCode": payload.get("errorCode"),
                "errorMessage": payload.get("errorMessage"),
                "timestamp": item["timestamp"],
            }
        )
    return entry


def _add_attachment(
    world, org: Org, conv: Conversation, session: dict, item: dict, upload, content, token
) -> Entry:
    """An end user's file: kept in Salesforce Files; MessageUpdated with the upload result follows."""
    messaging = world.messaging
    mime = (upload.content_type or "").split(";")[0].strip().lower()
    stored = messaging.store_file(org, upload.filename or "attachment", mime, content)
    attachment = {
        "name": stored.name,
        "id": str(uuid.uuid4()),
        "mimeType": mime,
        "url": messaging.file_url(stored),
        "referenceId": str(uuid.uuid4()),
    }
    static = {"formatType": "Attachments", "attachments": [attachment]}
    if item.get("text"):
        static["text"] = item["text"]
    payload = {
        "entryType": "Message",
        "id": item["id"],
        "abstractMessage": {"messageType": "StaticContentMessage", "id": item["id"], "staticContent": static},
    }
    entry = _add_entry(world, org, conv, session, item, payload)
    entry.file_ids.append(stored.content_version_id)
    attachment["attachmentUploadResult"] = {"resultType": "PendingAttachmentUploadResult", "referenceId": attachment["referenceId"]}  # fmt: skip
    messaging.later(_publish_upload_result(world, org, conv, entry, token.user_id))
    return entry


async def _publish_upload_result(
    world, org: Org, conv: Conversation, entry: Entry, created_by_id: str
) -> None:
    """Salesforce finishes the upload asynchronously and tells the partner with a MessageUpdated entry."""
    import asyncio

    await asyncio.sleep(0.05)
    message = entry.entry_payload["abstractMessage"]
    error = world.messaging.upload_error
    for attachment in message["staticContent"]["attachments"]:
        if error is None:
            attachment["attachmentUploadResult"] = {"resultType": "CompletedAttachmentUploadResult"}
        else:  # ErrorAttachmentUploadResult: errorType required, errorMessage "not for display"
            attachment["attachmentUploadResult"] = {
                "resultType": "ErrorAttachmentUploadResult",
                "errorType": error,
                "errorMessage": f"Upload failed: {error}",
            }
    identifier = str(uuid.uuid4())
    stamp = now_ms()
    update = Entry(
        identifier=identifier,
        entry_type="MessageUpdated",
        sender=end_user_participant(conv.end_user_subject),
        sender_display_name=conv.end_user_subject,
        entry_payload={"entryType": "MessageUpdated", "id": identifier, "updatedMessage": message},
        client_timestamp=stamp,
        transcripted_timestamp=stamp,
        session_id=entry.session_id,
        source="system",
    )
    world.messaging.add_entry(org, conv, update)
    world.messaging.publish(org, conv, update, created_by_id=created_by_id)


# --- /conversationHistory rules ----------------------------------------------------------------------


def _history_participants(value) -> dict:
    """Participants keyed by (role, subject), after the documented checks."""
    if not isinstance(value, list) or not value:
        raise fail(10039, "conversationParticipants is empty")
    if len(value) > 3:
        raise fail(10078, "at most 3 conversationParticipants")
    found: dict = {}
    for part in value:
        participant = part.get("participant") if isinstance(part, dict) else None
        if not isinstance(participant, dict) or not participant.get("subject"):
            raise fail(10078, "each participant needs participant{appType, subject, role}")
        role = participant.get("role")
        if role not in ("EndUser", "Chatbot"):
            raise fail(10043, f"role {role!r}")
        key = (role, participant["subject"])
        if key in found:
            raise fail(10101, f"{role} {participant['subject']} twice")
        joined, left = part.get("joinedTime"), part.get("leftTime")
        if not _is_timestamp(joined):
            raise fail(10078, "joinedTime must be epoch milliseconds")
        if role == "EndUser" and left is not None:
            raise fail(10065, "EndUser with leftTime")
        if role == "Chatbot" and left is None:
            raise fail(10066, "Chatbot without leftTime")
        if left is not None and (not _is_timestamp(left) or joined >= left):
            raise fail(10067, f"joinedTime {joined} >= leftTime {left}")
        found[key] = part
    end_users = [k for k in found if k[0] == "EndUser"]
    if not end_users:
        raise fail(10042, "no EndUser participant")
    if len(end_users) > 1:
        raise fail(10044, "more than one EndUser participant")
    return found


def _check_history_entries(entries: list, participants: dict) -> None:
    seen = set()
    now = now_ms()
    for item in entries:
        if not isinstance(item, dict) or not isinstance(item.get("entryPayload"), dict):
            raise fail(10078, "each entry needs clientTimestamp, sender and entryPayload")
        payload = item["entryPayload"]
        if payload.get("entryType") != "Message":
            raise fail(10045, f"entryType {payload.get('entryType')!r}: history takes Message entries")
        _check_message(payload.get("abstractMessage"), payload.get("id"))
        if payload["id"] in seen:
            raise fail(10073, f"message id {payload['id']!r} twice")
        seen.add(payload["id"])
        sender = item.get("sender") if isinstance(item.get("sender"), dict) else {}
        part = participants.get((sender.get("role"), sender.get("subject")))
        if part is None:
            raise fail(10068, f"sender {sender!r} is not a participant")
        stamp = item.get("clientTimestamp")
        if not _is_timestamp(stamp) or stamp > now + 60_000 or now - stamp > HISTORY_MAX_AGE_MS:
            raise fail(10046, f"clientTimestamp {stamp!r}: epoch ms within the last 24 hours")
        if stamp < part["joinedTime"] or (part.get("leftTime") is not None and stamp > part["leftTime"]):
            raise fail(10074, f"clientTimestamp {stamp} outside {sender['role']}'s participation")


def _history_session(world, org: Org, conv: Conversation, request) -> dict:
    messaging = world.messaging
    if request is None:
        return messaging.ensure_session(org, conv)
    if not isinstance(request, dict):
        raise fail(10078, "messagingSession must be an object")
    kind = request.get("messagingSessionRequestType")
    payload = request.get("payload") if isinstance(request.get("payload"), dict) else {}
    if kind == "AttachMessagingSession":
        session_id = payload.get("sessionId")
        if (
            not isinstance(session_id, str)
            or len(session_id) not in (15, 18)
            or not session_id.startswith("0Mw")
        ):
            raise fail(10072, f"sessionId {session_id!r}")
        row = messaging.session_row(org, session_id)
        if row is None or row["Id"] not in conv.session_ids:
            raise fail(10071, f"no session {session_id} on this conversation")
        return row
    if kind != "EstablishMessagingSession":
        raise fail(10078, f"messagingSessionRequestType {kind!r}")
    start, end = payload.get("startTime"), payload.get("endTime")
    now = now_ms()
    if not _is_timestamp(start) or start > now + 60_000 or now - start > HISTORY_MAX_AGE_MS:
        raise fail(10061, f"startTime {start!r}")
    if end is not None and (not _is_timestamp(end) or end < start):
        raise fail(10064, f"endTime {end!r}")
    return messaging.ensure_session(org, conv, start_ms=start)


# --- /messagingSession ----------------------------------------------------------------------------------


def _end_or_inactivate(world, org: Org, ccd: dict, data: dict, token) -> str | None:
    """Apply End/Inactivate; returns the documented errorReason when it cannot."""
    messaging = world.messaging
    channel = messaging.channel_by_address(org, data["channelAddressIdentifier"])
    if channel is None or channel.get("ChannelDefinitionId") != ccd["Id"]:
        return "CHANNEL_ADDRESS_NOT_FOUND"
    if not channel.get("IsActive", True):
        return "CHANNEL_ADDRESS_IS_INACTIVE"
    conv = messaging.conversation(org, data["conversationIdentifier"])
    if conv is None or conv.channel_address != channel["ChannelAddressIdentifier"]:
        return "ACTIVE_CONVERSATION_NOT_FOUND"
    if conv.end_user_subject != data["endUserClientId"]:
        return "END_USER_NOT_FOUND"
    if data.get("sessionId"):
        row = messaging.session_row(org, data["sessionId"])
        if row is None or row["Id"] not in conv.session_ids:
            return "SESSION_NOT_FOUND"
        if row["Status"] == "Ended":
            return "ACTIVE_CONVERSATION_NOT_FOUND"
    else:
        row = messaging.open_session(org, conv)
        if row is None:
            return "ACTIVE_CONVERSATION_NOT_FOUND"
    role = data.get("operationBy") or "System"
    if data["operation"] == "End":
        messaging.end_session(org, conv, row["Id"], ended_by_role=role, created_by_id=token.user_id)
        return None
    if row["Status"] == "Inactive":
        return None
    row, previous = messaging.set_session_status(org, row["Id"], "Inactive")
    messaging.publish_session_status(
        org,
        conv,
        row,
        previous,
        sender=end_user_participant(conv.end_user_subject) if role == "EndUser" else
        {"appType": "conversation", "subject": conv.identifier, "role": "System"},
        sender_name=conv.end_user_subject if role == "EndUser" else "System",
        created_by_id=token.user_id,
    )  # fmt: skip
    return None
