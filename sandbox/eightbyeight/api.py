"""The simulated 8x8 Chat Apps API under ``/sim/8x8`` (a region's ``https://chatapps.8x8.com`` and its kin).

Each request: the operation from 8x8's OpenAPI file (``sandbox/specs/8x8/business_messaging_api.json``),
``Authorization: Bearer <apiKey>`` (401 ``code 1200``), the sub-account or account must be the key's (401
``code 1001``), the body against the file's schema (400), then the documented rules: an E.164 ``user.msisdn``
unless ``user.country`` is given (400 ``code 1002``), a WhatsApp template must be registered and approved.
Errors have 8x8's shape ``{code, message, errorId, timestamp}``.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..inputs import parse_json
from ..openapi import load_spec
from .state import CHANNEL_NAMES, Account, now, stamp, webhook_from

if TYPE_CHECKING:
    from ..world import World

PREFIX = "/sim/8x8"
SPEC = Path(__file__).resolve().parent.parent / "specs" / "8x8" / "business_messaging_api.json"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
BSUID = re.compile(r"^[A-Z]{2}\.[A-Za-z0-9]+$")
SUB_ACCOUNT = re.compile(r"^[A-Za-z0-9\-._&]{3,50}$")
API_CHANNELS = {v: k for k, v in CHANNEL_NAMES.items()}  # "WhatsApp" → whatsapp
BATCH_MAX = 10000


def error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "errorId": str(uuid.uuid4()), "timestamp": stamp(now())},
        status_code=status,
    )


def unauthenticated() -> JSONResponse:
    return error(401, 1200, "Request was not authenticated properly")


def _key(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def routes(world: World) -> list:
    service = world.eightbyeight

    async def call(request: Request):
        """(account, operation, body) or the error response."""
        path = request.url.path[len(PREFIX) :]
        operation = load_spec(str(SPEC)).operation(request.method, path)
        if operation is None:
            return error(404, 1300, f"No such resource: {request.method} {path}")
        account = service.account_for_key(_key(request))
        if account is None:
            return unauthenticated()
        body = None
        if operation.node.get("requestBody"):
            try:
                body = parse_json(await request.body() or b"null")
            except ValueError:
                return error(400, 1000, "Request body is not valid JSON")
            violations = operation.validate_body(body)
            if violations:
                first = violations[0]
                return error(400, 1000, f"Invalid request: {first.dotted('body')}: {first.message}")
        return account, operation, body

    def sub_account_of(account: Account, sub_account_id: str):
        if not SUB_ACCOUNT.match(sub_account_id) or sub_account_id not in account.sub_accounts:
            return None
        return account.sub_accounts[sub_account_id]

    def check_message(sub, body: dict):
        """(channel, error response): the documented rules of one message."""
        user = body.get("user") or {}
        msisdn = str(user.get("msisdn") or "")
        bsuid = str(user.get("channelUserId") or "")  # WhatsApp's business-scoped user id
        if bsuid and not msisdn:
            if not BSUID.match(bsuid):
                return None, error(400, 1000, "Invalid user.channelUserId (expected CC.<alphanumeric>)")
        elif not E164.match(msisdn) and not user.get("country"):
            return None, error(400, 1002, "Invalid MSISDN format (not E.164 international number)")
        wanted = [API_CHANNELS.get(str(c.get("channel"))) for c in body.get("channels") or []]
        kinds = [k for k in wanted if k] or ["whatsapp", "viber", "sms"]
        channel = next((sub.channel_of(k) for k in kinds if sub.channel_of(k)), None)
        if channel is None:
            return None, error(400, 1000, "No channel of this sub-account can send this message")
        kind = body.get("type")
        content = body.get("content") or {}
        if kind == "text" and not str(content.get("text") or "").strip():
            return None, error(400, 1000, "content.text is required for text messages")
        if kind in ("image", "video", "audio", "file") and not content.get("url"):
            return None, error(400, 1000, f"content.url is required for {kind} messages")
        if kind == "template":
            if channel.channel != "whatsapp":
                return None, error(400, 1000, "Template messages are sent on WhatsApp only")
            wanted_template = content.get("template") or {}
            registered = service.accounts[sub_account_owner(sub)].templates.get(channel.id, [])
            match = next(
                (
                    t
                    for t in registered
                    if t.get("templateName") == wanted_template.get("name")
                    and t.get("language") == wanted_template.get("language")
                ),
                None,
            )
            if match is None or match.get("status") != "APPROVED":
                return None, error(400, 1000, "Template not found or not approved for this channel")
        if bsuid and not msisdn and channel.channel != "whatsapp":
            return None, error(400, 1000, "user.channelUserId is for WhatsApp only")
        if kind in ("template", "interactive") and channel.channel != "whatsapp":
            return None, error(400, 1000, f"{kind} messages are sent on WhatsApp only")
        return channel, None

    def sub_account_owner(sub) -> str:
        return next(a.id for a in service.accounts.values() if sub.id in a.sub_accounts)

    async def send(request: Request) -> Response:
        found = await call(request)
        if isinstance(found, Response):
            return found
        account, operation, body = found
        sub = sub_account_of(account, operation.path_params["subAccountId"])
        if sub is None:
            return error(401, 1001, "Provided subAccountId doesn't belongs to your account")
        channel, refused = check_message(sub, body)
        if refused is not None:
            return refused
        umid = str(uuid.uuid4())
        message = service.record_sent(account, sub, channel, body, umid)
        answer = {"umid": umid, "user": body["user"]}
        if body.get("clientMessageId"):
            answer["clientMessageId"] = body["clientMessageId"]
        answer["status"] = {"state": "queued", "timestamp": message["at"]}
        return JSONResponse(answer)

    async def send_batch(request: Request) -> Response:
        found = await call(request)
        if isinstance(found, Response):
            return found
        account, operation, body = found
        sub = sub_account_of(account, operation.path_params["subAccountId"])
        if sub is None:
            return error(401, 1001, "Provided subAccountId doesn't belongs to your account")
        template = body.get("template") or {}
        messages = body.get("messages") or []
        if not messages or len(messages) > BATCH_MAX:
            return error(400, 1000, f"messages must hold 1 to {BATCH_MAX} items")
        listed: list[dict] = []
        batch_id = str(uuid.uuid4())
        for item in messages:
            merged = {
                **template,
                **item,
                "content": {**(template.get("content") or {}), **(item.get("content") or {})},
            }
            umid = str(uuid.uuid4())
            entry: dict[str, Any] = {"umid": umid, "user": item.get("user") or {}}
            if item.get("clientMessageId"):
                entry["clientMessageId"] = item["clientMessageId"]
            channel, refused = check_message(sub, merged)
            if refused is not None:
                said = json.loads(refused.body)
                entry["status"] = {
                    "state": "rejected",
                    "timestamp": stamp(now()),
                    "errorCode": said["code"],
                    "errorMessage": said["message"],
                }
            else:
                service.record_sent(account, sub, channel, merged, umid)
                entry["status"] = {"state": "queued", "timestamp": stamp(now())}
            listed.append(entry)
        accepted = sum(1 for m in listed if m["status"]["state"] == "queued")
        answer: dict = {"batchId": batch_id}
        if body.get("clientBatchId"):
            answer["clientBatchId"] = body["clientBatchId"]
        answer.update(acceptedCount=accepted, rejectedCount=len(listed) - accepted)
        if body.get("includeMessagesInResponse"):
            answer["messages"] = listed
        return JSONResponse(answer)

    async def templates(request: Request) -> Response:
        found = await call(request)
        if isinstance(found, Response):
            return found
        account, operation, _ = found
        if operation.path_params["accountId"] != account.id:
            return unauthenticated()
        channel_id = operation.path_params["channelId"]
        listed = service.channel(channel_id)
        if listed is None or listed[0] is not account:
            return error(404, 1300, "Channel not found")
        return JSONResponse({"templates": account.templates.get(channel_id, [])})

    async def webhooks(request: Request) -> Response:
        found = await call(request)
        if isinstance(found, Response):
            return found
        account, operation, body = found
        if operation.path_params["accountId"] != account.id:
            return unauthenticated()
        if request.method == "GET":
            return JSONResponse([w.public() for w in account.webhooks])
        if request.method == "DELETE":
            account.webhooks.clear()
            return Response(status_code=200)
        try:
            added = [hook for raw in body for hook in webhook_from(raw)]
        except ValueError as exc:
            return error(400, 1000, str(exc))
        for hook in added:  # one webhook per (sub-account, type): a new one replaces the old
            account.webhooks = [
                w for w in account.webhooks if (w.sub_account_id, w.type) != (hook.sub_account_id, hook.type)
            ]
            account.webhooks.append(hook)
        return Response(status_code=200)

    async def download(request: Request) -> Response:
        """Inbound media (``content.url`` of a webhook). 8x8 documents a 302 to the storage; the sandbox
        answers the file itself (see sandbox/README.md)."""
        name = request.path_params["filename"]
        stored = service.files.get(name)
        if stored is None or request.query_params.get("token") != _file_token(name):
            return error(404, 4018, "File not found")
        content, mime = stored
        return Response(
            content, media_type=mime, headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    return [
        Route(PREFIX + "/api/v1/subaccounts/{sub}/messages", send, methods=["POST"]),
        Route(PREFIX + "/api/v1/subaccounts/{sub}/messages/batch", send_batch, methods=["POST"]),
        Route(PREFIX + "/api/v1/accounts/{acc}/channels/{ch}/templates", templates, methods=["GET"]),
        Route(PREFIX + "/api/v1/accounts/{acc}/webhooks", webhooks, methods=["GET", "POST", "DELETE"]),
        Route(PREFIX + "/files/{filename}", download, methods=["GET"]),
    ]


def _file_token(name: str) -> str:
    return "tok-" + uuid.uuid5(uuid.NAMESPACE_URL, name).hex
