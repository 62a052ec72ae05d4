"""Fixtures of the partner API tests: two partners with a full set of objects each, keys, and a client."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from portal.api.models import WebhookDelivery, WebhookSubscription
from portal.demo import ensure_demo_tenant, register_certificate_with_sandbox
from relay.models import Conversation, Message
from tenants.certificates import generate_key_pair
from tenants.models import ApiKey, Partner, RoutingRule, SalesforceConnection, Tenant
from tests.factories import make_account, make_sender, make_tenant

ROOT = Path(__file__).resolve().parents[2]
DEMO_FIXTURE = json.loads((ROOT / "sandbox" / "fixtures" / "demo.json").read_text())


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate limits count per partner id (portal/api/throttling.py), and SQLite hands the same ids to every
    test's partners: each test starts with no requests counted."""
    cache.clear()


def api(key: str | None = None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@dataclass
class Estate:
    """Everything one tenant has, one row of each kind the API serves."""

    tenant: Tenant
    connection: SalesforceConnection
    account: object
    sender: object
    rule: RoutingRule
    conversation: Conversation
    message: Message
    subscription: WebhookSubscription
    delivery: WebhookDelivery
    key_record: ApiKey
    key: str


def make_message(conversation: Conversation, *, sequence: int = 1, **extra) -> Message:
    now = timezone.now()
    fields = {
        "tenant": conversation.tenant,
        "conversation": conversation,
        "direction": Message.Direction.INBOUND,
        "sequence": sequence,
        "kind": "text",
        "text": "Hello",
        "provider": "infobip",
        "provider_message_id": f"pm-{conversation.pk}-{sequence}-{extra.get('direction', 'in')}",
        "status": Message.Status.DELIVERED,
        "expires_at": now + timedelta(days=3),
    }
    fields.update(extra)
    return Message.objects.create(**fields)


@functools.cache
def estate_key_pair() -> tuple[str, str]:
    """One RSA key pair for every estate of the run: generating one takes 0.1 to 1 s of CPU, and the world
    of each API test had three. (The API's own key generation is tested by creating a connection.)"""
    return generate_key_pair("Switchboard API tests")


def build_estate(partner: Partner, name: str, org_id: str, number: str) -> Estate:
    tenant = make_tenant(name, org_id, partner=partner)
    private_key, certificate = estate_key_pair()
    connection = SalesforceConnection.objects.create(
        tenant=tenant,
        instance_url="https://example.my.salesforce.com",
        consumer_key="ck",
        integration_username="int@example.com",
        private_key=private_key,
        certificate=certificate,
    )
    account = make_account(tenant)
    sender = make_sender(account, number, channel_address_identifier=f"cai-{name}")
    rule = RoutingRule.objects.create(tenant=tenant, sender=sender, target_type=RoutingRule.Target.CHANNEL)
    conversation = Conversation.objects.create(
        tenant=tenant, sender=sender, customer="+385919998888", last_inbound_at=timezone.now()
    )
    message = make_message(conversation)
    subscription = WebhookSubscription(tenant=tenant, url="https://hooks.example.com/sb")
    subscription.rotate_secret()
    subscription.save()
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, tenant=tenant, event="ping", payload={"type": "ping"}
    )
    key_record, key = ApiKey.issue(name=f"{name} admin", tenant=tenant)
    return Estate(
        tenant,
        connection,
        account,
        sender,
        rule,
        conversation,
        message,
        subscription,
        delivery,
        key_record,
        key,
    )


@dataclass
class World:
    partner_a: Partner
    partner_b: Partner
    a1: Estate
    a2: Estate  # a second tenant of partner A: a1's tenant key must not reach it
    b: Estate
    key_a: str
    key_b: str
    key_a_record: ApiKey


@pytest.fixture
def world(db) -> World:
    partner_a = Partner.objects.create(name="Alpha Partner", slug="alpha")
    partner_b = Partner.objects.create(name="Beta Partner", slug="beta")
    a1 = build_estate(partner_a, "Alpha One", "00D8d000000A1aA", "+447860011111")
    a2 = build_estate(partner_a, "Alpha Two", "00D8d000000A2aA", "+447860022222")
    b = build_estate(partner_b, "Beta One", "00D8d000000B1bB", "+447860033333")
    key_a_record, key_a = ApiKey.issue(name="alpha key", partner=partner_a)
    _, key_b = ApiKey.issue(name="beta key", partner=partner_b)
    return World(partner_a, partner_b, a1, a2, b, key_a, key_b, key_a_record)


@pytest.fixture
def wired(db, sim, sandbox):
    """The demo tenant (an org and an Infobip account in the sandbox), run by partner ``alpha``, and its key."""
    sim.post("/__sim/fixture", json=DEMO_FIXTURE).raise_for_status()
    tenant = ensure_demo_tenant(sandbox.base_url)
    register_certificate_with_sandbox(tenant, sandbox.base_url)
    partner, _ = Partner.objects.get_or_create(slug="alpha", defaults={"name": "Alpha Partner"})
    Tenant.objects.filter(pk=tenant.pk).update(partner=partner)
    _, key = ApiKey.issue(name="alpha key", partner=partner)
    tenant.refresh_from_db()
    return tenant, key
