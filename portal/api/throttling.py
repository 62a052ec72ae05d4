"""Rate limits per API key (429 with Retry-After), counted in the shared cache.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` and are read on each request, so a test or
a deployment can change them without a restart of the class definitions.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Every request of a key. Anonymous callers (who get 401 anyway) are counted by address."""

    scope = "partner_api"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        key = getattr(request.user, "key", None)
        # The key's random lookup, not its id: ids come back after a rollback, lookups do not.
        ident = f"key:{key.lookup}" if key is not None else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class SendRateThrottle(ApiKeyRateThrottle):
    """Sends to customers, on top of the general limit: they cost the tenant money at the provider."""

    scope = "partner_api_send"
