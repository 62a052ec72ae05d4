"""Where Salesforce opens our pages: the Canvas app's URL receives the signed request."""

from __future__ import annotations

import logging

from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tenants.models import Membership, Tenant
from tenants.validators import normalize_salesforce_id

from . import canvas
from .framing import origin_of
from .session import ConsoleSession, console_error

log = logging.getLogger(__name__)

# Canvas "parameters.page" (or the URL's last segment) → the console page it opens.
PAGES = {"wizard": "console:wizard", "templates": "console:templates", "history": "console:history"}
ADMIN_PROFILES_HINT = "System Administrator"


@csrf_exempt  # Salesforce posts cross-site; the HMAC signature authenticates the request
@xframe_options_exempt
@require_POST
def canvas_entry(request: HttpRequest, page: str = ""):
    signed_request = request.POST.get("signed_request", "")
    try:
        envelope = canvas.unverified_envelope(signed_request)
        org_id = normalize_salesforce_id(canvas.org_id_of(envelope), kind="organization")
    except Exception as exc:  # noqa: BLE001 - any unreadable request gets the same clear page
        return console_error(request, f"Salesforce's signed request could not be read: {exc}", status=400)
    tenant = Tenant.objects.filter(org_id=org_id, active=True).select_related("salesforce").first()
    if tenant is None or not hasattr(tenant, "salesforce"):
        return console_error(
            request,
            f"The Salesforce org {org_id} is not connected to Switchboard (or its tenant is disabled).",
        )
    try:
        envelope = canvas.verify(signed_request, str(tenant.salesforce.canvas_consumer_secret))
    except canvas.CanvasError as exc:
        log.warning("tenant %s: refused a Canvas request: %s", tenant.slug, exc)
        return console_error(request, str(exc))
    context = envelope.get("context") or {}
    user = context.get("user") or {}
    environment = context.get("environment") or {}
    parameters = environment.get("parameters") or {}
    record_id = str(
        parameters.get("recordId")
        or parameters.get("id")
        or (environment.get("record") or {}).get("Id")
        or ""
    )
    page = page or str(parameters.get("page") or "wizard")
    if page not in PAGES:
        return console_error(request, f"There is no Switchboard page called {page!r}.", status=404)
    user_id = str(user.get("userId") or envelope.get("userId") or "")
    client = envelope.get("client") or {}
    session = ConsoleSession(
        tenant_id=tenant.pk,
        user_id=user_id,
        user_name=str(user.get("fullName") or user.get("userName") or ""),
        record_id=record_id,
        via="canvas",
        is_admin=_is_admin(tenant, user_id, user),
        frame_origins=_frame_origins(client),
    )
    try:
        target = reverse(PAGES[page])
    except NoReverseMatch:
        return console_error(request, f"The {page} page is not available in this version.", status=404)
    return redirect(f"{target}?st={session.token()}")


def _frame_origins(client: dict) -> tuple[str, ...]:
    """The org's instance URL first (the wizard offers it as My Domain), then the framing page's origin."""
    urls = [str(client.get("instanceUrl") or ""), str(client.get("targetOrigin") or "")]
    return tuple(url.rstrip("/") for url in urls if url and origin_of(url))


def _is_admin(tenant: Tenant, user_id: str, user: dict) -> bool:
    """A Salesforce user may change the setup when Switchboard knows them as a tenant admin."""
    if not user_id:
        return False
    return Membership.objects.filter(
        tenant=tenant, role=Membership.Role.ADMIN, salesforce_user_id__startswith=user_id[:15]
    ).exists()
