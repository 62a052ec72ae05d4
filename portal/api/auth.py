"""API key authentication and the scope a key gives: a partner's tenants, or one tenant.

Every view reads the scope through :func:`scope_of` (``request.user.scope``); nothing else in the API decides
which tenants a caller may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from tenants.models import ApiKey, Tenant

from .models import WebhookSubscription

# Writing last_used_at on every request would make each read a write; a minute is precise enough.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class Scope:
    """What one API key may reach."""

    key: ApiKey

    @property
    def partner_id(self) -> int | None:
        return self.key.partner_id

    @property
    def tenant_id(self) -> int | None:
        return self.key.tenant_id

    @property
    def is_partner(self) -> bool:
        return self.key.partner_id is not None

    @property
    def label(self) -> str:
        """Who owns the key (idempotency keys and rate limits are per owner or per key)."""
        return f"partner:{self.partner_id}" if self.is_partner else f"tenant:{self.tenant_id}"

    def tenants(self) -> QuerySet[Tenant]:
        partner_id, tenant_id = self.partner_id, self.tenant_id
        if partner_id is not None:
            return Tenant.objects.filter(partner_id=partner_id)
        if tenant_id is None:  # neither: a key of nobody (the model's check constraint forbids it)
            return Tenant.objects.none()
        return Tenant.objects.filter(pk=tenant_id)

    def tenant_ids(self) -> QuerySet:
        return self.tenants().values("pk")

    def filter(self, queryset: QuerySet, tenant_path: str = "tenant") -> QuerySet:
        """Rows whose tenant (reached by ``tenant_path``) this key may see."""
        if tenant_path == "pk":
            return queryset.filter(pk__in=self.tenant_ids())
        return queryset.filter(**{f"{tenant_path}__in": self.tenant_ids()})

    def filter_owned(self, queryset: QuerySet) -> QuerySet:
        """Rows owned by a partner or a tenant (API keys, webhook subscriptions)."""
        if self.is_partner:
            return queryset.filter(Q(partner_id=self.partner_id) | Q(tenant__in=self.tenant_ids()))
        return queryset.filter(tenant_id=self.tenant_id)

    def refuse_unless_manager(self, subscription: WebhookSubscription) -> None:
        """403 for a tenant admin's key on a webhook subscription its partner made for the tenant: the
        partner's integration, which the key may read (so its existence is no secret) but not manage. Call it
        on a subscription this scope can see (``filter_owned``)."""
        if not self.is_partner and subscription.managed_by != WebhookSubscription.ManagedBy.TENANT:
            raise exceptions.PermissionDenied(
                "This subscription is managed by the partner: a tenant admin's key may read it, not change it."
            )


def scope_of(request) -> Scope | None:
    """The caller's scope; None without an API key (e.g. while the OpenAPI document is built).

    Read from ``request.user`` because DRF copies the user into the requests it clones (OPTIONS metadata).
    """
    return getattr(getattr(request, "user", None), "scope", None)


class ApiClient:
    """``request.user`` of an API call: the key's owner, never a Django user."""

    is_authenticated = True
    is_anonymous = False
    is_staff = is_superuser = False

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.scope = Scope(key)

    def __str__(self) -> str:
        return f"API key {self.key.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer sb_…``. Revoked keys, and keys of inactive partners or tenants, are refused."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, plaintext = header.partition(" ")
        if keyword.lower() != self.keyword.lower() or not plaintext.strip():
            raise exceptions.AuthenticationFailed("Send the API key as 'Authorization: Bearer <key>'.")
        key = ApiKey.authenticate(plaintext.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("This API key is unknown or revoked.")
        owner = key.partner if key.partner_id else key.tenant
        if not owner.active:
            raise exceptions.AuthenticationFailed(
                f"The {'partner' if key.partner_id else 'tenant'} is inactive."
            )
        refusal = key.issuer_refusal()
        if refusal:
            raise exceptions.AuthenticationFailed(refusal)
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return ApiClient(key), key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'  # makes DRF answer 401, not 403, without a key


class ApiKeySchema(OpenApiAuthenticationExtension):
    target_class = "portal.api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A partner or tenant API key (sb_…), shown once when it is created.",
        }
