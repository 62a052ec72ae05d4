"""The setup wizard's pages. Every view runs inside ``console_view(admin_only=True)``: the tenant comes from
the signed console session (Canvas) or the signed-in tenant admin (web), never from the URL, and every
query below is scoped to it. Each step's own view is in ``steps/<step>.py``; :func:`step` frames it."""

from __future__ import annotations

import json
import logging

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from portal import livechecks
from relay.models import Message

from .. import snippets
from ..models import SetupProgress
from ..session import ConsoleRequest, console_view
from . import checks
from .sample_message import FINAL, record_outcome, test_message_of
from .saved import connection_of
from .step import StepPage, step_url
from .steps import BY_SLUG, first_open, states

log = logging.getLogger(__name__)


def page(
    request: ConsoleRequest, template: str, context: dict, *, slug: str = "", status: int = 200
) -> HttpResponse:
    tenant = request.tenant
    progress = SetupProgress.of(tenant)
    step_states = states(tenant, progress)
    token = request.console.token()
    context = {
        "tenant": tenant,
        "console": request.console,
        "console_token": token,
        "steps": step_states,
        "current": BY_SLUG.get(slug),
        "progress": progress,
        **context,
    }
    return render(request, template, context, status=status)


# --- overview, embed snippets, certificate ---------------------------------------------------------------


@console_view(admin_only=True)
@require_GET
def home(request: ConsoleRequest) -> HttpResponse:
    progress = SetupProgress.of(request.tenant)
    next_step = first_open(states(request.tenant, progress))
    return page(request, "console/wizard/home.html", {"next_step": next_step})


@console_view(admin_only=True)
@require_GET
def embed(request: ConsoleRequest) -> HttpResponse:
    return page(
        request,
        "console/wizard/embed.html",
        {
            "canvas_settings": snippets.canvas_app_settings(request.tenant),
            "aura_wizard": snippets.aura_component("wizard"),
            "aura_record": snippets.aura_component("templates", with_record=True),
            "aura_case": snippets.aura_component("case", with_record=True),
            "cases_desk": getattr(connection_of(request.tenant), "desk", "") == "cases",
            "visualforce": snippets.visualforce_page("wizard"),
        },
    )


@console_view(admin_only=True)
@require_http_methods(["GET", "POST"])  # POST: the download form, whose body carries the console token
def certificate(request: ConsoleRequest) -> HttpResponse:
    connection = connection_of(request.tenant)
    if connection is None or not connection.certificate:
        raise Http404("No certificate yet: generate the key pair first.")
    response = HttpResponse(connection.certificate, content_type="application/x-x509-ca-cert")
    response["Content-Disposition"] = f'attachment; filename="switchboard-{request.tenant.slug}.crt"'
    return response


@console_view(admin_only=True)
@require_http_methods(["GET", "POST"])
def step(request: ConsoleRequest, slug: str) -> HttpResponse:
    found = BY_SLUG.get(slug)
    if found is None:
        raise Http404("No such step.")
    answer = found.view(request)
    if isinstance(answer, StepPage):
        return page(request, answer.template, answer.context, slug=slug, status=answer.status)
    return answer


# --- live checks and the test message the pages poll ------------------------------------------------------


@console_view(admin_only=True)
@require_GET
def health_checks(request: ConsoleRequest) -> HttpResponse:
    """Start the live health check (or join the one running) and show it, or its progress."""
    check = livechecks.start(request.tenant, checks.HEALTH)
    return _check_fragment(request, check)


@console_view(admin_only=True)
@require_GET
def check_status(request: ConsoleRequest, check_id: str) -> HttpResponse:
    """What the page polls: a live check of this tenant, pending or with its result."""
    check = livechecks.get(request.tenant, check_id)
    if check is None:
        raise Http404("No such check.")
    return _check_fragment(request, check, then=request.GET.get("then", ""))


def _check_fragment(request: ConsoleRequest, check, *, then: str = "") -> HttpResponse:
    """A pending check polls again; a finished one shows its result the way its page does, or, with
    ``then`` (a step), sends the page there (lists and setup reload the step that waits for them)."""
    context = {
        "check": check,
        "then": then if then in BY_SLUG else "",
        "console_token": request.console.token(),
    }
    if check.pending:
        return render(request, "console/wizard/_check.html", context)
    if context["then"] and (check.ok or check.kind != checks.SALESFORCE_LOGIN):
        # htmx loads the step into the page (an ajax request that carries the console token, as a click
        # on a link in the wizard does), rather than a bare navigation that would carry none.
        response = HttpResponse("")
        response["HX-Location"] = json.dumps({"path": step_url(request, context["then"]), "target": "body"})
        return response
    if check.kind == checks.HEALTH:
        found = check.data.get("checks") or []
        return render(
            request,
            "console/wizard/_health.html",
            {**context, "checks": found, "all_ok": not any(c["state"] == "error" for c in found)},
        )
    if check.kind == checks.TEST_MESSAGE and check.ok:
        message = test_message_of(request.tenant, check)
        if message is not None:
            context.update(message=message, final=message.status in FINAL)
            return render(request, "console/wizard/_test_status.html", context)
    return render(request, "console/wizard/_check_result.html", context)


@console_view(admin_only=True)
@require_GET
def test_message_status(request: ConsoleRequest, pk: int) -> HttpResponse:
    message = (
        Message.objects.for_tenant(request.tenant)
        .filter(pk=pk)
        .select_related("conversation__sender")
        .first()
    )
    if message is None or (message.content or {}).get("system") != "wizard-test":
        raise Http404("No such test message.")
    record_outcome(request.tenant, message)
    return render(
        request,
        "console/wizard/_test_status.html",
        {
            "message": message,
            "final": message.status in FINAL,
        },
    )
