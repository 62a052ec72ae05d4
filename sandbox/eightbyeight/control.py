"""Test-only control of the 8x8 simulator (``/__sim/8x8/...``) and its minimal phone page.

* ``POST /__sim/8x8/accounts``: add an account (the fixture's shape).
* ``POST /__sim/8x8/inbound``: a customer writes ``{"channel_id", "from", "type", "content" | "text",
  "media": {"content_b64", "mime_type", "filename"}}``; the message gets 8x8's v3 webhook.
* ``GET /__sim/8x8/messages``: what was sent and received; ``POST /__sim/8x8/messages/{umid}/read``: the
  customer reads a sent message (a ``read`` receipt).
* ``POST /__sim/8x8/window``: ``{"sub_account_id", "channel_id", "customer", "hours"}`` ages the window.
* ``GET /__sim/8x8/deliveries``: every webhook POST and its attempts.
* ``/__sim/8x8/phone``: the customer's side, like ``/__sim/phone`` for Infobip, reading sent messages
  marks them read.
"""

from __future__ import annotations

import base64
import binascii
import html
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..inputs import finite_number, parse_json
from .api import PREFIX, _file_token

HOURS_BOUND = 24 * 366 * 10  # ten years back is older than any window a test needs

if TYPE_CHECKING:
    from ..world import World

MEDIA_TYPES = {"Image", "Video", "Audio", "File"}


def routes(world: World) -> list:
    service = world.eightbyeight

    def inbound_from(spec: dict) -> dict:
        found = service.channel(str(spec.get("channel_id", "")))
        if found is None:
            raise ValueError("unknown channel_id")
        account, sub, channel = found
        media = spec.get("media")
        if media:
            try:
                content = base64.b64decode(str(media.get("content_b64", "")), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("media.content_b64 is not base64") from None
            name = f"{uuid.uuid4().hex}-{media.get('filename') or 'file'}"
            service.files[name] = (content, str(media.get("mime_type") or "application/octet-stream"))
            url = f"{world.config.url('8x8')}/files/{name}?{urlencode({'token': _file_token(name)})}"
            spec = {**spec, "content": {**(spec.get("content") or {}), "url": url}}
            if str(spec.get("type") or "") not in MEDIA_TYPES:
                raise ValueError(f"a media message has type {', '.join(sorted(MEDIA_TYPES))}")
        return service.receive(account, sub, channel, spec)

    async def body_of(request: Request):
        try:
            return parse_json(await request.body() or b"{}")
        except ValueError as exc:
            return JSONResponse({"error": f"malformed JSON: {exc}"}, status_code=400)

    async def accounts(request: Request) -> Response:
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        try:
            account = service.add_account(body)
        except (KeyError, ValueError, TypeError) as exc:
            return JSONResponse({"error": f"bad account: {exc!r}"}, status_code=400)
        return JSONResponse({"account_id": account.id}, status_code=201)

    async def inbound(request: Request) -> Response:
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        try:
            payload = inbound_from(body)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(payload, status_code=201)

    async def messages(request: Request) -> JSONResponse:
        return JSONResponse(list(service.messages.values()))

    async def read(request: Request) -> JSONResponse:
        try:
            return JSONResponse(service.mark_read(request.path_params["umid"]))
        except KeyError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)

    async def window(request: Request) -> Response:
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        try:  # a bounded number: NaN, 1e308 or "abc" hours would be a 500 (timedelta overflow), not a 400
            hours = finite_number(body.get("hours", 25), low=0, high=HOURS_BOUND)
        except ValueError as exc:
            return JSONResponse({"error": f"hours: {exc}"}, status_code=400)
        service.age_window(
            str(body.get("sub_account_id")),
            str(body.get("channel_id")),
            str(body.get("customer")),
            hours,
        )
        return JSONResponse({"aged": True})

    async def deliveries(request: Request) -> JSONResponse:
        return JSONResponse([d.public() for d in service.deliveries])

    async def phone(request: Request) -> HTMLResponse:
        channels = [
            (a, s, c)
            for a in service.accounts.values()
            for s in a.sub_accounts.values()
            for c in s.channels.values()
        ]
        chosen = request.query_params.get("channel_id") or (channels[0][2].id if channels else "")
        customer = request.query_params.get("customer") or "+447400123456"
        options = "".join(
            f"<option value='{html.escape(c.id)}'{' selected' if c.id == chosen else ''}>"
            f"{html.escape(c.name or c.channel)} ({html.escape(c.channel)} {html.escape(c.address)})</option>"
            for _, _, c in channels
        )
        rows = []
        found = service.channel(chosen)
        if found:
            for message in service.thread(found[1].id, chosen, customer):
                if message["direction"] == "out" and message["state"] in ("sent", "delivered"):
                    service.mark_read(message["umid"])
                content = message.get("content") or {}
                text = (
                    content.get("text")
                    or content.get("url")
                    or (content.get("template") or {}).get("name", "")
                )
                rows.append(
                    f"<li data-testid='msg-{message['direction']}' data-state='{html.escape(str(message.get('state', '')))}'>"
                    f"{'&rarr;' if message['direction'] == 'in' else '&larr;'} {html.escape(str(text))}"
                    f" <small>{html.escape(str(message.get('state', '')))}"
                    f"{html.escape(' ' + str((message.get('error') or {}).get('errorMessage', '')) if message.get('error') else '')}</small></li>"
                )
        page = (
            "<!doctype html><title>8x8 phone</title><h1>8x8 phone</h1>"
            f"<form method='get'><select name='channel_id'>{options}</select>"
            f"<input name='customer' value='{html.escape(customer)}'><button>Open</button></form>"
            f"<ul data-testid='thread'>{''.join(rows)}</ul>"
            f"<form method='post' action='/__sim/8x8/phone'><input type='hidden' name='channel_id' value='{html.escape(chosen)}'>"
            f"<input type='hidden' name='customer' value='{html.escape(customer)}'>"
            "<input name='text' data-testid='phone-text'><button data-testid='phone-send'>Send</button></form>"
        )
        return HTMLResponse(page)

    async def phone_send(request: Request) -> Response:
        form = await request.form()
        query = {"channel_id": str(form.get("channel_id", "")), "customer": str(form.get("customer", ""))}
        try:
            inbound_from(
                {**query, "from": query["customer"], "type": "Text", "text": str(form.get("text", ""))}
            )
        except ValueError as exc:
            return HTMLResponse(f"<p data-testid='phone-error'>{html.escape(str(exc))}</p>", status_code=400)
        return RedirectResponse(f"/__sim/8x8/phone?{urlencode(query)}", status_code=303)

    return [
        Route("/__sim/8x8/accounts", accounts, methods=["POST"]),
        Route("/__sim/8x8/inbound", inbound, methods=["POST"]),
        Route("/__sim/8x8/messages", messages, methods=["GET"]),
        Route("/__sim/8x8/messages/{umid}/read", read, methods=["POST"]),
        Route("/__sim/8x8/window", window, methods=["POST"]),
        Route("/__sim/8x8/deliveries", deliveries, methods=["GET"]),
        Route("/__sim/8x8/phone", phone, methods=["GET"]),
        Route("/__sim/8x8/phone", phone_send, methods=["POST"]),
    ]


__all__ = ["PREFIX", "routes"]
