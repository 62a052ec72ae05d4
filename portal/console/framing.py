"""Which origins may frame a tenant's console pages: its own Salesforce domains, nothing else."""

from __future__ import annotations

from urllib.parse import urlsplit

from tenants.models import Tenant


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


def frame_ancestors_for(tenant: Tenant) -> str:
    connection = getattr(tenant, "salesforce", None)
    origins = salesforce_origins(connection.instance_url) if connection else []
    return " ".join(["'self'", *origins])
