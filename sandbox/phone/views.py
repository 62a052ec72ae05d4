"""The phone page: the customer's side of a conversation with a business sender.

``/__sim/phone`` picks an Infobip account, one of its senders and a customer number, shows what the
customer received (text, media, rendered templates with header/body/footer/buttons, interactive buttons
and lists) and lets the tester write as the customer or tap a button, which fires the MO webhook exactly
as the control API's ``/__sim/infobip/inbound`` does. The thread refreshes by htmx polling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..infobip.inbound import InboundError, fire
from ..infobip.state import digits
from ..templating import templates

if TYPE_CHECKING:
    from ..world import World

DEFAULT_CUSTOMER = "447400123456"  # libphonenumber's own example UK mobile: a valid number everywhere


def _selection(world: World, params) -> dict:
    service = world.infobip
    accounts = list(service.accounts.values())
    account = service.accounts.get(params.get("account", "")) or (accounts[0] if accounts else None)
    senders = list(account.senders.values()) if account else []
    sender = (account.senders.get(digits(params.get("sender", ""))) if account else None) or (
        senders[0] if senders else None
    )
    customer = digits(params.get("customer") or DEFAULT_CUSTOMER)
    return {
        "accounts": accounts,
        "account": account,
        "senders": senders,
        "sender": sender,
        "customer": customer,
    }


def _query(selection: dict) -> str:
    return urlencode(
        {
            "account": selection["account"].key if selection["account"] else "",
            "sender": selection["sender"].address if selection["sender"] else "",
            "customer": selection["customer"],
        }
    )


def _thread_context(world: World, selection: dict) -> dict:
    account, sender = selection["account"], selection["sender"]
    thread = (
        world.infobip.thread(account.key, sender.address, selection["customer"]) if account and sender else []
    )
    window_open = bool(
        account and sender and world.infobip.window_open(account, sender.address, selection["customer"])
    )
    return {**selection, "thread": thread, "window_open": window_open, "query": _query(selection)}


def routes(world: World) -> list:
    async def page(request: Request) -> HTMLResponse:
        selection = _selection(world, request.query_params)
        context = _thread_context(world, selection)
        context["error"] = request.query_params.get("error", "")
        return templates.TemplateResponse(request, "phone/index.html", context)

    async def thread(request: Request) -> HTMLResponse:
        selection = _selection(world, request.query_params)
        return templates.TemplateResponse(request, "phone/_thread.html", _thread_context(world, selection))

    async def act(request: Request) -> Response:
        """The customer types, taps a quick reply / interactive button, or picks a list row."""
        form = await request.form()
        selection = _selection(world, form)
        if not selection["account"] or not selection["sender"]:
            return HTMLResponse(
                "<p data-testid='phone-error'>Pick an account and a sender first.</p>", status_code=400
            )
        channel = str(form.get("channel") or selection["sender"].channels[0])
        spec = {
            "account": selection["account"].key,
            "channel": channel,
            "to": selection["sender"].address,
            "from": selection["customer"],
            "name": str(form.get("name") or "Phone customer"),
        }
        action = form.get("action", "text")
        if action == "text":
            spec["text"] = str(form.get("text") or "")
        elif action == "quick_reply":
            spec.update(button_payload=str(form.get("payload")), button_text=str(form.get("title")))
        elif action == "reply_button":
            spec["interactive_reply"] = {"id": str(form.get("payload")), "title": str(form.get("title"))}
        elif action == "list_row":
            spec["list_reply"] = {"id": str(form.get("payload")), "title": str(form.get("title"))}
        if form.get("context_message_id"):
            spec["context_message_id"] = str(form.get("context_message_id"))
        error = ""
        try:
            fire(world.infobip, spec)
        except (InboundError, ValueError) as exc:
            error = str(exc)
        if request.headers.get("hx-request"):
            context = _thread_context(world, selection)
            context["error"] = error
            return templates.TemplateResponse(request, "phone/_thread.html", context)
        suffix = "&" + urlencode({"error": error}) if error else ""
        return RedirectResponse(f"/__sim/phone?{_query(selection)}{suffix}", status_code=303)

    return [
        Route("/__sim/phone", page, methods=["GET"]),
        Route("/__sim/phone/thread", thread, methods=["GET"]),
        Route("/__sim/phone/act", act, methods=["POST"]),
    ]
