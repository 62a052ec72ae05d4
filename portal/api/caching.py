"""Nothing the partner API answers is kept by a cache between it and the caller.

Its answers are a tenant's private data, and some carry a secret shown once (a new API key, a webhook signing
secret, a provider account's webhook credentials): a proxy, a CDN or the browser's disk cache must not keep a
copy. One middleware says so on every answer under ``/api/``, errors included, so no endpoint can forget it.
"""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers

API_PREFIX = "/api/"


class ApiNoStoreMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(API_PREFIX):
            add_never_cache_headers(response)  # Cache-Control: max-age=0, no-cache, no-store, ..., private
        return response
