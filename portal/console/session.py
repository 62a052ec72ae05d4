"""The console session: who is looking, for which tenant, on which record.

Browsers block third-party cookies in cross-site frames, so the session is a short-lived signed
token the page carries: in links (``?st=``), in forms (a hidden ``st`` field) and in htmx requests
(the ``X-Console-Token`` header). Being signed and never in a cookie, it also stands in for the
CSRF token inside the frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import wraps

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from tenants.models import Membership, Tenant

from .framing import frame_ancestors_for

SALT = "switchboard.console"
MAX_AGE_SECONDS = 60 * 60
HEADER = "X-Console-Token"


@dataclass(frozen=True)
class ConsoleSession:
    tenant_id: int
    user_id: str  # the Salesforce user id (Canvas), or "web:<pk>" for a site user
    user_name: str
    record_id: str = ""  # e.g. the MessagingSession id of the record page
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


def token_from(request: HttpRequest) -> str:
    return request.headers.get(HEADER) or request.POST.get("st") or request.GET.get("st") or ""


def console_error(request: HttpRequest, message: str, *, status: int = 403):
    response = render(request, "console/error.html", {"message": message}, status=status)
    response["Content-Security-Policy"] = "frame-ancestors *"  # an error page may show in any frame
    return response


def console_view(*, admin_only: bool = False):
    """Require a valid console session; set ``request.console`` and ``request.tenant``.

    A signed-in site user who is an admin of exactly one tenant (or names it with ``?tenant=``)
    gets a session too: the "web wizard" path, before the Canvas app exists.
    """

    def decorator(view):
        @wraps(view)
        @csrf_exempt  # the signed token, never a cookie, authenticates every request
        @xframe_options_exempt  # framing is governed by the CSP frame-ancestors set below
        def wrapper(request: HttpRequest, *args, **kwargs):
            session = _session(request)
            if session is None:
                return console_error(
                    request,
                    "Your session has expired or is missing. Open this page again from Salesforce "
                    "(or sign in to Switchboard).",
                )
            if not token_from(request) and request.method not in ("GET", "HEAD", "OPTIONS"):
                # A site user's cookie, not the signed token, authenticates this request: CSRF applies.
                refused = _csrf_refusal(request)
                if refused is not None:
                    return refused
            tenant = (
                Tenant.objects.filter(pk=session.tenant_id, active=True).select_related("salesforce").first()
            )
            if tenant is None:
                return console_error(request, "This Switchboard tenant is not active.")
            if admin_only and not session.is_admin:
                who = f" (your Salesforce user id is {session.user_id})" if session.via == "canvas" else ""
                return console_error(
                    request,
                    "Only an administrator of this org can change its setup. Ask a Switchboard admin to "
                    f"make you a tenant admin with your Salesforce user id{who}.",
                )
            request.console, request.tenant = session, tenant
            response = view(request, *args, **kwargs)
            ancestors = frame_ancestors_for(tenant, extra_origins=session.frame_origins)
            response["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
            return response

        return wrapper

    return decorator


def _csrf_refusal(request: HttpRequest) -> HttpResponse | None:
    """Django's own CSRF check (the view itself is exempt because tokens need none)."""
    checker = CsrfViewMiddleware(lambda _request: HttpResponse())
    checker.process_request(request)
    return checker.process_view(request, None, (), {})


def _session(request: HttpRequest) -> ConsoleSession | None:
    token = token_from(request)
    if token:
        try:
            return ConsoleSession.from_token(token)
        except (signing.BadSignature, TypeError):
            return None
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    memberships = Membership.objects.filter(user=user, role=Membership.Role.ADMIN, tenant__active=True)
    if request.GET.get("tenant"):
        memberships = memberships.filter(tenant__slug=request.GET["tenant"])
    tenant_ids = list(memberships.values_list("tenant_id", flat=True)[:2])
    if user.is_superuser and request.GET.get("tenant"):
        tenant_ids = list(Tenant.objects.filter(slug=request.GET["tenant"]).values_list("pk", flat=True))
    if len(tenant_ids) != 1:
        return None
    return ConsoleSession(
        tenant_id=tenant_ids[0],
        user_id=f"web:{user.pk}",
        user_name=user.get_username(),
        via="web",
        is_admin=True,
    )
