"""Many tenants at once: sandbox orgs and Infobip accounts (control API) and Switchboard rows (the DB).

Tenant ``i`` is org ``00D8d0000B<i:05d>``, Infobip account ``bench-<i>`` with one WhatsApp sender
``+447860<i:06d>``; its agent ``ada@bench<i>.test`` is online. Customers are numbered per scenario so
runs in the same sandbox never share a conversation.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass

import httpx

CHANNEL_NAMESPACE = uuid.UUID("0b1e9c2a-7f7b-4f39-9c1d-5b2f2b9e7a10")
PLATFORM_EVENT = "Switchboard_Interaction__e"
CHANNEL_DEFINITION = "Switchboard_Messaging"
# Croatian mobile prefixes (091, 092, 095, 097, 098, 099): one per scenario keeps customers apart.
CUSTOMER_PREFIXES = ("38591", "38592", "38595", "38597", "38598", "38599")


@dataclass(frozen=True)
class BenchTenant:
    index: int
    org_id15: str
    slug: str
    account_key: str
    api_key: str
    webhook_secret: str
    sender: str  # digits, as Infobip writes it
    channel_address_identifier: str
    consumer_key: str
    integration_user: str
    agent_user: str

    def as_dict(self) -> dict:
        return asdict(self)


def bench_tenant(index: int) -> BenchTenant:
    return BenchTenant(
        index=index,
        org_id15=f"00D8d0000B{index:05d}",
        slug=f"bench-{index}",
        account_key=f"bench-{index}",
        api_key=f"bench-infobip-key-{index}",
        webhook_secret=f"bench-webhook-secret-{index}",
        sender=f"447860{index:06d}",
        channel_address_identifier=str(uuid.uuid5(CHANNEL_NAMESPACE, str(index))),
        consumer_key=f"3MVG9benchConsumerKey{index}",
        integration_user=f"integration@bench{index}.test",
        agent_user=f"ada@bench{index}.test",
    )


def customer(scenario: int, conversation: int) -> str:
    return f"{CUSTOMER_PREFIXES[scenario % len(CUSTOMER_PREFIXES)]}{conversation:07d}"


def sandbox_fixture(tenants: list[BenchTenant], certificate_pem: str, webhook_base: str) -> dict:
    orgs, accounts = [], []
    for t in tenants:
        orgs.append(
            {
                "org_id": t.org_id15,
                "name": f"Bench {t.index}",
                "my_domain": f"bench{t.index}",
                "api_request_limit": 100_000_000,
                "users": [
                    {"username": t.integration_user, "name": "Switchboard Integration"},
                    {"username": t.agent_user, "name": f"Ada {t.index}", "agent": True, "online": True},
                ],
                "queues": [{"name": "Support", "developer_name": "Support"}],
                "connected_apps": [
                    {
                        "consumer_key": t.consumer_key,
                        "consumer_secret": f"bench-canvas-secret-{t.index}",
                        "preauthorized": [t.integration_user],
                        "certificate_pem": certificate_pem,
                    }
                ],
                "platform_events": [
                    {
                        "api_name": PLATFORM_EVENT,
                        "fields": {"EventType__c": "Text", "Payload__c": "LongTextArea"},
                    }
                ],
                "channel_definitions": [
                    {"developer_name": CHANNEL_DEFINITION, "platform_event": PLATFORM_EVENT}
                ],
                "messaging_channels": [
                    {
                        "developer_name": f"Bench_WhatsApp_{t.index}",
                        "channel_address_identifier": t.channel_address_identifier,
                        "channel_definition": CHANNEL_DEFINITION,
                        "queue": "Support",
                    }
                ],
            }
        )
        accounts.append(
            {
                "key": t.account_key,
                "name": f"Bench {t.index}",
                "subdomain": f"bench{t.index}",
                "api_keys": [t.api_key],
                "senders": [{"address": t.sender, "channels": ["WHATSAPP"], "name": f"Bench {t.index}"}],
                "webhook": {
                    "url": f"{webhook_base}/webhooks/infobip/{t.account_key}/",
                    "auth": {"type": "HMAC", "secret": t.webhook_secret},
                },
                "settings": {"dlr_outcome": "DELIVERED_SEEN", "dlr_delay": 0.5, "seen_delay": 1.0},
            }
        )
    return {"orgs": orgs, "infobip": {"accounts": accounts}}


def load_into_sandbox(sandbox_url: str, fixture: dict) -> None:
    # In slices, so one request never holds the sandbox's loop for long.
    for start in range(0, len(fixture["orgs"]), 20):
        part = {
            "orgs": fixture["orgs"][start : start + 20],
            "infobip": {"accounts": fixture["infobip"]["accounts"][start : start + 20]},
        }
        response = httpx.post(f"{sandbox_url}/__sim/fixture", json=part, timeout=60)
        response.raise_for_status()


def create_in_switchboard(tenants: list[BenchTenant], sandbox_url: str, private_key: str, certificate: str):
    """The Switchboard side, written straight to the database (as a partner's provisioning would)."""
    from django.db import transaction

    from tenants.models import ProviderAccount, RoutingRule, SalesforceConnection, Sender, Tenant

    with transaction.atomic():
        for t in tenants:
            tenant = Tenant.objects.create(name=f"Bench {t.index}", slug=t.slug, org_id=t.org_id15)
            SalesforceConnection.objects.create(
                tenant=tenant,
                login_url=f"{sandbox_url}/sim/login",
                instance_url=f"{sandbox_url}/sim/core",
                scrt_url=f"{sandbox_url}/sim/scrt",
                consumer_key=t.consumer_key,
                integration_username=t.integration_user,
                authorization_context=CHANNEL_DEFINITION,
                platform_event=PLATFORM_EVENT,
                private_key=private_key,
                certificate=certificate,
            )
            account = ProviderAccount(
                tenant=tenant,
                name=f"Bench {t.index}",
                base_url=f"{sandbox_url}/sim/infobip",
                api_key=t.api_key,
                webhook_key=t.account_key,
                webhook_auth=ProviderAccount.WebhookAuth.HMAC,
                webhook_secret=t.webhook_secret,
            )
            account.save()
            sender = Sender.objects.create(
                tenant=tenant,
                account=account,
                channel=Sender.Channel.WHATSAPP,
                address=f"+{t.sender}",
                channel_address_identifier=t.channel_address_identifier,
                display_name=f"Bench {t.index}",
            )
            RoutingRule.objects.create(tenant=tenant, sender=sender, target_type=RoutingRule.Target.CHANNEL)


def key_pair() -> tuple[str, str]:
    from tenants.certificates import generate_key_pair

    private_key, certificate = generate_key_pair("Switchboard bench")
    return str(private_key), certificate
