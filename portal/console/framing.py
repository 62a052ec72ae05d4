"""Which origins may frame a tenant's console pages: its own Salesforce domains, nothing else."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from tenants.models import Tenant
from tenants.validators import validate_browser_url


def salesforce_origins(instance_url: str) -> list[str]:
    """``https://acme.my.salesforce.com`` → the hosts a Lightning console page of that org lives on."""
    parts = urlsplit(instance_url or "")
    if not parts.scheme or not parts.hostname:
        return []
    origin = f"{parts.scheme}://{parts.netloc}"
    host = parts.hostname
    if host.endswith(".my.salesforce.com"):
        domain = host.removesuffix(".my.salesforce.com")
        return [
            origin,
            f"https://{domain}.lightning.force.com",
            f"https://{domain}--c.vf.force.com",
            f"https://{domain}.my.salesforce-setup.com",
        ]
    return [origin]  # the sandbox, or an instance URL we cannot expand


def origin_of(url: str) -> str:
    """``https://acme.lightning.force.com/one/one.app`` → ``https://acme.lightning.force.com``; "" if unsafe."""
    try:
        validate_browser_url(url or "")  # a browser's page, not a URL we call: no egress rules
    except ValidationError:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def frame_ancestors_for(tenant: Tenant, extra_origins: tuple[str, ...] | list[str] = ()) -> str:
    """The CSP ``frame-ancestors`` sources: ourselves, the tenant's Salesforce domains, and the origins the
    verified signed request named (so a tenant whose My Domain is not saved yet can still run the wizard)."""
    connection = getattr(tenant, "salesforce", None)
    origins = salesforce_origins(connection.instance_url) if connection else []
    for url in extra_origins:
        for origin in salesforce_origins(origin_of(url)):
            if origin not in origins:
                origins.append(origin)
    return " ".join(["'self'", *origins])
