"""Test-only control API of the Infobip simulator, under ``/__sim/infobip``.

Accounts and their switches, the customer's side (inbound messages), what was sent, the webhook delivery
log, the 24-hour window, templates, Conversations transcripts, the Answers "Call API" step, and a small
webhook sink that records what it receives (a stand-in portal for tests and the demo).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..inputs import finite_number, parse_json, whole_number
from . import errors as e
from .inbound import InboundError, fire
from .state import digits

if TYPE_CHECKING:
    from ..world import World

BASE = "/__sim/infobip"
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
DEFAULT_CALL_API_BODY = {"conversationId": "{{conversationId}}", "senderNumber": "{{senderNumber}}"}


HOURS_BOUND = 24 * 366 * 10  # ten years either way is further than any window a test needs


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request):
    try:
        body = parse_json(await request.body() or b"{}")
    except ValueError as exc:
        return _bad(f"malformed JSON: {exc}")
    if not isinstance(body, dict):
        return _bad("expected a JSON object")
    return body


def _fill(node, values: dict):
    """Replace ``{{name}}`` in every string of a JSON template with ``values[name]``."""
    if isinstance(node, str):
        whole = PLACEHOLDER.fullmatch(node)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), node)
    if isinstance(node, dict):
        return {k: _fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, values) for v in node]
    return node


def routes(world: World) -> list:
    service = world.infobip

    def account_or_404(key: str):
        account = service.accounts.get(key)
        return account, (None if account else _bad(f"unknown account {key!r}", 404))

    async def accounts(request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse([a.public() for a in service.accounts.values()])
        body = await _json(request)
        if isinstance(body, JSONResponse):
            return body
        if body.get("key") in service.accounts:
            return _bad(f"account {body['key']!r} exists", 409)
        try:
            account = service.create_account(body)
        except (KeyError, TypeError, ValueError) as exc:
            return _bad(f"bad account: {exc!r}")
        return JSONResponse(account.public(), status_code=201)

    async def account(request: Request) -> JSONResponse:
        found, missing = account_or_404(request.path_params["key"])
        if missing:
            return missing
        if request.method == "GET":
            return JSONResponse(found.public())
        if request.method == "DELETE":
            del service.accounts[found.key]
            return JSONResponse({"deleted": True})
        body = await _json(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            service.configure(found, body)
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
        return JSONResponse(found.public())

    async def inbound(request: Request) -> JSONResponse:
        body = await _json(request)
        if isinstance(body, JSONResponse):
            return body
        specs = body.get("messages") if isinstance(body.get("messages"), list) else [body]
        fired = []
        try:
            for spec in specs:
                fired.append(fire(service, {**{k: v for k, v in body.items() if k != "messages"}, **spec}))
        except (InboundError, KeyError, TypeError, ValueError) as exc:
            return _bad(str(exc))
        return JSONResponse({"messages": [m.public() for m in fired]}, status_code=201)

    async def messages(request: Request) -> JSONResponse:
        q = request.query_params
        out = []
        for message in service.messages:
            if q.get("account") and message.account != q["account"]:
                continue
            if q.get("customer") and message.customer != digits(q["customer"]):
                continue
            if q.get("sender") and message.sender != digits(q["sender"]):
                continue
            if q.get("direction") and message.direction != q["direction"].upper():
                continue
            if q.get("channel") and message.channel != q["channel"].upper():
                continue
            out.append(message.public())
        return JSONResponse(out)

    async def webhooks(request: Request) -> JSONResponse:
        q = request.query_params
        return JSONResponse(
            [
                d.public()
                for d in service.webhooks.log
                if (not q.get("account") or d.account == q["account"])
                and (not q.get("kind") or d.kind == q["kind"].upper())
            ]
        )

    async def window(request: Request) -> JSONResponse:
        source = dict(request.query_params) if request.method == "GET" else await _json(request)
        if isinstance(source, JSONResponse):
            return source
        found, missing = account_or_404(source.get("account", ""))
        if missing:
            return missing
        sender, customer = digits(source.get("sender", "")), digits(source.get("customer", ""))
        if not sender or not customer:
            return _bad("sender and customer are required")
        if request.method == "POST":
            if source.get("clear"):
                service.set_last_inbound(found, sender, customer, None)
            elif source.get("last_inbound_at"):
                try:
                    service.set_last_inbound(found, sender, customer, e.parse_time(source["last_inbound_at"]))
                except ValueError:
                    return _bad("last_inbound_at must look like 2025-01-01T10:10:00.000+0000")
            else:
                try:  # bounded: NaN, 1e308 or "abc" hours would be a 500 (timedelta overflow), not a 400
                    hours = finite_number(source.get("hours_ago", 0), low=-HOURS_BOUND, high=HOURS_BOUND)
                except ValueError as exc:
                    return _bad(f"hours_ago: {exc}")
                service.set_last_inbound(found, sender, customer, e.now() - timedelta(hours=hours))
        last = service.last_inbound.get((found.key, sender, customer))
        return JSONResponse(
            {
                "account": found.key,
                "sender": sender,
                "customer": customer,
                "last_inbound_at": e.infobip_time(last) if last else None,
                "open": service.window_open(found, sender, customer),
            }
        )

    async def templates(request: Request) -> JSONResponse:
        found, missing = account_or_404(request.path_params["key"])
        if missing:
            return missing
        body = await _json(request)
        if isinstance(body, JSONResponse):
            return body
        sender = found.senders.get(digits(body.get("sender", "")))
        if sender is None or "WHATSAPP" not in sender.channels:
            return _bad("sender must be one of the account's WhatsApp senders")
        try:
            template = service._add_template(sender, body)
        except (KeyError, TypeError) as exc:
            return _bad(f"bad template: {exc!r}")
        return JSONResponse(template, status_code=201)

    async def template(request: Request) -> JSONResponse:
        found, missing = account_or_404(request.path_params["key"])
        if missing:
            return missing
        body = await _json(request)
        if isinstance(body, JSONResponse):
            return body
        for sender in found.senders.values():
            for item in sender.templates:
                if item["id"] == request.path_params["template_id"]:
                    for name in ("status", "category", "quality", "structure"):
                        if name in body:
                            item[name] = body[name]
                    item["lastUpdatedAt"] = e.infobip_time(e.now())
                    return JSONResponse(item)
        return _bad("unknown template", 404)

    async def conversations(request: Request) -> JSONResponse:
        if request.method == "GET":
            q = request.query_params
            return JSONResponse(
                [
                    {
                        "id": c.id,
                        "account": c.account,
                        "channel": c.channel,
                        "sender": c.sender,
                        "customer": c.customer,
                        "messageCount": len(c.messages),
                    }
                    for c in service.conversations.values()
                    if (not q.get("account") or c.account == q["account"])
                    and (not q.get("customer") or c.customer == digits(q["customer"]))
                ]
            )
        body = await _json(request)
        if isinstance(body, JSONResponse):
            return body
        found, missing = account_or_404(body.get("account", ""))
        if missing:
            return missing
        channel = str(body.get("channel", "WHATSAPP")).upper()
        sender, customer = digits(body.get("sender", "")), digits(body.get("customer", ""))
        if not sender or not customer:
            return _bad("sender and customer are required")
        conversation = service.conversation_for(found, channel, sender, customer)
        for item in body.get("messages") or []:
            direction = str(item.get("direction", "INBOUND")).upper()
            service.record_in_conversation(
                found,
                channel,
                sender,
                customer,
                direction,
                "TEXT",
                {"text": str(item.get("text", ""))},
                author_type=item.get("authorType") or ("CUSTOMER" if direction == "INBOUND" else "BOT"),
            )
        return JSONResponse(
            {"id": conversation.id, "messageCount": len(conversation.messages)}, status_code=201
        )

    async def call_api(request: Request) -> JSONResponse:
        body = await _json(request)
        if isinstance(body, JSONResponse):
            return body
        found, missing = account_or_404(body.get("account", ""))
        if missing:
            return missing
        if not body.get("url"):
            return _bad("url is required")
        channel = str(body.get("channel", "WHATSAPP")).upper()
        customer = digits(body.get("customer", ""))
        sender = digits(body.get("sender") or next((s.address for s in found.senders_for(channel)), ""))
        conversation_id = body.get("conversation_id")
        if not conversation_id and customer:
            conversation_id = service.conversation_for(found, channel, sender, customer).id
        values = {
            "conversationId": conversation_id,
            "senderNumber": customer,
            "endUserNumber": customer,
            "phoneNumber": customer,
            "sender": sender,
            "channel": channel,
            **(body.get("attributes") or {}),
        }
        payload = _fill(body.get("body") or DEFAULT_CALL_API_BODY, values)
        headers = {"Content-Type": "application/json", **(body.get("headers") or {})}
        method = str(body.get("method", "POST")).upper()
        record = {
            "url": body["url"],
            "method": method,
            "body": payload,
            "status": None,
            "response": None,
            "error": None,
        }
        try:
            response = await service.webhooks.client().request(
                method, body["url"], json=payload, headers=headers
            )
            record.update(status=response.status_code, response=response.text[:2000])
        except httpx.HTTPError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        service.answers_calls.append(record)
        return JSONResponse(record)

    async def sink(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        if request.method == "GET":
            return JSONResponse(service.sinks.get(name, []))
        if request.method == "DELETE":
            service.sinks.pop(name, None)
            return JSONResponse({"cleared": True})
        status = whole_number(request.query_params.get("status", "200"))
        if status is None or not 200 <= status <= 599:  # checked before anything is recorded
            return _bad("status must be an HTTP status from 200 to 599")
        raw = await request.body()
        try:
            parsed = parse_json(raw) if raw else None
        except ValueError:
            parsed = None
        service.sinks.setdefault(name, []).append(
            {"headers": dict(request.headers), "body": parsed, "raw": raw.decode("utf-8", "replace")}
        )
        return JSONResponse({"received": True}, status_code=status)

    return [
        Route(BASE + "/accounts", accounts, methods=["GET", "POST"]),
        Route(BASE + "/accounts/{key}", account, methods=["GET", "PATCH", "DELETE"]),
        Route(BASE + "/accounts/{key}/templates", templates, methods=["POST"]),
        Route(BASE + "/accounts/{key}/templates/{template_id}", template, methods=["PATCH"]),
        Route(BASE + "/inbound", inbound, methods=["POST"]),
        Route(BASE + "/messages", messages, methods=["GET"]),
        Route(BASE + "/webhooks", webhooks, methods=["GET"]),
        Route(BASE + "/window", window, methods=["GET", "POST"]),
        Route(BASE + "/conversations", conversations, methods=["GET", "POST"]),
        Route(BASE + "/answers/call-api", call_api, methods=["POST"]),
        Route(BASE + "/sink/{name}", sink, methods=["GET", "POST", "DELETE"]),
    ]
