"""Small builders for test data (two tenants, their accounts and senders)."""

from __future__ import annotations

from tenants.models import Membership, ProviderAccount, Sender, Tenant, User

ORG_A = "00D8d000000AcmE"
ORG_B = "00D8d000000GlbX"


def make_tenant(name: str = "Acme", org_id: str = ORG_A, **extra) -> Tenant:
    tenant = Tenant(name=name, slug=name.lower().replace(" ", "-"), org_id=org_id, **extra)
    tenant.full_clean()
    tenant.save()
    return tenant


def make_account(tenant: Tenant, **extra) -> ProviderAccount:
    fields = {
        "name": f"{tenant.name} Infobip",
        "base_url": "https://abcd12.api.infobip.com",
        "api_key": "ib-key-1234",
    }
    fields.update(extra)
    account = ProviderAccount(tenant=tenant, **fields)
    account.rotate_webhook_credentials()
    account.save()
    return account


def make_sender(
    account: ProviderAccount, address: str = "+447860099299", channel: str = "whatsapp", **extra
) -> Sender:
    sender = Sender(tenant=account.tenant, account=account, channel=channel, address=address, **extra)
    sender.full_clean()
    sender.save()
    return sender


def make_tenant_admin(tenant: Tenant, username: str, password: str = "correct-horse-battery") -> User:
    user = User.objects.create_user(username=username, password=password, is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.ADMIN)
    return user
