"""The WhatsApp template panel: an iframe on the Messaging Session record page (Canvas sign-in; the signed
record always wins, ``?id=<MessagingSession id>`` serves only a session opened without one) from which an
agent sends an approved template.

One full page, then small htmx fragments: the template list (per sender, searchable, refreshable), the
value fields generated from the chosen template, the live preview, the send with field-level errors, the
window badge and the history with live delivery status. Every query is scoped to ``request.tenant``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from relay import untrusted
from relay.models import Conversation, Message
from relay.outbound.template_send import send_template
from relay.outbound.template_sync import ensure_synced, last_synced, sync_sender
from relay.outbound.template_values import initial_values, preview, shape_of
from tenants.models import Sender, WhatsAppTemplate

from ..session import console_error, console_view, panel_record
from . import context as session_context

VALUE_PREFIXES = ("header_", "body_", "url_", "reply_")
FINAL_STATUSES = {Message.Status.READ, Message.Status.FAILED}
POLL_FOR = timedelta(minutes=10)  # after this, a message still "delivered" stops the history's polling
HISTORY_SIZE = 10


# --- helpers -------------------------------------------------------------------------------------------


def _senders(tenant):
    return (
        Sender.objects.for_tenant(tenant)
        .filter(channel=Sender.Channel.WHATSAPP, enabled=True)
        .select_related("account")
        .order_by("address")
    )


def _chosen_sender(request) -> Sender | None:
    pk = untrusted.ascii_int(request.POST.get("sender") or request.GET.get("sender"))
    if pk is None:
        return None
    return _senders(request.tenant).filter(pk=pk).first()


def _values(data) -> dict[str, str]:
    return {k: v for k, v in data.items() if k.startswith(VALUE_PREFIXES)}


def _template(request, sender: Sender | None) -> WhatsAppTemplate | None:
    pk = untrusted.ascii_int(request.POST.get("template") or request.GET.get("template"))
    if pk is None:
        return None
    templates = WhatsAppTemplate.objects.for_tenant(request.tenant).filter(pk=pk)
    if sender is not None:
        templates = templates.filter(sender=sender)
    return templates.first()


def _wizard_url(request) -> str:
    """The wizard's plain URL: the boosted link carries the session in its header, never in the URL."""
    try:
        return reverse("console:wizard")
    except NoReverseMatch:
        return ""


def _window(tenant, sender: Sender | None, customer: str) -> dict:
    """What the badge says: can this customer still get free text from this sender?"""
    if sender is None:
        return {"known": False, "hint": "Choose a sender to see WhatsApp's 24-hour window for this customer"}
    if not customer:
        return {"known": False, "hint": "Enter the recipient's number to see WhatsApp's 24-hour window"}
    conversation = Conversation.objects.for_tenant(tenant).filter(sender=sender, customer=customer).first()
    if conversation is None or conversation.last_inbound_at is None:
        return {"known": True, "open": False, "reason": "The customer has not written to this number yet."}
    closes = conversation.last_inbound_at + timedelta(hours=24)
    return {"known": True, "open": conversation.window_open(), "closes": closes}


def _history(request) -> list[Message]:
    """Templates sent in this Messaging Session; off a session, the ones this agent sent today."""
    messages = Message.objects.for_tenant(request.tenant).filter(
        direction=Message.Direction.OUTBOUND, kind="template", content__source="template_panel"
    )
    record_id = request.console.record_id
    if record_id:
        messages = messages.filter(
            Q(content__messaging_session_id=record_id) | Q(content__messaging_session_id=record_id[:15])
        )
    else:
        since = timezone.now() - timedelta(days=1)
        messages = messages.filter(content__agent__id=request.console.user_id[:18], created_at__gte=since)
    return list(messages.select_related("conversation__sender").order_by("-created_at")[:HISTORY_SIZE])


def _history_context(request) -> dict:
    messages = _history(request)
    soon = timezone.now() - POLL_FOR
    polling = any(
        m.status not in FINAL_STATUSES and (m.status == Message.Status.PENDING or m.created_at > soon)
        for m in messages
    )
    return {"history": messages, "polling": polling}


def _fields_context(request, sender, template, values, errors=None) -> dict:
    shape = shape_of(template.structure)
    shown = {**initial_values(shape), **values} if values is not None else initial_values(shape)
    return {
        "sender": sender,
        "template": template,
        "shape": shape,
        "fields": [
            (spec, shown.get(spec.name, ""), (errors or {}).get(spec.name, [])) for spec in shape.fields
        ],
        "fixed_buttons": [b for b in shape.buttons if not b.dynamic],
        "preview": preview(template.name, template.structure, shown),
        "errors": errors or {},
        "send_key": uuid.uuid4().hex,
    }


# --- pages ---------------------------------------------------------------------------------------------


@require_GET
@console_view()
def panel(request):
    tenant = request.tenant
    try:
        record_id, from_url = panel_record(request)
    except ValidationError as exc:
        shown = (request.GET.get("id") or request.console.record_id)[:40]
        return console_error(
            request, f"“{shown}” is not a Messaging Session id: {exc.messages[0]}", status=400
        )
    session = session_context.SessionContext()
    if record_id:
        session = session_context.load(tenant, record_id, agent_name=request.console.user_name)
        if session.exists is False:
            return console_error(
                request,
                f"The Messaging Session {record_id} is not in this org's Salesforce. Open the template panel "
                "from one of your own Messaging Sessions.",
                status=404,
            )
        if from_url and not session.exists:  # named by ?id= only: it must be shown to be the org's
            return console_error(
                request,
                f"Switchboard could not confirm that {record_id} is one of this org's Messaging Sessions "
                f"({session.problem or 'Salesforce did not answer'}). Open the template panel from one of "
                "your own Messaging Sessions.",
                status=404,
            )
    # From here on the page's token is bound to this session: the signed one, or the ?id= just checked.
    request.console = request.console.for_record(record_id)
    return render_panel(request, session)


def render_panel(request, session: session_context.SessionContext, *, sender: Sender | None = None):
    """The panel page for the conversation ``session`` describes (also opened by the Case panel, for its
    Case's customer and ``sender``)."""
    tenant = request.tenant
    senders = list(_senders(tenant))
    # The conversation's own sender, chosen for the agent (they can pick another).
    chosen = next((s for s in senders if sender is not None and s.pk == sender.pk), None) or next(
        (
            s
            for s in senders
            if session.channel_address and s.channel_address_identifier == session.channel_address
        ),
        None,
    )
    response = render(
        request,
        "console/templates/panel.html",
        {
            "console_token": request.console.token(),
            "session": session,
            "senders": senders,
            "preselected": chosen.pk if chosen else None,
            "window": _window(tenant, chosen, _e164_or_blank(session.customer)),
            "wizard_url": _wizard_url(request),
            **_history_context(request),
        },
    )
    return response


@require_GET
@console_view()
def template_list(request):
    return _render_list(request)


@require_POST
@console_view()
def refresh(request):
    sender = _chosen_sender(request)
    result = sync_sender(sender) if sender is not None else None
    return _render_list(request, refreshed=result)


def _render_list(request, *, refreshed=None):
    sender = _chosen_sender(request)
    query = (request.GET.get("q") or request.POST.get("q") or "").strip()
    context = {"sender": sender, "q": query, "refreshed": refreshed, "reset": bool(request.GET.get("reset"))}
    if sender is None:
        chosen = request.GET.get("sender") or request.POST.get("sender")
        context["problem"] = "This sender is not available." if chosen else ""
        return render(request, "console/templates/_list.html", context)
    first_sync = ensure_synced(sender)
    templates = WhatsAppTemplate.objects.for_tenant(request.tenant).filter(
        sender=sender, status=WhatsAppTemplate.Status.APPROVED
    )
    if query:
        words = query.replace("_", " ").split()
        for word in words:
            templates = templates.filter(Q(name__icontains=word) | Q(category__icontains=word))
    cached = list(templates.order_by("name", "language"))
    synced = last_synced(sender) or max((t.fetched_at for t in cached), default=None)
    context.update(
        templates=cached,
        synced_at=synced,
        sync_error=(refreshed.error if refreshed else "") or (first_sync.error if first_sync else ""),
    )
    return render(request, "console/templates/_list.html", context)


@require_GET
@console_view()
def fields(request):
    sender = _chosen_sender(request)
    template = _template(request, sender)
    if sender is None or template is None or not template.is_approved:
        return render(
            request,
            "console/templates/_fields.html",
            {"problem": "Choose a sender and one of its approved templates."},
            status=404,
        )
    return render(request, "console/templates/_fields.html", _fields_context(request, sender, template, None))


@require_POST
@console_view()
def preview_fragment(request):
    template = _template(request, _chosen_sender(request))
    if template is None:
        return render(request, "console/templates/_preview.html", {}, status=404)
    shown = preview(template.name, template.structure, _values(request.POST))
    return render(request, "console/templates/_preview.html", {"preview": shown})


@require_POST
@console_view()
def send(request):
    """Validate everything, then queue the template; errors come back on their fields (422), nothing sent."""
    tenant = request.tenant
    template = (
        WhatsAppTemplate.objects.for_tenant(tenant)
        .filter(pk=untrusted.ascii_int(request.POST.get("template")))
        .first()
    )
    values = _values(request.POST)
    customer = request.POST.get("customer", "")
    errors: dict[str, list[str]] = {}
    message = None
    if template is None:
        errors["template"] = ["Choose one of the sender's approved templates."]
    else:
        try:
            message = send_template(
                tenant,
                untrusted.ascii_int(request.POST.get("sender")) or "",
                customer,
                template.name,
                template.language,
                values,
                idempotency_key=f"panel:{request.POST.get('send_key', '')[:64]}"
                if request.POST.get("send_key")
                else "",
                agent={"id": request.console.user_id, "name": request.console.user_name},
                messaging_session_id=request.console.record_id,
                source="template_panel",
            )
        except ValidationError as exc:
            errors = exc.message_dict
    sender = _chosen_sender(request)
    if errors:
        context = (
            _fields_context(request, sender, template, values, errors)
            if template is not None
            else {"problem": errors["template"][0]}
        )
        context.update(outer_errors=_outer_errors(errors), failed=True, from_send=True)
        return render(request, "console/templates/_fields.html", context, status=422)
    context = _fields_context(request, sender, template, values)
    context.update(sent=message, from_send=True, **_history_context(request), history_oob=True)
    return render(request, "console/templates/_fields.html", context)


def _outer_errors(errors: dict) -> dict:
    """Errors of the fields above the template (sender, recipient) and of the template itself."""
    return {name: errors.get(name, []) for name in ("sender", "customer", "template")}


def _e164_or_blank(value: str) -> str:
    try:
        return session_context.normalize_e164(value)
    except ValidationError:
        return ""


@require_GET
@console_view()
def window_badge(request):
    sender = _chosen_sender(request)
    customer = _e164_or_blank(request.GET.get("customer", ""))
    return render(
        request, "console/templates/_window.html", {"window": _window(request.tenant, sender, customer)}
    )


@require_GET
@console_view()
def history(request):
    return render(request, "console/templates/_history.html", _history_context(request))
