"""The console session: who is looking, for which tenant, on which record.

Browsers block third-party cookies in cross-site frames, so the session is a short-lived signed token the
page carries itself: in the ``X-Console-Token`` header of every htmx request (``static/console/session.js``
adds it; links and forms inside the console are htmx-boosted) or, for the rare plain form post, in a hidden
``st`` field of the body. Never in a URL: no link, redirect or access log line holds it, and a token in a
query string is ignored.

The token names the tenant, the Salesforce user and the record the page was opened on; it lives
``MAX_AGE_SECONDS`` and every answer renews it (the ``X-Console-Token`` response header), so it lasts as
long as the page is in use and no longer. A request that carries it (or changes anything) must come from our
own origin: Sec-Fetch-Site, Origin and Referer, whichever the browser sent, must all say so. Being signed,
origin-checked and never in a cookie, the token also stands in for the CSRF token inside the frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import wraps
from typing import cast
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import slug_re
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from tenants.models import Membership, Tenant, User
from tenants.validators import normalize_salesforce_id

from .framing import frame_ancestors_for

SALT = "switchboard.console"
MAX_AGE_SECONDS = 15 * 60
HEADER = "X-Console-Token"
FORM_FIELD = "st"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class ConsoleSession:
    tenant_id: int
    user_id: str  # the 18-character Salesforce user id (Canvas), or "web:<pk>" for a site user
    user_name: str
    record_id: str = ""  # the record the page was opened on (e.g. a MessagingSession id); "" for none
    via: str = "canvas"  # canvas | web
    is_admin: bool = False
    # Origins of the Salesforce page that framed us, from the verified signed request (client.instanceUrl,
    # client.targetOrigin): they may frame us even before the tenant's My Domain is configured.
    frame_origins: tuple[str, ...] = ()

    def token(self) -> str:
        return signing.dumps(asdict(self), salt=SALT, compress=True)

    @classmethod
    def from_token(cls, token: str) -> ConsoleSession:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
        data["frame_origins"] = tuple(data.get("frame_origins") or ())
        return cls(**data)

    def for_record(self, record_id: str) -> ConsoleSession:
        return replace(self, record_id=record_id)


class ConsoleRequest(HttpRequest):
    """The request a ``console_view`` view receives: the decorator sets ``console`` (the verified session)
    and ``tenant`` (its active tenant) before calling the view. For annotations only; Django builds the
    request object itself."""

    console: ConsoleSession
    tenant: Tenant


class CanvasEntryRequest(HttpRequest):
    """The request the Canvas entry hands to the page it opens, with the session it has just verified."""

    canvas_session: ConsoleSession


def token_from(request: HttpRequest) -> str:
    """The header, else the form body. Never the query string: a URL ends up in logs and histories."""
    return request.headers.get(HEADER) or request.POST.get(FORM_FIELD) or ""


def console_error(request: HttpRequest, message: str, *, status: int = 403):
    response = render(request, "console/error.html", {"message": message}, status=status)
    response["Content-Security-Policy"] = "frame-ancestors *"  # an error page may show in any frame
    response["Cache-Control"] = "no-store"
    return response


# --- where a request comes from ------------------------------------------------------------------------


def own_origins(request: HttpRequest) -> set[str]:
    """This site's origins: as the request reached us, as configured publicly, and the trusted ones."""
    origins = {f"{request.scheme}://{request.get_host()}"}
    for url in [settings.PUBLIC_BASE_URL, *settings.CSRF_TRUSTED_ORIGINS]:
        parts = urlsplit(url or "")
        if parts.scheme and parts.netloc:
            origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def from_another_origin(request: HttpRequest) -> str:
    """Why the browser says this request came from another site, or "" if it came from ours.

    Browsers tell us with Sec-Fetch-Site (all current ones), Origin (every POST) and Referer (unless a
    policy strips it); whatever was sent must name our origin. A request with none of them is not from a
    browser, and a client outside a browser could write any of them: the token is what authenticates it.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site != "same-origin":
        return f"Sec-Fetch-Site: {fetch_site[:20]}"
    ours = own_origins(request)
    origin = request.headers.get("Origin")
    if origin is not None and origin not in ours:
        return f"Origin: {origin[:100]}"
    referer = request.headers.get("Referer")
    if referer is not None:
        parts = urlsplit(referer)
        if f"{parts.scheme}://{parts.netloc}" not in ours:
            return f"Referer from {parts.scheme}://{parts.netloc}"[:120]
    return ""


# --- the decorator ---------------------------------------------------------------------------------------


def console_view(*, admin_only: bool = False):
    """Require a valid console session; set ``request.console`` and ``request.tenant``.

    The Canvas entry hands a freshly verified session over as ``request.canvas_session``. A signed-in site
    user who is an admin of exactly one tenant (or names it with ``?tenant=``) gets a session too: the "web
    wizard" path, before the Canvas app exists.
    """

    def decorator(view):
        @wraps(view)
        @csrf_exempt  # the signed, origin-checked token authenticates; CSRF applies below without one
        @xframe_options_exempt  # framing is governed by the CSP frame-ancestors set below
        def wrapper(request: HttpRequest, *args, **kwargs):
            handed_over = getattr(request, "canvas_session", None)
            token = token_from(request)
            if handed_over is None and (token or request.method not in SAFE_METHODS):
                foreign = from_another_origin(request)
                if foreign:
                    return console_error(
                        request,
                        "This request came from another site, so Switchboard refused it "
                        f"({foreign}). Use Switchboard's pages from inside Salesforce.",
                    )
            session = handed_over or _session(request, token)
            if session is None:
                return console_error(
                    request,
                    "Your session has expired or is missing. Open this page again from Salesforce "
                    "(or sign in to Switchboard).",
                )
            if not token and handed_over is None and request.method not in SAFE_METHODS:
                # A site user's cookie, not the signed token, authenticates this request: CSRF applies.
                refused = _csrf_refusal(request)
                if refused is not None:
                    return refused
            tenant = (
                Tenant.objects.filter(pk=session.tenant_id, active=True).select_related("salesforce").first()
            )
            if tenant is None:
                return console_error(request, "This Switchboard tenant is not active.")
            if handed_over is None:
                session = _as_entitled_now(session, tenant)
                if session is None:
                    return console_error(
                        request,
                        "Your Switchboard access to this org has ended. Sign in again, or ask a Switchboard "
                        "admin for access.",
                    )
            if admin_only and not session.is_admin:
                who = f" (your Salesforce user id is {session.user_id})" if session.via == "canvas" else ""
                return console_error(
                    request,
                    "Only an administrator of this org can change its setup. Ask a Switchboard admin to "
                    f"make you a tenant admin with your Salesforce user id{who}.",
                )
            # The two attributes ConsoleRequest declares are set right here, before the view runs.
            console_request = cast(ConsoleRequest, request)
            console_request.console, console_request.tenant = session, tenant
            try:
                response = view(console_request, *args, **kwargs)
            except RecordRefused as refused:
                return console_error(request, str(refused), status=404)
            ancestors = frame_ancestors_for(tenant, extra_origins=session.frame_origins)
            response["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
            # Renewed on every answer (the view may have bound it to a record); session.js keeps the newest.
            response[HEADER] = console_request.console.token()
            response["Cache-Control"] = "no-store"
            return response

        return wrapper

    return decorator


def _csrf_refusal(request: HttpRequest) -> HttpResponse | None:
    """Django's own CSRF check (the view itself is exempt because tokens need none)."""

    def not_exempt(_request: HttpRequest) -> HttpResponse:  # only its (absent) csrf_exempt flag is read
        return HttpResponse()

    checker = CsrfViewMiddleware(not_exempt)
    checker.process_request(request)
    return checker.process_view(request, not_exempt, (), {})


def _session(request: HttpRequest, token: str) -> ConsoleSession | None:
    if token:
        try:
            return ConsoleSession.from_token(token)
        except (signing.BadSignature, TypeError, ValueError):
            return None
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    slug = request.GET.get("tenant", "")
    if slug and not slug_re.fullmatch(slug):  # no tenant's slug (and a NUL in it fails PostgreSQL's query)
        return None
    memberships = Membership.objects.filter(user=user, role=Membership.Role.ADMIN, tenant__active=True)
    if slug:
        memberships = memberships.filter(tenant__slug=slug)
    tenant_ids = list(memberships.values_list("tenant_id", flat=True)[:2])
    if user.is_superuser and slug:
        tenant_ids = list(Tenant.objects.filter(slug=slug).values_list("pk", flat=True))
    if len(tenant_ids) != 1:
        return None
    return ConsoleSession(
        tenant_id=tenant_ids[0],
        user_id=f"web:{user.pk}",
        user_name=user.get_username(),
        via="web",
        is_admin=True,
    )


def _as_entitled_now(session: ConsoleSession, tenant: Tenant) -> ConsoleSession | None:
    """The session as the user's rights stand now. A token is renewed by every answer, so what it says
    about its user (admin, site user) was true when the page opened, not necessarily now: a removed admin
    or site user would keep their rights for as long as they kept the page busy. None: no session at all.

    A site user's session (web) lasts only while the user is active and still an admin of the tenant (or a
    superuser); a Canvas user whose admin membership was removed keeps the session as a non-admin (every
    Salesforce user of the org may use the panels; Salesforce decided who opened the page).
    """
    if session.via == "web":
        user_pk = _web_user_pk(session)
        user = User.objects.filter(pk=user_pk, is_active=True).first() if user_pk is not None else None
        if user is None:
            return None
        admin = (
            user.is_superuser
            or Membership.objects.filter(user=user, tenant=tenant, role=Membership.Role.ADMIN).exists()
        )
        return session if admin else None
    if session.is_admin and not _is_canvas_admin(tenant, session.user_id):
        return replace(session, is_admin=False)
    return session


def _web_user_pk(session: ConsoleSession) -> int | None:
    pk = session.user_id.removeprefix("web:")
    return int(pk) if pk.isdigit() else None


def _is_canvas_admin(tenant: Tenant, user_id: str) -> bool:
    from .entry import is_tenant_admin  # entry imports this module: the Canvas rule stays in one place

    return is_tenant_admin(tenant, user_id)


# --- the record a panel shows ---------------------------------------------------------------------------


class RecordRefused(Http404):
    """A panel was asked for a record this session may not see: answered 404 with the reason."""


def panel_record(request: ConsoleRequest, *, kind: str = "messaging_session") -> tuple[str, bool]:
    """(the 18-character record the panel shows, whether ``?id=`` named it) - ("", False) for none.

    The record in the signed request always wins: ``?id=`` naming any other record is refused (404), so a
    session opened on one record cannot be pointed at another. Only a session opened without a record (a
    utility bar, the web wizard) may name one with ``?id=``; the caller then checks that it is the tenant's.
    Raises ValidationError for an id that is not one of ``kind``.
    """
    signed = request.console.record_id
    asked = (request.GET.get("id") or "").strip()
    if signed:
        record = normalize_salesforce_id(signed, kind=kind)
        if asked and _normalized_or_blank(asked, kind) != record:
            raise RecordRefused(
                "This panel shows the record Salesforce opened it on; it cannot be pointed at another one."
            )
        return record, False
    if not asked:
        return "", False
    return normalize_salesforce_id(asked, kind=kind), True


def _normalized_or_blank(value: str, kind: str) -> str:
    try:
        return normalize_salesforce_id(value, kind=kind)
    except ValidationError:
        return ""


@console_view()
def renew(request: HttpRequest) -> HttpResponse:
    """Nothing but a renewed token (in the response header): session.js calls it while the page is in use."""
    if request.method not in SAFE_METHODS:
        return HttpResponse(status=405)
    return HttpResponse(status=204)
