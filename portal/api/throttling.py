"""Rate limits per partner (429 with Retry-After), counted in the shared cache.

Keys are free to mint (a partner issues its own, a tenant admin's key issues more for its tenant), so a
limit per key would be no limit: every key of a partner, and of the tenants it runs, draws on the
partner's one budget; a tenant without a partner has its own.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` and are read on each request, so a test or
a deployment can change them without a restart of the class definitions.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Every request of a partner's keys. Anonymous callers (who get 401 anyway) are counted by address."""

    scope = "partner_api"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        key = getattr(request.user, "key", None)
        ident = owner_of(key) if key is not None else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


def owner_of(key) -> str:
    """Who pays for a key's requests: its partner, its tenant's partner, or else its tenant."""
    if key.partner_id is not None:
        return f"partner:{key.partner_id}"
    partner_id = key.tenant.partner_id  # loaded with the key when it was authenticated
    return f"partner:{partner_id}" if partner_id is not None else f"tenant:{key.tenant_id}"


class SendRateThrottle(ApiKeyRateThrottle):
    """Sends to customers, on top of the general limit: they cost the tenant money at the provider."""

    scope = "partner_api_send"
