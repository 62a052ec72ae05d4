"""A stored secret is sent only to the address it was entered for.

Secrets are write-only: an admin or a partner can replace an API key but never read it back. A form that
keeps the stored key when its field is left empty would otherwise let anyone who may edit the account read
it after all: point the API base URL at a server of their own, leave the key empty, and the next call (the
wizard's key check, a send, a sync) carries the key there. An account's key may be shared (a partner's one
provider account behind many tenants), so that would reach past the account. Changing where the key goes
therefore needs the key again, in the same change.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# model label → {secret field: the URL field that says where it is sent}
SENT_TO = {"tenants.ProviderAccount": {"api_key": "base_url"}}


def address_field(model, secret_name: str) -> str:
    """The field naming where ``model``'s secret ``secret_name`` is sent, or "" if it is not sent."""
    return SENT_TO.get(model._meta.label, {}).get(secret_name, "")


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) as a browser compares origins; the default port counts as given."""
    parts = urlsplit((url or "").strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"https": 443, "http": 80}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port or default


def stored_key_refusal(stored_base_url: str, new_base_url: str) -> str:
    """Why the stored API key may not go to ``new_base_url`` without being entered again, or ""."""
    if not stored_base_url or origin(stored_base_url) == origin(new_base_url):
        return ""
    return (
        "Enter the API key again: it was saved for "
        f"{stored_base_url[:100]}, and Switchboard sends a saved key only to the address it was entered for."
    )
