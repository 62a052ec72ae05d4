"""The Messaging for In-App and Web API v2 on the SCRT host: ``/sim/scrt/iamessage/api/v2/...``.

Paths, bodies and statuses as Salesforce documents them and its sample client uses them (sources in
sandbox/README.md, Enhanced Chat). Errors answer ``{"message", "code"}`` (the SCRT host's error shape;
the API's own is undocumented) with the HTTP status in ``code``.
"""

from __future__ import annotations

import mimetypes
import time
import uuid
from collections.abc import Awaitable, Callable

from python_multipart.exceptions import MultipartParseError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..inputs import parse_json
from ..salesforce.messaging import now_ms
from ..salesforce.org import Org
from . import checks, tokens
from .state import ApiError, ChatState, Deployment, EnhancedChatService

PREFIX = "/sim/scrt/iamessage/api/v2"
MAX_FILE_BYTES = 5 * 1024 * 1024  # undocumented; what Salesforce's clients enforce (sandbox/README.md)
FILE_MIME_TYPES = frozenset(
    [
        "image/jpeg",
        "image/png",
        "image/gif",
        "application/pdf",
        "text/plain",
        "audio/mpeg",
        "audio/ogg",
        "audio/aac",
        "audio/mp4",
        "video/mp4",
        "video/3gpp",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ]
)
DURABLE_ENTRY_TYPES = ("Message", "ParticipantChanged", "RoutingResult")
KNOWN_ENTRY_TYPES = (*DURABLE_ENTRY_TYPES, "TypingStartedIndicator", "TypingStoppedIndicator")


def error_response(error: ApiError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    return JSONResponse(
        {"message": error.message, "code": error.status}, status_code=error.status, headers=headers
    )


def bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def routes(world) -> list:
    service: EnhancedChatService = world.enhancedchat
    messaging = world.messaging

    def endpoint(handler: Callable[..., Awaitable[Response]], *, authenticated: bool = True):
        """Turn refusals into error answers; hand authenticated handlers (request, org, token)."""

        async def view(request: Request) -> Response:
            try:
                if not authenticated:
                    return await handler(request)
                token = service.authenticate(bearer(request))
                org = world.orgs.get(token.org_id)
                if org is None:  # the org was removed since (reset): its tokens went with it
                    raise ApiError(401, "Invalid access token.")
                return await handler(request, org, token)
            except ApiError as error:
                return error_response(error)

        return view

    def token_answer(org: Org, token: tokens.AccessToken, device_id: str | None = None) -> JSONResponse:
        deployment = service.deployment(org, token.deployment)
        context: dict = {
            "configuration": {
                "embeddedServiceConfig": {
                    "name": token.deployment,
                    "deploymentType": "api",
                    "embeddedServiceMessagingChannel": {
                        "channelAddressIdentifier": deployment.channel_address if deployment else None,
                        "authMode": "Auth" if deployment and deployment.user_verification else "UnAuth",
                    },
                }
            }
        }
        if device_id:
            context["deviceId"] = device_id
        last = service.events.last_id(org.org_id, token.subject)
        return JSONResponse({"accessToken": token.value, "lastEventId": last, "context": context})

    def token_request(data: dict) -> tuple[Org, Deployment, str | None]:
        """Org and deployment of an access-token request, checked in the documented field order."""
        org_id = checks.required_string(data, "orgId", checks.ORG_ID15_RE)
        name = checks.required_string(data, "esDeveloperName", checks.DEVELOPER_NAME_RE)
        version = data.get("capabilitiesVersion")
        if not isinstance(version, str) or not version.strip() or len(version) > 16:
            raise ApiError(400, "capabilitiesVersion is required.")
        if data.get("platform") not in checks.PLATFORMS:
            raise ApiError(400, f"platform must be one of {', '.join(checks.PLATFORMS)}.")
        if data.get("context") is not None and not isinstance(data["context"], dict):
            raise ApiError(400, "context must be an object.")
        device_id = checks.string(data, "deviceId", required=False)
        org = world.orgs.get(org_id)
        if org is None:
            raise ApiError(400, "Invalid orgId: no Messaging for In-App and Web setup for this org.")
        deployment = service.deployment(org, name)
        if deployment is None:
            raise ApiError(400, f"Invalid esDeveloperName: no Custom Client deployment {name}.")
        return org, deployment, device_id

    async def unauthenticated_token(request: Request) -> Response:
        org, deployment, device_id = token_request(await checks.json_object(request))
        if deployment.user_verification:
            raise ApiError(403, "User Verification is enabled on this deployment: guests cannot get a token.")
        service.take_token_budget(org)
        subject = tokens.new_subject(deployment.developer_name)
        token = service.issue_token(org, deployment, subject, verified=False)
        return token_answer(org, token, device_id)

    async def authenticated_token(request: Request) -> Response:
        data = await checks.json_object(request)
        org, deployment, device_id = token_request(data)
        if data.get("authorizationType") != "JWT":
            raise ApiError(400, "authorizationType must be JWT.")
        identity = data.get("customerIdentityToken")
        if not isinstance(identity, str) or not identity:
            raise ApiError(400, "customerIdentityToken is required.")
        if not deployment.user_verification:
            raise ApiError(403, "User Verification is not enabled on this deployment.")
        claims = tokens.verify_jwt(identity, deployment.verification_secret.encode())
        sub = claims.get("sub") if claims else None
        exp = claims.get("exp") if claims else None
        if not isinstance(sub, str) or not sub or len(sub) > 255:
            raise ApiError(401, "The customer identity token could not be verified.")
        if isinstance(exp, bool) or not isinstance(exp, (int, float)) or exp <= time.time():
            raise ApiError(401, "The customer identity token has expired.")
        service.take_token_budget(org)
        subject = tokens.new_subject(deployment.developer_name, verified_sub=sub)
        token = service.issue_token(org, deployment, subject, verified=True)
        return token_answer(org, token, device_id)

    async def continuation_token(request: Request, org: Org, token: tokens.AccessToken) -> Response:
        deployment = token_deployment(org, token)
        service.take_renewal_budget(org)
        renewed = service.issue_token(org, deployment, token.subject, verified=token.verified)
        return token_answer(org, renewed)

    async def revoke_token(request: Request, org: Org, token: tokens.AccessToken) -> Response:
        token.revoked = True
        service.events.drop(token=token.value)
        return Response(status_code=204)

    def token_deployment(org: Org, token: tokens.AccessToken) -> Deployment:
        deployment = service.deployment(org, token.deployment)
        if deployment is None:  # removed since the token was issued (reset)
            raise ApiError(401, "Invalid access token.")
        return deployment

    def same_deployment(token: tokens.AccessToken, name: str | None) -> None:
        if name is not None and name != token.deployment:
            raise ApiError(403, "esDeveloperName does not match the access token's deployment.")

    async def create_conversation(request: Request, org: Org, token: tokens.AccessToken) -> Response:
        data = await checks.json_object(request)
        conversation_id = checks.conversation_id(data.get("conversationId"))
        name = checks.string(data, "esDeveloperName", pattern=checks.DEVELOPER_NAME_RE)
        same_deployment(token, name)
        checks.string(data, "language", required=False)
        deployment = token_deployment(org, token)
        taken, ignored = checks.routing_attributes(data, deployment.prechat_fields)
        service.create_conversation(org, deployment, token, conversation_id, taken, ignored)
        return JSONResponse({}, status_code=201)

    async def list_conversations(request: Request, org: Org, token: tokens.AccessToken) -> Response:
        params = request.query_params
        closed_too = params.get("inclClosedConvs", "false")
        if closed_too not in ("true", "false"):
            raise ApiError(400, "inclClosedConvs must be true or false.")
        limit = checks.bounded_int(params.get("limit"), "limit", 20, 1, 50)
        mine = [c for (o, _), c in service.chats.items() if o == org.org_id and c.subject == token.subject]
        shown = [c for c in mine if closed_too == "true" or not c.closed]
        shown.sort(key=lambda c: c.started_ms, reverse=True)
        return JSONResponse(
            {
                "openConversationsFound": sum(1 for c in mine if not c.closed),
                "closedConversationsFound": sum(1 for c in mine if c.closed),
                "conversations": [
                    {
                        "conversationId": c.conversation_id,
                        "startTimestamp": c.started_ms,
                        "endTimestamp": c.ended_ms,
                        "esDeveloperName": c.deployment,
                    }
                    for c in shown[:limit]
                ],
            }
        )

    async def list_entries(request: Request, org: Org, token: tokens.AccessToken) -> Response:
        chat = service.chat(org, token, request.path_params["conversation_id"])
        params = request.query_params
        limit = checks.bounded_int(params.get("limit"), "limit", 20, 1, 50)
        start = checks.bounded_int(params.get("startTimestamp"), "startTimestamp", 0, 0, 2**53)
        end = checks.bounded_int(params.get("endTimestamp"), "endTimestamp", 2**53, 0, 2**53)
        direction = params.get("direction") or "FromEnd"
        if direction not in ("FromStart", "FromEnd"):
            raise ApiError(400, "direction must be FromStart or FromEnd.")
        wanted = (
            tuple(t for t in (params.get("entryTypeFilter") or "").split(",") if t) or DURABLE_ENTRY_TYPES
        )
        if any(t not in KNOWN_ENTRY_TYPES for t in wanted):
            raise ApiError(400, f"entryTypeFilter may name {', '.join(KNOWN_ENTRY_TYPES)}.")
        entries = [
            e
            for e in service.api_entries(org, chat)
            if e.entry_type in wanted and start <= e.client_timestamp <= end
        ]
        entries = entries[:limit] if direction == "FromStart" else entries[-limit:][::-1]
        return JSONResponse({"conversationEntries": [service.entry_json(org, chat, e) for e in entries]})

    def open_chat(org: Org, token: tokens.AccessToken, conversation_id: str, name: str | None) -> ChatState:
        chat = service.chat(org, token, conversation_id)
        same_deployment(token, name)
        if chat.closed:
            raise ApiError(400, f"Conversation {conversation_id} is closed.")
        return chat

    def replayed(org: Org, chat: ChatState, message_id: str) -> Response | None:
        """A message id seen before is answered as first time, without adding it again."""
        entry = service.conversation(org, chat).entry(message_id)
        if entry is None:
            return None
        return JSONResponse(
            {"conversationEntries": [{"id": entry.identifier, "clientTimestamp": entry.client_timestamp}]},
            status_code=202,
        )

    def take_message_budget(org: Org, chat: ChatState) -> None:
        limits = service.limits
        key = f"messages:{org.org_id}:{chat.conversation_id}"
        wait = service.windows.take(key, limits.messages_per_conversation_per_minute, limits.window_seconds)
        if wait is not None:
            raise ApiError(429, "Too many messages in this conversation. Retry later.", wait)

    def admit(org: Org, chat: ChatState, token: tokens.AccessToken, data: dict) -> tuple[dict, bool]:
        """Check a message's routing fields and take its place in the rate limit, before anything changes."""
        deployment = token_deployment(org, token)
        taken, _ignored = checks.routing_attributes(data, deployment.prechat_fields)
        new_session = checks.flag(data, "isNewMessagingSession")
        take_message_budget(org, chat)
        return taken, new_session

    def post_message(
        org: Org,
        chat: ChatState,
        token: tokens.AccessToken,
        message: dict,
        admitted: tuple[dict, bool],
        file_id: str | None = None,
    ) -> Response:
        taken, new_session = admitted
        if new_session or messaging.open_session(org, service.conversation(org, chat)) is None:
            service.open_session(org, chat, taken)
        payload = {
            "entryType": "Message",
            "id": message["id"],
            "abstractMessage": message,
            "messageReason": None,
        }
        entry = service.add_end_user_entry(org, chat, token, "Message", payload, message["id"])
        if file_id:
            entry.file_ids.append(file_id)
        service.end_user_message(org, chat, entry)
        return JSONResponse(
            {"conversationEntries": [{"id": entry.identifier, "clientTimestamp": entry.client_timestamp}]},
            status_code=202,
        )

    async def send_message(request: Request, org: Org, token: tokens.AccessToken) -> Response:
        data = await checks.json_object(request)
        name = checks.string(data, "esDeveloperName", required=False, pattern=checks.DEVELOPER_NAME_RE)
        chat = open_chat(org, token, request.path_params["conversation_id"], name)
        message = checks.message(data)
        if (answer := replayed(org, chat, message["id"])) is not None:
            return answer
        return post_message(org, chat, token, message, admit(org, chat, token, data))

    async def upload_file(request: Request, org: Org, token: tokens.AccessToken) -> Response:
        chat = service.chat(org, token, request.path_params["conversation_id"])
        declared = request.headers.get("content-length", "")
        if checks.digits(declared) and int(declared) > MAX_FILE_BYTES + checks.MAX_JSON_BYTES:
            raise ApiError(413, f"The file is larger than {MAX_FILE_BYTES} bytes.")
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ApiError(415, "The request must be multipart/form-data with messageEntry and fileData.")
        try:
            form = await request.form(max_files=2, max_fields=2, max_part_size=checks.MAX_JSON_BYTES)
        except (MultiPartException, MultipartParseError, ValueError) as exc:
            raise ApiError(400, f"The multipart body could not be read: {exc}") from None
        try:
            data = await _message_entry(form.get("messageEntry"))
            upload = form.get("fileData")
            name = checks.string(data, "esDeveloperName", required=False, pattern=checks.DEVELOPER_NAME_RE)
            chat = open_chat(org, token, chat.conversation_id, name)
            message = data.get("message")
            if not isinstance(message, dict) or not checks.UUID_RE.match(str(message.get("id", ""))):
                raise ApiError(400, "messageEntry.message.id must be a UUID.")
            text = message.get("text") or ""
            if not isinstance(text, str) or len(text) > checks.MAX_TEXT_CHARS:
                raise ApiError(400, "messageEntry.message.text is invalid.")
            file_id = message.get("fileId") or str(uuid.uuid4())
            if not isinstance(file_id, str) or len(file_id) > 255:
                raise ApiError(400, "messageEntry.message.fileId is invalid.")
            if (answer := replayed(org, chat, message["id"])) is not None:
                return answer
            if not isinstance(upload, UploadFile):
                raise ApiError(400, "fileData is required.")
            content = await upload.read(MAX_FILE_BYTES + 1)
            if len(content) > MAX_FILE_BYTES:
                raise ApiError(413, f"The file is larger than {MAX_FILE_BYTES} bytes.")
            if not content:
                raise ApiError(400, "The file is empty.")
            filename = (upload.filename or "file").replace("/", "_")[-255:]
            mime = _mime_type(upload, filename)
            if mime not in FILE_MIME_TYPES:
                raise ApiError(415, f"Files of type {mime} are not supported.")
            admitted = admit(org, chat, token, data)
        finally:
            await form.close()
        stored = messaging.store_file(org, filename, mime, content)
        static = {
            "formatType": "Attachments",
            "attachments": [
                {
                    "id": file_id,
                    "name": filename,
                    "mimeType": mime,
                    "url": messaging.file_url(stored),
                    "referenceId": stored.content_version_id,
                }
            ],
        }
        if text:
            static["text"] = text
        abstract = {"messageType": "StaticContentMessage", "id": message["id"], "staticContent": static}
        if isinstance(message.get("inReplyToMessageId"), str):
            abstract["inReplyToMessageId"] = message["inReplyToMessageId"][:255]
        return post_message(org, chat, token, abstract, admitted, stored.content_version_id)

    async def send_entry(request: Request, org: Org, token: tokens.AccessToken) -> Response:
        chat = open_chat(org, token, request.path_params["conversation_id"], None)
        data = await checks.json_object(request)
        kind = data.get("entryType")
        if kind not in ("TypingStartedIndicator", "TypingStoppedIndicator"):
            raise ApiError(400, "entryType must be TypingStartedIndicator or TypingStoppedIndicator.")
        if not isinstance(data.get("id"), str) or not checks.UUID_RE.match(data["id"]):
            raise ApiError(400, "id must be a UUID.")
        row = messaging.open_session(org, service.conversation(org, chat))
        if row is not None:
            messaging.state(org).sessions[row["Id"]].typing = kind == "TypingStartedIndicator"
        return JSONResponse({}, status_code=202)

    async def acknowledge(request: Request, org: Org, token: tokens.AccessToken) -> Response:
        chat = service.chat(org, token, request.path_params["conversation_id"])
        items = checks.acks(await checks.json_object(request))
        conversation = service.conversation(org, chat)
        targets = []
        for item in items:
            target = conversation.entry(item["conversationEntryId"])
            if target is None or target.sender.get("role") == "EndUser" or target.entry_type != "Message":
                raise ApiError(400, f"No agent message {item['conversationEntryId']} in this conversation.")
            targets.append((item, target))
        for item, target in targets:
            if any(a["createdEntryIdentifier"] == item["id"] for a in target.acknowledgements):
                continue  # a replayed acknowledgement
            target.acknowledgements.append(
                {
                    "type": "Delivered" if item["entryType"] == "Delivery" else "Read",
                    "timestamp": now_ms(),
                    "createdEntryIdentifier": item["id"],
                    "receivedAt": now_ms(),
                }
            )
        return JSONResponse({}, status_code=202)

    async def close_conversation(request: Request, org: Org, token: tokens.AccessToken) -> Response:
        chat = service.chat(org, token, request.path_params["conversation_id"])
        same_deployment(token, request.query_params.get("esDeveloperName"))
        service.close(org, chat, ended_by="EndUser")
        return Response(status_code=204)

    async def end_session(request: Request, org: Org, token: tokens.AccessToken) -> Response:
        chat = service.chat(org, token, request.path_params["conversation_id"])
        same_deployment(token, request.query_params.get("esDeveloperName"))
        service.end_session_only(org, chat)
        return Response(status_code=204)

    conversation = f"{PREFIX}/conversation/{{conversation_id}}"
    return [
        Route(
            f"{PREFIX}/authorization/unauthenticated/access-token",
            endpoint(unauthenticated_token, authenticated=False),
            methods=["POST"],
        ),
        Route(
            f"{PREFIX}/authorization/authenticated/access-token",
            endpoint(authenticated_token, authenticated=False),
            methods=["POST"],
        ),
        Route(
            f"{PREFIX}/authorization/continuation-access-token", endpoint(continuation_token), methods=["GET"]
        ),
        Route(f"{PREFIX}/authorization/token", endpoint(revoke_token), methods=["DELETE"]),
        Route(f"{PREFIX}/conversation", endpoint(create_conversation), methods=["POST"]),
        Route(f"{PREFIX}/conversation/list", endpoint(list_conversations), methods=["GET"]),
        Route(conversation, endpoint(close_conversation), methods=["DELETE"]),
        Route(f"{conversation}/session", endpoint(end_session), methods=["DELETE"]),
        Route(f"{conversation}/entries", endpoint(list_entries), methods=["GET"]),
        Route(f"{conversation}/message", endpoint(send_message), methods=["POST"]),
        Route(f"{conversation}/file", endpoint(upload_file), methods=["POST"]),
        Route(f"{conversation}/entry", endpoint(send_entry), methods=["POST"]),
        Route(f"{conversation}/acknowledge-entries", endpoint(acknowledge), methods=["POST"]),
    ]


async def _message_entry(part) -> dict:
    """The ``messageEntry`` part: a JSON field, or a JSON blob (browsers send Blobs as files)."""
    if isinstance(part, UploadFile):
        raw = await part.read(checks.MAX_JSON_BYTES + 1)
    elif isinstance(part, str):
        raw = part.encode()
    else:
        raise ApiError(400, "messageEntry is required.")
    if len(raw) > checks.MAX_JSON_BYTES:
        raise ApiError(413, "messageEntry is too large.")
    try:
        data = parse_json(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "messageEntry is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "messageEntry must be a JSON object.")
    return data


def _mime_type(upload: UploadFile, filename: str) -> str:
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream":
        return declared
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"
