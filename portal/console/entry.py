"""Where Salesforce opens our pages: the Canvas app's URL receives the signed request.

The answer is the page itself (no redirect): the verified session is handed to the page's view, which
renders with the session token in the page for its own requests to carry in a header, never in a URL.
"""

from __future__ import annotations

import logging
from typing import cast

from django.core.exceptions import ValidationError
from django.http import HttpRequest, QueryDict
from django.urls import NoReverseMatch, resolve, reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tenants.models import Membership, Tenant
from tenants.validators import normalize_salesforce_id

from . import canvas
from .framing import origin_of
from .session import CanvasEntryRequest, ConsoleSession, console_error

log = logging.getLogger(__name__)

# Canvas "parameters.page" (or the URL's last segment) → the console page it opens.
PAGES = {
    "wizard": "console:wizard",
    "templates": "console:templates",
    "history": "console:history",
    "case": "console:case-panel",
}


def _refusal_with_no_secret(signed_request: str) -> str:
    """What a request signed with a secret we do not have is told: what a wrong signature is told
    (canvas.NOT_VERIFIED), or the unsupported algorithm, as for a connected org; nothing more."""
    try:
        canvas.verify(signed_request, "")
    except canvas.CanvasError as exc:
        return str(exc)
    return canvas.NOT_VERIFIED  # verify accepts no empty secret


@csrf_exempt  # Salesforce posts cross-site; the HMAC signature authenticates the request
@xframe_options_exempt
@require_POST
def canvas_entry(request: HttpRequest, page: str = ""):
    signed_request = request.POST.get("signed_request", "")
    try:
        envelope = canvas.unverified_envelope(signed_request)
        org_id = normalize_salesforce_id(canvas.org_id_of(envelope), kind="organization")
    except (canvas.CanvasError, ValidationError) as exc:
        message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return console_error(request, f"Salesforce's signed request could not be read: {message}", status=400)
    tenant = Tenant.objects.filter(org_id=org_id, active=True).select_related("salesforce").first()
    if tenant is None or not hasattr(tenant, "salesforce"):
        log.info("refused a Canvas request of org %s: no active tenant is connected to it", org_id)
        return console_error(request, _refusal_with_no_secret(signed_request))
    try:
        envelope = canvas.verify(signed_request, str(tenant.salesforce.canvas_consumer_secret))
        canvas.claim_once(signed_request, tenant_id=tenant.pk)
    except canvas.CanvasError as exc:
        log.warning("tenant %s: refused a Canvas request: %s", tenant.slug, exc)
        return console_error(request, str(exc))
    context = _object(envelope, "context")
    user = _object(context, "user")
    environment = _object(context, "environment")
    parameters = _object(environment, "parameters")
    page = page or _text(parameters.get("page")) or "wizard"
    if page not in PAGES:
        return console_error(request, f"There is no Switchboard page called {page[:40]!r}.", status=404)
    user_id = _user_id(_text(user.get("userId")) or _text(envelope.get("userId")))
    if not user_id:
        return console_error(request, "Salesforce's signed request names no valid user id.", status=400)
    session = ConsoleSession(
        tenant_id=tenant.pk,
        user_id=user_id,
        user_name=_text(user.get("fullName")) or _text(user.get("userName")),
        record_id=_record_id(environment, parameters),
        via="canvas",
        is_admin=is_tenant_admin(tenant, user_id),
        frame_origins=_frame_origins(_object(envelope, "client")),
    )
    try:
        target = resolve(reverse(PAGES[page]))
    except NoReverseMatch:
        return console_error(request, f"The {page} page is not available in this version.", status=404)
    # The page answers this POST itself, as the GET of its own URL (which session.js puts in the address
    # bar, so that its forms post to it): its links and forms go through htmx with the token in a header.
    # Declares the attribute set on this line, which console_view reads back with getattr.
    cast(CanvasEntryRequest, request).canvas_session = session
    request.path = request.path_info = reverse(PAGES[page])
    request.method = "GET"
    request.POST = QueryDict()
    return target.func(request, *target.args, **target.kwargs)


def _object(parent: dict, key: str) -> dict:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _record_id(environment: dict, parameters: dict) -> str:
    """The record the page sits on: ``context.environment.record.Id`` (Salesforce puts it there for a record
    page), else the ``recordId`` parameter our Lightning snippet passes."""
    return _text(_object(environment, "record").get("Id")) or _text(parameters.get("recordId"))


def _user_id(raw: str) -> str:
    """The 18-character user id (Salesforce sends 18; a 15-character one gets its checksum), or "" if bad."""
    try:
        return normalize_salesforce_id(raw, kind="user")
    except ValidationError:
        return ""


def _frame_origins(client: dict) -> tuple[str, ...]:
    """The org's instance URL first (the wizard offers it as My Domain), then the framing page's origin."""
    urls = [_text(client.get("instanceUrl")), _text(client.get("targetOrigin"))]
    return tuple(url.rstrip("/") for url in urls if url and origin_of(url))


def is_tenant_admin(tenant: Tenant, user_id: str) -> bool:
    """Whether Switchboard knows this Salesforce user (18-character id) as an admin of the tenant.

    Stored ids may have 15 or 18 characters; each is brought to 18 with its checksum and compared exactly
    (ids are case-sensitive: no prefix match, no case folding).
    """
    if len(user_id) != 18:
        return False
    stored = Membership.objects.filter(tenant=tenant, role=Membership.Role.ADMIN).exclude(
        salesforce_user_id=""
    )
    for value in stored.values_list("salesforce_user_id", flat=True):
        try:
            if normalize_salesforce_id(value, kind="user") == user_id:
                return True
        except ValidationError:
            continue
    return False
