"""The Case chat panel: the page agents answer customers from, on the Case record page or in the utility bar
(Canvas sign-in; the signed record is the Case, and ``?id=`` serves only a session opened without one).

One page, then: a small JSON poll for what changed since the page's cursor (new messages, ticks, failures,
the Case's state, WhatsApp's window), and the reply form posted through htmx (text, quick-reply choices, a
file), answered with the form again (errors on their fields, or empty after a send). Every query is scoped
to ``request.tenant`` and to the one Case the session is bound to.
"""

from __future__ import annotations

import logging
import uuid

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_POST

from relay.desks.cases import reply_from_panel
from relay.desks.cases_models import CaseLink
from tenants.models import Sender, Tenant

from ..session import RecordRefused, console_error, console_view, panel_record
from ..templates_panel import context as template_context
from ..templates_panel.views import render_panel as render_template_panel
from . import attachments, feed, lookup
from .reply import ReplyForm, claim_send_key, release_send_key

log = logging.getLogger(__name__)

FORM_OVERHEAD_BYTES = 64 * 1024  # the text, the choices and the multipart framing around the file


def _case_id(request) -> tuple[str, bool]:
    """(the 18-character Case id, named by ``?id=``); ("", False) off a record. ValidationError if bad."""
    record_id, from_url = panel_record(request, kind="case")
    return (lookup.normalize_case_id(record_id) if record_id else ""), from_url


def _bound_link(request) -> CaseLink:
    """The Case this page's session is bound to; a 404 with the reason for anything else."""
    try:
        case_id, _ = _case_id(request)
    except ValidationError as exc:
        raise RecordRefused(f"This is not a Case: {' '.join(exc.messages)}") from None
    link = lookup.find_case(request.tenant, case_id) if case_id else None
    if link is None:
        raise RecordRefused("This panel shows a Case of this org's conversations; open it on one.")
    return link


@require_GET
@console_view()
def panel(request):
    try:
        case_id, from_url = _case_id(request)
    except ValidationError as exc:
        shown = (request.GET.get("id") or request.console.record_id)[:40]
        return console_error(request, f"“{shown}” is not a Case id: {' '.join(exc.messages)}", status=400)
    link = lookup.find_case(request.tenant, case_id) if case_id else None
    if from_url and link is None:
        # Named by ?id= only: shown only as one of the tenant's own Cases.
        raise RecordRefused(
            f"{case_id} is not a Case of this org's conversations. Open this panel on one of your own Cases."
        )
    if case_id:
        request.console = request.console.for_record(case_id)  # the page's token is bound to this Case
    context = {"console_token": request.console.token(), "case_id": case_id, "link": link}
    if link is None:
        context["problem"] = (
            "Open this panel on a Case record page: it shows that Case's conversation."
            if not case_id
            else "This Case has no WhatsApp, SMS or Viber conversation in Switchboard: it was not opened by a "
            "customer's message."
        )
        return render(request, "console/case_panel/panel.html", context)
    context.update(_page_context(request, link))
    return render(request, "console/case_panel/panel.html", context)


def _page_context(request, link: CaseLink) -> dict:
    conversation = link.conversation
    return {
        "conversation": conversation,
        "feed": feed.snapshot(link),
        "form": ReplyForm(link=link),
        "send_key": uuid.uuid4().hex,
        "accept": attachments.ACCEPT_ATTRIBUTE,
        "accepted_files": attachments.describe_accepted(),
        "is_whatsapp": conversation.sender.channel == Sender.Channel.WHATSAPP,
        "templates_url": _templates_url(),
    }


def _templates_url() -> str:
    """The template panel for this Case's customer, for a closed WhatsApp window."""
    try:
        return reverse("console:case-panel-templates")
    except NoReverseMatch:
        return ""


@require_GET
@console_view()
def templates(request):
    """The WhatsApp template panel, for this Case's customer and sender: what reaches them once the 24-hour
    window has closed. Its sends show in the conversation here, as any agent message."""
    link = _bound_link(request)
    conversation = link.conversation
    values = [
        template_context.PickerValue("Customer name", conversation.customer_name),
        template_context.PickerValue("Customer number", conversation.customer),
        template_context.PickerValue("Case number", link.case_number),
        template_context.PickerValue("Case subject", link.subject),
        template_context.PickerValue("Your name", request.console.user_name),
    ]
    session = template_context.SessionContext(
        record_id=link.case_id,
        name=f"Case {link.case_number or link.case_id}",
        exists=True,
        customer=conversation.customer,
        customer_name=conversation.customer_name,
        channel_address=conversation.sender.channel_address_identifier,
        values=[v for v in values if v.value.strip()],
    )
    return render_template_panel(request, session, sender=conversation.sender)


@require_GET
@console_view()
def updates(request):
    """What changed since ``?since=`` (a cursor from the last answer; none: everything shown)."""
    link = _bound_link(request)
    return JsonResponse(feed.snapshot(link, feed.parse_cursor(request.GET.get("since", ""))))


@require_POST
@console_view()
def reply(request):
    link = _bound_link(request)
    if _declared_length(request) > attachments.MAX_BYTES + FORM_OVERHEAD_BYTES:
        # Refused before the body is read: nobody's upload fills the server's disk for nothing.
        refused = f"The file is too large: a message can carry at most {attachments.MAX_BYTES // 2**20} MB."
        context = {"link": link, "form": ReplyForm(link=link), "refused": refused, "send_key": uuid.uuid4().hex,
                   "accept": attachments.ACCEPT_ATTRIBUTE, "accepted_files": attachments.describe_accepted()}  # fmt: skip
        return render(request, "console/case_panel/_reply.html", context, status=413)
    form = ReplyForm(request.POST, request.FILES, link=link)
    context = {
        "link": link,
        "accept": attachments.ACCEPT_ATTRIBUTE,
        "accepted_files": attachments.describe_accepted(),
    }
    if not form.is_valid():
        context.update(form=form, send_key=request.POST.get("send_key", "")[:64] or uuid.uuid4().hex)
        return render(request, "console/case_panel/_reply.html", context, status=422)
    key = form.cleaned_data.get("send_key", "")
    sent = None
    try:
        if claim_send_key(link, key):
            stored = form.stored
            try:
                sent = reply_from_panel(
                    link.conversation,
                    request.console.user_id,
                    form.cleaned_data["text"],
                    attachment=None if stored is None else _attachment(stored),
                    choices=form.cleaned_data["choices"] or None,
                    user_name=request.console.user_name,
                )
            except ValidationError as exc:  # the desk refused it (a rule of its own): nothing was stored
                release_send_key(link, key)
                form.add_error(None, exc)
                context.update(form=form, send_key=key or uuid.uuid4().hex)
                return render(request, "console/case_panel/_reply.html", context, status=422)
            except BaseException:
                # Not stored (the database went away, the worker stops): the same form sent again must be
                # sent, not answered "sent" by a key this failure used up - that would lose the reply.
                release_send_key(link, key)
                raise
    finally:
        if sent is None and form.stored is not None:  # a repeat, refused or failed: its file goes too
            attachments.discard(form.stored)
    context.update(form=ReplyForm(link=link), send_key=uuid.uuid4().hex, sent=True)
    response = render(request, "console/case_panel/_reply.html", context)
    response["HX-Trigger"] = "case-panel-sent"  # the page polls at once: the reply appears with its tick
    if sent is not None:
        log.info("tenant %s: reply %s from the Case panel on %s", link.tenant_id, sent.pk, link.case_id)
    return response


def _declared_length(request) -> int:
    value = request.META.get("CONTENT_LENGTH") or "0"
    return int(value) if value.isdigit() else 0


def _attachment(stored: attachments.StoredFile) -> dict:
    """The outbound message's media, as the relay sends it (``relay/outbound/send.py``)."""
    return {
        "media_url": stored.url,
        "media_mime_type": stored.mime_type,
        "media_filename": stored.filename,
        "panel_path": stored.path,
    }


@require_GET
def file(request, token: str, name: str):
    """A file an agent attached, for the provider that sends it (and the agent's own link): public but
    unguessable, signed, and only ever served as its checked type."""
    data = attachments.load(token)
    if data is None or name != data["n"]:
        raise Http404("No such file.")
    if not Tenant.objects.filter(pk=data["t"], active=True).exists():
        raise Http404("No such file.")
    store = attachments.storage()
    try:
        handle = store.open(data["k"], "rb")
    except (FileNotFoundError, OSError):
        raise Http404("No such file.") from None
    inline = data["m"].startswith(("image/", "video/", "audio/"))
    response = FileResponse(handle, content_type=data["m"], as_attachment=not inline, filename=data["n"])
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, max-age=3600"
    response["Referrer-Policy"] = "no-referrer"
    return response
