"""Which adapter serves a provider account: ``SWITCHBOARD_PROVIDERS`` maps ``ProviderAccount.provider`` to a
:class:`~relay.providers.base.Provider` subclass by dotted path.

Adding a provider is a package (``relay/providers/<name>/``, or anywhere importable) and one entry in the
setting: the webhook view, the senders, the wizard, the partner API and the handover importer all ask here,
and nothing else names a provider.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import Provider


def get_provider(name: str) -> Provider:
    """The adapter for ``name``; LookupError when this installation has none."""
    path = settings.SWITCHBOARD_PROVIDERS.get(name)
    if path is None:
        raise LookupError(f"no adapter for provider {name!r}")
    return _adapter(path)


@cache
def _adapter(path: str) -> Provider:
    # Adapters keep no state of their own (each call gets its account): one instance per class serves all.
    adapter_class = import_string(path)
    if not (isinstance(adapter_class, type) and issubclass(adapter_class, Provider)):
        raise ImproperlyConfigured(f"SWITCHBOARD_PROVIDERS: {path} is not a relay.providers.base.Provider")
    return adapter_class()
