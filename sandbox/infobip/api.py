"""The simulated Infobip API under ``/sim/infobip`` (an account's ``https://{subdomain}.api.infobip.com``).

Every request goes through the same steps, in Infobip's order: find the operation in the vendor's OpenAPI
file (the file also decides the error envelope), ``Authorization: App <key>``, the rate-limit switch, the
schema (body, query and path parameters), then the business rules of the endpoint's handler.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..inputs import parse_json, query_int
from ..openapi import OpenApiSpec, Operation, load_spec
from . import errors as e
from . import template_rules as rules
from .state import Account, InfobipService, digits, e164_country

if TYPE_CHECKING:
    from ..world import World

log = logging.getLogger("sandbox.infobip")
PREFIX = "/sim/infobip"
SPEC_DIR = Path(__file__).resolve().parent.parent / "specs" / "infobip"
SPEC_FILES = {
    "whatsapp": "infobip-whatsapp-openapi.json",
    "sms": "infobip-sms-openapi.json",
    "viber": "infobip-viber-openapi.json",
    "numbers": "infobip-numbers-openapi.json",
    "messages-api": "infobip-messages-api-openapi.json",
    "ccaas": "infobip-conversations-openapi.json",
}
URL_IN_TEXT = re.compile(r"https?://\S+")
MEDIA_KINDS = {
    "image": "IMAGE",
    "document": "DOCUMENT",
    "video": "VIDEO",
    "audio": "AUDIO",
    "sticker": "STICKER",
}


def spec_for(path: str) -> OpenApiSpec | None:
    first = path.strip("/").split("/", 1)[0]
    name = SPEC_FILES.get(first)
    return load_spec(str(SPEC_DIR / name)) if name else None


def operation_for(method: str, path: str) -> Operation | None:
    spec = spec_for(path)
    return spec.operation(method, path) if spec else None


@dataclass
class Call:
    """One authenticated, schema-valid request, handed to an endpoint handler."""

    service: InfobipService
    account: Account
    api_key: str
    operation: Operation
    envelope: str
    body: object
    query: dict[str, list[str]]
    request: Request
    params: dict = field(default_factory=dict)

    def sender_denied(self, address: str, channel: str) -> Response | None:
        """403 when the key is scoped to other senders, or the sender is not the account's (for the channel)."""
        address = digits(address)
        scope = self.account.api_keys.get(self.api_key)
        if scope is not None and address not in scope:
            return e.error(self.envelope, 403)
        sender = self.account.senders.get(address)
        if channel != "SMS" and (sender is None or channel not in sender.channels):
            return e.error(self.envelope, 403)
        return None

    def base_url(self) -> str:
        return self.service.world.config.url("infobip")


# --- WhatsApp -----------------------------------------------------------------------------------------


def _window_failure(call: Call, sender: str, customer: str):
    """(sync error response, planned DLR failure) for a free-form WhatsApp send."""
    if call.service.window_open(call.account, sender, customer):
        return None, None
    if call.account.window_mode == "SYNC":
        text = "Outside of the 24-hour customer service window: the customer has not sent a message in the last 24 hours; send a template message instead"
        return e.legacy_error(400, text), None
    return None, dict(call.account.window_error)


def _single_response(message_id: str, to: str) -> dict:
    return {"to": to, "messageCount": 1, "messageId": message_id, "status": dict(e.STATUS_PENDING_ENROUTE)}


def _rendered_free_form(kind: str, content: dict) -> dict:
    if kind == "TEXT":
        return {"body": content.get("text", "")}
    if kind in MEDIA_KINDS.values():
        return {
            "media_type": kind,
            "media_url": content.get("mediaUrl", ""),
            "caption": content.get("caption", ""),
            "filename": content.get("filename", ""),
        }
    if kind == "LOCATION":
        return {"location": {k: content.get(k) for k in ("latitude", "longitude", "name", "address")}}
    if kind == "CONTACT":
        names = [((c.get("name") or {}).get("formattedName") or "") for c in content.get("contacts") or []]
        return {"body": "Contact: " + ", ".join(n for n in names if n)}
    if kind == "INTERACTIVE_BUTTONS":
        header = content.get("header") or {}
        return {
            "header": {
                "format": header.get("type", "TEXT"),
                "text": header.get("text", ""),
                "media_url": header.get("mediaUrl", ""),
            }
            if header
            else None,
            "body": (content.get("body") or {}).get("text", ""),
            "footer": (content.get("footer") or {}).get("text", ""),
            "buttons": [
                {"type": "REPLY", "id": b.get("id"), "text": b.get("title")}
                for b in (content.get("action") or {}).get("buttons") or []
            ],
        }
    if kind == "INTERACTIVE_LIST":
        action = content.get("action") or {}
        rows = [
            {"id": r.get("id"), "title": r.get("title"), "description": r.get("description", "")}
            for s in action.get("sections") or []
            for r in s.get("rows") or []
        ]
        return {
            "body": (content.get("body") or {}).get("text", ""),
            "footer": (content.get("footer") or {}).get("text", ""),
            "list": {"title": action.get("title", ""), "rows": rows},
        }
    return {"body": json.dumps(content)}


def whatsapp_single(kind: str):
    async def handler(call: Call) -> Response:
        body = call.body
        content = body.get("content") or {}
        denied = call.sender_denied(body["from"], "WHATSAPP")
        if denied:
            return denied
        problems: dict[str, list[str]] = {}
        if kind == "TEXT" and content.get("previewUrl") and not URL_IN_TEXT.search(content.get("text", "")):
            problems["content.text"] = [
                "must contain a URL starting with https:// or http:// when previewUrl is true"
            ]
        if "mediaUrl" in content and not rules.URL_RE.match(content["mediaUrl"] or ""):
            problems["content.mediaUrl"] = ["is not a valid url"]
        if problems:
            return e.bad_request(call.envelope, extra=problems)
        sender, customer = digits(body["from"]), digits(body["to"])
        sync_error, failure = _window_failure(call, sender, customer)
        if sync_error:
            return sync_error
        message_id = body.get("messageId") or str(uuid.uuid4())
        call.service.record_outbound(
            call.account,
            message_id=message_id,
            channel="WHATSAPP",
            sender=sender,
            customer=customer,
            kind=kind,
            content=content,
            api="whatsapp",
            callback_data=body.get("callbackData"),
            notify_url=body.get("notifyUrl"),
            rendered=_rendered_free_form(kind, content),
            status=dict(e.STATUS_PENDING_ENROUTE),
            planned_failure=failure,
            planned_status=_window_status(call.account) if failure else None,
        )
        return JSONResponse(_single_response(message_id, body["to"]))

    return handler


def _window_status(account: Account) -> dict:
    return dict(e.STATUS_REJECTED if account.window_status == "REJECTED" else e.STATUS_UNDELIVERABLE)


async def whatsapp_template(call: Call) -> Response:
    messages = call.body.get("messages") or []
    if not messages:
        return e.bad_request(call.envelope, extra={"messages": ["must not be empty"]})
    plans = []
    for item in messages:
        denied = call.sender_denied(item["from"], "WHATSAPP")
        if denied:
            return denied
        content = item["content"]
        problems = rules.format_errors(content)
        if problems:
            return e.bad_request(call.envelope, extra=problems)
        sender = call.account.senders[digits(item["from"])]
        template = call.service.find_template(sender, content["templateName"], content["language"])
        mismatches, dlr_error = rules.template_errors(template, content, sender.address)
        if mismatches and call.account.template_checks == "STRICT":
            return e.bad_request(call.envelope, extra=mismatches)
        plans.append((item, template, dlr_error))
    bulk_id = call.body.get("bulkId") or str(uuid.uuid4())
    answers = []
    for item, template, dlr_error in plans:
        message_id = item.get("messageId") or str(uuid.uuid4())
        call.service.record_outbound(
            call.account,
            message_id=message_id,
            channel="WHATSAPP",
            sender=digits(item["from"]),
            customer=digits(item["to"]),
            kind="TEMPLATE",
            content=item["content"],
            api="whatsapp",
            bulk_id=bulk_id,
            callback_data=item.get("callbackData"),
            notify_url=item.get("notifyUrl"),
            rendered=rules.render(template, item["content"]),
            status=dict(e.STATUS_PENDING_ENROUTE),
            planned_failure=dict(dlr_error) if dlr_error else None,
            planned_status=dict(e.STATUS_REJECTED) if dlr_error else None,
        )
        answers.append(_single_response(message_id, item["to"]))
    return JSONResponse({"messages": answers, "bulkId": bulk_id})


async def whatsapp_templates_v2(call: Call) -> Response:
    sender = digits(call.operation.path_params["sender"])
    scope = call.account.api_keys.get(call.api_key)
    if scope is not None and sender not in scope:
        return e.error(call.envelope, 403)
    found = call.account.senders.get(sender)
    if found is None or "WHATSAPP" not in found.channels:
        return e.error(call.envelope, 404)
    return JSONResponse({"templates": found.templates})


async def whatsapp_templates_account(call: Call) -> Response:
    query = {k: v[-1] for k, v in call.query.items()}
    results = []
    scope = call.account.api_keys.get(call.api_key)
    for sender in call.account.senders_for("WHATSAPP"):
        if scope is not None and sender.address not in scope:
            continue
        if query.get("sender") and digits(query["sender"]) != sender.address:
            continue
        for template in sender.templates:
            if all(
                not query.get(k) or str(template.get(k)) == query[k]
                for k in ("status", "name", "language", "category")
            ):
                results.append(template)
    order = (query.get("orderBy") or "templateId,ASC").split(",")
    results.sort(
        key=lambda t: int(t["id"]) if t["id"].isdigit() else t["id"], reverse=order[-1].upper() == "DESC"
    )
    page, size = query_int(query.get("page"), 0), query_int(query.get("size"), 10)
    if size < 1 or size > 100 or page < 0:
        return e.ecode_error(
            400,
            [
                {
                    "property": "size" if size < 1 or size > 100 else "page",
                    "violation": "Provide one of the valid values.",
                }
            ],
        )
    total = len(results)
    return JSONResponse(
        {
            "results": results[page * size : (page + 1) * size],
            "paging": {
                "page": page,
                "size": size,
                "totalPages": (total + size - 1) // size,
                "totalResults": total,
            },
        }
    )


async def whatsapp_media(call: Call) -> Response:
    sender = digits(call.operation.path_params["sender"])
    media = call.service.media.get(call.operation.path_params["mediaId"])
    scope = call.account.api_keys.get(call.api_key)
    if scope is not None and sender not in scope:
        return e.error(call.envelope, 403)
    if media is None or media.account != call.account.key or media.sender != sender:
        return e.error(call.envelope, 404)
    headers = {
        "Content-Type": media.content_type,
        "Content-Length": str(len(media.content)),
        "Content-Disposition": f'attachment; filename="{media.filename}"',
    }
    if call.request.method == "HEAD":
        return Response(b"", headers=headers)
    return Response(media.content, media_type=media.content_type, headers=headers)


async def whatsapp_mark_read(call: Call) -> Response:
    denied = call.sender_denied(call.operation.path_params["sender"], "WHATSAPP")
    if denied:
        return denied
    message = call.service.find_message(call.operation.path_params["messageId"])
    if message is None or message.account != call.account.key or message.direction != "INBOUND":
        return e.error(call.envelope, 404)
    message.seen_at = e.now()
    return Response(status_code=204)


# --- SMS, Viber, Messages API ---------------------------------------------------------------------------


def _planned_window(call: Call, channel: str, sender: str, customer: str, is_template: bool):
    if channel != "WHATSAPP" or is_template:
        return None, None
    return _window_failure(call, sender, customer)


async def sms_v2(call: Call) -> Response:
    bulk_id = call.body.get("bulkId") or str(uuid.uuid4())
    out = []
    for item in call.body["messages"]:
        sender = digits(item.get("from") or "InfoSMS")
        denied = call.sender_denied(sender, "SMS")
        if denied:
            return denied
        for destination in item["destinations"]:
            message_id = destination.get("messageId") or str(uuid.uuid4())
            out.append((item, destination, message_id, sender))
    answers = []
    for item, destination, message_id, sender in out:
        call.service.record_outbound(
            call.account,
            message_id=message_id,
            channel="SMS",
            sender=sender,
            customer=digits(destination["to"]),
            kind="TEXT",
            content={"text": item.get("text", "")},
            api="sms2",
            bulk_id=bulk_id,
            callback_data=item.get("callbackData"),
            notify_url=item.get("notifyUrl"),
            rendered={"body": item.get("text", "")},
            status=dict(e.STATUS_PENDING_ACCEPTED),
        )
        answers.append(
            {"messageId": message_id, "status": dict(e.STATUS_PENDING_ACCEPTED), "to": destination["to"]}
        )
    return JSONResponse({"bulkId": bulk_id, "messages": answers})


def _scheduled_bulk_id(body: dict) -> str:
    """The new APIs take a client bulk id in ``options.schedule.bulkId``."""
    return ((body.get("options") or {}).get("schedule") or {}).get("bulkId") or str(uuid.uuid4())


def _webhook_url(item: dict) -> str | None:
    return ((item.get("webhooks") or {}).get("delivery") or {}).get("url")


def _callback_data(item: dict) -> str | None:
    return (item.get("webhooks") or {}).get("callbackData")


async def sms_v3(call: Call) -> Response:
    bulk_id = _scheduled_bulk_id(call.body)
    planned = []
    for item in call.body["messages"]:
        sender = digits(item.get("sender") or "InfoSMS")
        denied = call.sender_denied(sender, "SMS")
        if denied:
            return denied
        for destination in item["destinations"]:
            planned.append((item, destination, destination.get("messageId") or str(uuid.uuid4()), sender))
    answers = []
    for item, destination, message_id, sender in planned:
        text = (item.get("content") or {}).get("text", "")
        call.service.record_outbound(
            call.account,
            message_id=message_id,
            channel="SMS",
            sender=sender,
            customer=digits(destination["to"]),
            kind="TEXT",
            content=item.get("content") or {},
            api="sms3",
            bulk_id=bulk_id,
            callback_data=_callback_data(item),
            notify_url=_webhook_url(item),
            rendered={"body": text},
            status=dict(e.STATUS_PENDING_ACCEPTED),
        )
        answers.append(
            {
                "messageId": message_id,
                "status": dict(e.STATUS_PENDING_ACCEPTED),
                "destination": destination["to"],
                "details": {"messageCount": 1},
            }
        )
    return JSONResponse({"bulkId": bulk_id, "messages": answers})


def _viber_rendered(content: dict) -> dict:
    kind = content.get("type", "TEXT")
    shown: dict = {"body": content.get("text", "")}
    if kind in ("IMAGE", "VIDEO", "FILE"):
        shown.update(
            media_type={"FILE": "DOCUMENT"}.get(kind, kind),
            media_url=content.get("mediaUrl", ""),
            caption=content.get("text", ""),
            filename=content.get("fileName", ""),
        )
    button = content.get("button")
    if button:
        shown["buttons"] = [{"type": "URL", "text": button.get("text", ""), "url": button.get("url", "")}]
    return shown


async def viber_v2(call: Call) -> Response:
    bulk_id = _scheduled_bulk_id(call.body)
    planned = []
    for item in call.body["messages"]:
        denied = call.sender_denied(item["sender"], "VIBER")
        if denied:
            return denied
        for destination in item["destinations"]:
            planned.append((item, destination, destination.get("messageId") or str(uuid.uuid4())))
    answers = []
    for item, destination, message_id in planned:
        content = item.get("content") or {}
        call.service.record_outbound(
            call.account,
            message_id=message_id,
            channel="VIBER",
            sender=digits(item["sender"]),
            customer=digits(destination["to"]),
            kind=content.get("type", "TEXT"),
            content=content,
            api="viber2",
            bulk_id=bulk_id,
            callback_data=_callback_data(item),
            notify_url=_webhook_url(item),
            rendered=_viber_rendered(content),
            status=dict(e.STATUS_PENDING_ACCEPTED),
        )
        answers.append(
            {
                "messageId": message_id,
                "status": dict(e.STATUS_PENDING_ACCEPTED),
                "destination": destination["to"],
            }
        )
    return JSONResponse({"bulkId": bulk_id, "messages": answers})


MESSAGES_API_CHANNELS = {"WHATSAPP": "WHATSAPP", "SMS": "SMS", "VIBER_BM": "VIBER"}


def _messages_api_rendered(item: dict, template: dict | None) -> dict:
    content = item.get("content") or {}
    body = content.get("body") or {}
    if item.get("template"):
        values = [str(body[k]) for k in sorted((k for k in body if k.isdigit()), key=int)]
        buttons = [
            {"type": "QUICK_REPLY", "parameter": b.get("postbackData", "")}
            if b.get("type") == "QUICK_REPLY"
            else {"type": "URL", "parameter": b.get("suffix", "")}
            for b in content.get("buttons") or []
        ]
        header = content.get("header") or {}
        legacy = {
            "templateName": item["template"].get("templateName"),
            "templateData": {
                "body": {"placeholders": values},
                "buttons": buttons,
                "header": {
                    "type": header.get("type"),
                    "mediaUrl": header.get("url"),
                    "placeholder": header.get("1"),
                }
                if header
                else None,
            },
        }
        return rules.render(template, legacy)
    kind = body.get("type", "TEXT")
    if kind == "TEXT":
        shown: dict = {"body": body.get("text", "")}
    else:
        shown = {
            "media_type": {"FILE": "DOCUMENT"}.get(kind, kind),
            "media_url": body.get("url", ""),
            "caption": body.get("text", ""),
        }
    buttons = content.get("buttons") or []
    if buttons:
        shown["buttons"] = [
            {
                "type": "REPLY" if b.get("type") == "REPLY" else b.get("type"),
                "id": b.get("postbackData"),
                "text": b.get("text", ""),
                "url": b.get("url", ""),
            }
            for b in buttons
        ]
    return shown


async def messages_api(call: Call) -> Response:
    bulk_id = _scheduled_bulk_id(call.body)
    planned = []
    for index, item in enumerate(call.body["messages"]):
        channel = MESSAGES_API_CHANNELS.get(item.get("channel"))
        if channel is None:
            return e.ecode_error(
                400,
                [
                    {
                        "property": f"messages[{index}].channel",
                        "violation": "Channel is not supported by this simulator.",
                    }
                ],
            )
        denied = call.sender_denied(item["sender"], channel)
        if denied:
            return denied
        template = None
        if item.get("template"):
            sender = call.account.senders[digits(item["sender"])]
            template = call.service.find_template(
                sender, item["template"].get("templateName", ""), item["template"].get("language", "")
            )
        for destination in item["destinations"]:
            to = destination.get("to")
            if not to:
                return e.ecode_error(
                    400,
                    [{"property": f"messages[{index}].destinations[0].to", "violation": "Must not be null."}],
                )
            sync_error, failure = _planned_window(
                call, channel, digits(item["sender"]), digits(to), bool(item.get("template"))
            )
            if sync_error:
                return e.ecode_error(
                    400,
                    [
                        {
                            "property": f"messages[{index}]",
                            "violation": "Outside of the 24-hour customer service window.",
                        }
                    ],
                )
            if item.get("template") and (template is None or template["status"] != "APPROVED"):
                failure = dict(e.TEMPLATE_ERROR)
            planned.append(
                (item, to, destination.get("messageId") or str(uuid.uuid4()), channel, template, failure)
            )
    answers = []
    for item, to, message_id, channel, template, failure in planned:
        call.service.record_outbound(
            call.account,
            message_id=message_id,
            channel=channel,
            sender=digits(item["sender"]),
            customer=digits(to),
            kind="TEMPLATE"
            if item.get("template")
            else ((item.get("content") or {}).get("body") or {}).get("type", "TEXT"),
            content=item.get("content") or {},
            api="messages-api",
            bulk_id=bulk_id,
            callback_data=_callback_data(item),
            notify_url=_webhook_url(item),
            rendered=_messages_api_rendered(item, template),
            status=dict(e.STATUS_MESSAGE_ACCEPTED),
            planned_failure=failure,
            planned_status=_window_status(call.account) if failure else None,
        )
        answers.append(
            {"messageId": message_id, "status": dict(e.STATUS_MESSAGE_ACCEPTED), "destination": to}
        )
    return JSONResponse({"bulkId": bulk_id, "messages": answers})


# --- Numbers, Conversations ----------------------------------------------------------------------------


def _number_entry(account: Account, sender) -> dict:
    country, country_name = e164_country(sender.address)
    capabilities = [c for c in ("SMS", "WHATSAPP") if c in sender.channels]
    if "SMS" in capabilities:
        capabilities.insert(1, "VOICE")
    return {
        "numberKey": hashlib.md5(f"{account.key}:{sender.address}".encode()).hexdigest().upper(),  # noqa: S324
        "number": sender.address,
        "country": country,
        "countryName": country_name,
        "type": "VIRTUAL_LONG_NUMBER",
        "capabilities": capabilities,
        "shared": False,
        "price": {"pricePerMonth": 1.0, "setupPrice": 0.0, "currency": "EUR"},
        "network": "",
        "keywords": [],
        "additionalSetupRequired": False,
        "editPermissions": {"canEditNumber": True, "canEditConfiguration": True},
        "applicationId": "default",
    }


async def numbers_list(call: Call) -> Response:
    query = {k: v[-1] for k, v in call.query.items()}
    limit, page = query_int(query.get("limit"), 50), query_int(query.get("page"), 0)
    wanted = digits(query["number"]) if query.get("number") else None
    numbers = [
        _number_entry(call.account, s)
        for s in call.account.senders.values()
        if s.address.isdigit()
        and {"SMS", "WHATSAPP"} & set(s.channels)
        and (wanted is None or s.address == wanted)
    ]
    return JSONResponse({"numbers": numbers[page * limit : (page + 1) * limit], "numberCount": len(numbers)})


async def conversation_messages(call: Call) -> Response:
    conversation_id = call.operation.path_params["conversationId"]
    conversation = call.service.conversations.get(conversation_id)
    if conversation is None or conversation.account != call.account.key:
        return e.legacy_error(
            400, f"Invalid id '{conversation_id}' given! No such entity exists.", message_id="NOT_FOUND"
        )
    query = {k: v for k, v in call.query.items()}
    one = {k: v[-1] for k, v in query.items()}
    limit, page = query_int(one.get("limit"), 10), query_int(one.get("page"), 0)
    if limit < 0:
        return e.legacy_error(400, "Page size has to be bigger or equal to zero!")
    if page < 0:
        return e.legacy_error(400, "Page number has to be bigger or equal to zero!")
    order = (one.get("orderBy") or "id:asc").split(":")
    if len(order) != 2 or order[1].lower() not in ("asc", "desc"):
        return e.legacy_error(400, f"Invalid orderBy '{one.get('orderBy')}' given!")
    try:
        after = e.parse_time(one["createdAfter"]) if one.get("createdAfter") else None
        before = e.parse_time(one["createdBefore"]) if one.get("createdBefore") else None
    except ValueError:
        return e.legacy_error(400, "Invalid date format, expected yyyy-MM-dd'T'HH:mm:ss.SSS+0000")
    ids = set(query.get("messageIds") or [])
    items = []
    for message in conversation.messages:
        created = e.parse_time(message["createdAt"])
        if (ids and message["id"] not in ids) or (
            one.get("channel") and message["channel"] != one["channel"]
        ):
            continue
        if one.get("direction") and message["direction"] != one["direction"]:
            continue
        if (after and created <= after) or (before and created >= before):
            continue
        items.append(message)
    items.sort(key=lambda m: m.get(order[0]) or m["id"], reverse=order[1].lower() == "desc")
    chunk = items[page * limit : (page + 1) * limit] if limit else []
    return JSONResponse(
        {
            "messages": chunk,
            "pagination": {
                "totalItems": len(items),
                "page": page,
                "limit": limit,
                "orderBy": f"{order[0]}:{order[1].upper()}",
            },
        }
    )


HANDLERS = {
    "send-whatsapp-text-message": whatsapp_single("TEXT"),
    "send-whatsapp-image-message": whatsapp_single("IMAGE"),
    "send-whatsapp-document-message": whatsapp_single("DOCUMENT"),
    "send-whatsapp-video-message": whatsapp_single("VIDEO"),
    "send-whatsapp-audio-message": whatsapp_single("AUDIO"),
    "send-whatsapp-sticker-message": whatsapp_single("STICKER"),
    "send-whatsapp-location-message": whatsapp_single("LOCATION"),
    "send-whatsapp-contact-message": whatsapp_single("CONTACT"),
    "send-whatsapp-interactive-buttons-message": whatsapp_single("INTERACTIVE_BUTTONS"),
    "send-whatsapp-interactive-list-message": whatsapp_single("INTERACTIVE_LIST"),
    "send-whatsapp-template-message": whatsapp_template,
    "get-whatsapp-templates": whatsapp_templates_v2,
    "get-account-whatsapp-templates": whatsapp_templates_account,
    "download-whatsapp-inbound-media": whatsapp_media,
    "get-whatsapp-media-metadata": whatsapp_media,
    "mark-whatsapp-message-as-read": whatsapp_mark_read,
    "send-sms-message": sms_v2,
    "send-sms-messages": sms_v3,
    "send-viber-messages": viber_v2,
    "send-messages-api-message": messages_api,
    "list-owned-numbers": numbers_list,
    "get-messages": conversation_messages,
}


# --- the pipeline ----------------------------------------------------------------------------------------


def api_key_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    return credential.strip() if scheme.lower() == "app" and credential.strip() else None


def _strip_bulk_prefix(mapping: dict[str, list[str]]) -> dict[str, list[str]]:
    """Infobip reports template-message fields without the ``messages[i].`` prefix (its examples)."""
    return {re.sub(r"^messages\[\d+\]\.", "", path): messages for path, messages in mapping.items()}


async def handle(service: InfobipService, request: Request) -> Response:
    path = "/" + request.path_params["path"]
    operation = operation_for(request.method, path)
    envelope = e.envelope_of(operation)
    if operation is None or operation.operation_id not in HANDLERS:
        return e.error(envelope, 404)
    api_key = api_key_of(request)
    account = service.account_for_key(api_key) if api_key else None
    if account is None:
        return e.error(envelope, 401)
    if account.rate_limited:
        return e.error(envelope, 429)
    query: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        query.setdefault(name, []).append(value)
    body = None
    if operation.node.get("requestBody"):
        try:
            body = parse_json(await request.body() or b"null")
        except ValueError:
            return e.error(envelope, 400)
        violations = operation.validate_body(body)
        if body is None or violations:
            if envelope == e.ECODE:
                return e.bad_request(envelope, violations)
            mapping = e.validation_map(violations)
            if operation.operation_id == "send-whatsapp-template-message":
                mapping = _strip_bulk_prefix(mapping)
            return e.legacy_error(400, validation_errors=mapping or None)
    violations = operation.validate_params(query, "query") + operation.validate_params({}, "path")
    if violations:
        return e.bad_request(envelope, violations)
    call = Call(service, account, api_key, operation, envelope, body, query, request)
    try:
        return await HANDLERS[operation.operation_id](call)
    except (KeyError, TypeError, ValueError, AttributeError):
        # a shape the schema let through but the handler cannot use: Infobip answers a plain 400
        log.exception("infobip simulator could not handle %s %s", request.method, path)
        return e.error(envelope, 400)


def routes(world: World) -> list:
    async def endpoint(request: Request) -> Response:
        try:
            return await handle(world.infobip, request)
        except Exception:  # noqa: BLE001 - never a traceback to the client
            log.exception("infobip simulator failed")
            return e.error(
                e.envelope_of(operation_for(request.method, "/" + request.path_params["path"])), 500
            )

    return [
        Route(PREFIX + "/{path:path}", endpoint, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
    ]
