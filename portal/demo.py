"""The demo tenant: an org and an Infobip account wired to the sandbox's demo fixture.

Its values match ``sandbox/fixtures/demo.json``: the same org id, Connected App, channel definition,
platform event, Messaging channels and Infobip account. Idempotent: running it twice changes nothing.
"""

from __future__ import annotations

import httpx
from django.db import transaction

from tenants.certificates import generate_key_pair
from tenants.models import (
    Membership,
    ProviderAccount,
    RoutingRule,
    SalesforceConnection,
    Sender,
    Tenant,
    User,
)

DEMO_PASSWORD = "switchboard-demo"
DEMO_ORG_ID = "00D8d000000AcmE"
DEMO_CONSUMER_KEY = "3MVG9demoSwitchboardConsumerKey"
DEMO_INTEGRATION_USER = "integration@acme.demo"
# The sandbox org's admin: acme-admin opens the wizard as this user. A constant: no outside input in the SOQL.
ADMIN_USER_SOQL = "SELECT Id FROM User WHERE Username = 'admin@acme.demo'"
DEMO_CANVAS_SECRET = "demo-canvas-consumer-secret"
DEMO_SENDERS = [
    ("whatsapp", "+447860099299", "6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a01"),
    ("sms", "+447491163443", "6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a02"),
    ("viber", "AcmeViber", "6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a03"),
]


@transaction.atomic
def ensure_demo_tenant(sandbox_url: str) -> Tenant:
    tenant = Tenant.objects.filter(org_id__startswith=DEMO_ORG_ID).first()
    if tenant is None:
        tenant = Tenant(
            name="Acme Support (demo)",
            slug="acme-demo",
            org_id=DEMO_ORG_ID,
            welcome_text="Hi! You are talking to Acme Support. An agent will be with you shortly.",
            closing_text="Thanks for contacting Acme. This conversation is now closed.",
            no_agent_text="All our agents are busy right now; we will answer as soon as one is free.",
        )
        tenant.full_clean()
        tenant.save()
    connection, _ = SalesforceConnection.objects.get_or_create(
        tenant=tenant,
        defaults={
            "login_url": f"{sandbox_url}/sim/login",
            "instance_url": f"{sandbox_url}/sim/core",
            "scrt_url": f"{sandbox_url}/sim/scrt",
            "consumer_key": DEMO_CONSUMER_KEY,
            "integration_username": DEMO_INTEGRATION_USER,
            "authorization_context": "Switchboard_Messaging",
            "platform_event": "Switchboard_Interaction__e",
            "canvas_consumer_secret": DEMO_CANVAS_SECRET,
            "chat_api_endpoint": f"{sandbox_url}/sim/livechat/chat/rest/",
        },
    )
    if not connection.private_key:
        connection.private_key, connection.certificate = generate_key_pair("Switchboard acme-demo")
        connection.save()
    account = ProviderAccount.objects.filter(tenant=tenant, webhook_key="demo-account-key").first()
    if account is None:
        account = ProviderAccount(
            tenant=tenant,
            name="Acme Infobip (sandbox)",
            base_url=f"{sandbox_url}/sim/infobip",
            api_key="demo-infobip-api-key",
            webhook_key="demo-account-key",
            webhook_auth=ProviderAccount.WebhookAuth.HMAC,
            webhook_secret="demo-webhook-secret",
        )
        account.save()
    for channel, address, cai in DEMO_SENDERS:
        display_name = demo_sender_name(channel)
        sender, created = Sender.objects.get_or_create(
            tenant=tenant,
            account=account,
            channel=channel,
            address=address,
            defaults={"channel_address_identifier": cai, "display_name": display_name},
        )
        if sender.display_name == f"Acme {channel}":  # the lower-case name earlier demos stored
            Sender.objects.filter(pk=sender.pk).update(display_name=display_name)
        if created:
            RoutingRule.objects.create(tenant=tenant, sender=sender, target_type=RoutingRule.Target.CHANNEL)
    _ensure_user("admin", superuser=True)
    tenant_admin = _ensure_user("acme-admin", superuser=False)
    Membership.objects.get_or_create(
        user=tenant_admin, tenant=tenant, defaults={"role": Membership.Role.ADMIN}
    )
    return tenant


def demo_sender_name(channel: str) -> str:
    """ "Acme WhatsApp", "Acme SMS", "Acme Viber": the channel as people write it."""
    return f"Acme {Sender.Channel(channel).label}"


def _ensure_user(username: str, *, superuser: bool) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, is_staff=True, is_superuser=superuser, email=f"{username}@acme.demo")
        user.set_password(DEMO_PASSWORD)
        user.save()
    return user


def register_certificate_with_sandbox(
    tenant: Tenant, sandbox_url: str, app_url: str = "http://127.0.0.1:8000"
) -> None:
    """Do what the admin does by hand in Salesforce: upload our certificate to the Connected App."""
    connection = tenant.salesforce
    response = httpx.post(
        f"{sandbox_url}/__sim/orgs/{tenant.org_id}/connected-apps",
        json={
            "consumer_key": connection.consumer_key,
            "consumer_secret": str(connection.canvas_consumer_secret),
            "certificate_pem": connection.certificate,
            "preauthorized": [connection.integration_username],
            "canvas_url": f"{app_url.rstrip('/')}/console/canvas/",
        },
        timeout=10,
    )
    response.raise_for_status()


def register_capabilities(tenant: Tenant) -> None:
    """Register the demo channel's capabilities with the sandbox's Interaction Service, as saving the
    wizard's channel step does, so the demo's agents can send buttons, lists and forms."""
    from portal.console.wizard.checks import register_and_record_capabilities

    outcome = register_and_record_capabilities(tenant)
    if not outcome.ok:
        raise RuntimeError(f"registering the demo channel's capabilities failed: {outcome.message}")


def link_demo_admin_to_salesforce(tenant: Tenant) -> None:
    """Give ``acme-admin`` the Salesforce user id of the org's admin, as a tenant admin does once, so the
    wizard opens for that user from the Canvas launcher. Asked of the org (the sandbox) through the REST
    API as the integration user, like any Salesforce lookup."""
    from relay.salesforce.rest import SalesforceRest

    rows = SalesforceRest(tenant.salesforce).query(ADMIN_USER_SOQL)
    if rows:
        Membership.objects.filter(tenant=tenant, user__username="acme-admin").update(
            salesforce_user_id=rows[0]["Id"]
        )
