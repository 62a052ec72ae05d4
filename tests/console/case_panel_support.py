"""A Cases-desk tenant with one conversation on a Case, and Canvas sign-in on a Case record page, for the
Case panel's console tests (no sandbox: the signed request is made here as Salesforce shapes it)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from relay.desks.cases_models import CaseLink
from relay.models import Conversation, Message
from tenants.models import ProviderAccount, SalesforceConnection, Tenant
from tenants.validators import salesforce_id_checksum
from tests.factories import ORG_A, make_account, make_sender, make_tenant

SECRET_A = "acme-canvas-secret"
SECRET_B = "globex-canvas-secret"
AGENT = "0058d00000AgEnT"


def id18(id15: str) -> str:
    return id15 + salesforce_id_checksum(id15)


CASE_A = id18("5008d00000CaSe1")
CASE_A2 = id18("5008d00000CaSe2")
CASE_B = id18("5008d00000GlbX1")


@dataclass
class CaseWorld:
    tenant: Tenant
    conversation: Conversation
    link: CaseLink


def case_world(*, name="Acme", org_id=ORG_A, secret=SECRET_A, case_id=CASE_A, customer="+385919990001",
               customer_name="Frank", channel="whatsapp", inbound_ago=timedelta(minutes=5)) -> CaseWorld:  # fmt: skip
    tenant = Tenant.objects.filter(slug=name.lower()).first() or make_tenant(name, org_id)
    if not hasattr(tenant, "salesforce"):
        SalesforceConnection.objects.create(
            tenant=tenant, canvas_consumer_secret=secret, desk=SalesforceConnection.Desk.CASES
        )
    account = ProviderAccount.objects.filter(tenant=tenant).first() or make_account(tenant)
    address = {"whatsapp": "+447860099299", "sms": "+447860099298", "viber": "AcmeViber"}[channel]
    sender = account.senders.filter(channel=channel, address=address).first() or make_sender(
        account, address, channel=channel
    )
    conversation, _ = Conversation.objects.get_or_create(
        tenant=tenant,
        sender=sender,
        customer=customer,
        defaults={
            "customer_name": customer_name,
            "last_inbound_at": timezone.now() - inbound_ago if inbound_ago is not None else None,
        },
    )
    link = CaseLink.objects.create(
        tenant=tenant, conversation=conversation, case_id=case_id, case_number="00001026", subject="Help",
        status="New",
    )  # fmt: skip
    return CaseWorld(tenant, conversation, link)


def add_message(world: CaseWorld, text: str, *, direction="in", status="delivered", **extra) -> Message:
    sequence = Message.objects.filter(conversation=world.conversation, direction=direction).count() + 1
    fields = {
        "tenant": world.tenant,
        "conversation": world.conversation,
        "direction": direction,
        "sequence": sequence,
        "kind": "text",
        "text": text,
        "content": {"kind": "text", "text": text},
        "provider": "infobip",
        "provider_message_id": secrets.token_hex(8),
        "status": status,
        "expires_at": timezone.now() + timedelta(days=1),
    }
    fields.update(extra)
    return Message.objects.create(**fields)


def signed_request(*, org_id=ORG_A, secret=SECRET_A, record="", user=AGENT, name="Ada Agent") -> str:
    """A CanvasRequest as Salesforce posts it to the Canvas URL from a record page (the guide's shape)."""
    environment = {"parameters": {"page": "case"}, "displayLocation": "Aura"}
    if record:
        environment["record"] = {"attributes": {"type": "Case"}, "Id": record}
    envelope = {
        "context": {
            "user": {"userId": id18(user) if len(user) == 15 else user, "fullName": name},
            "organization": {"organizationId": org_id},
            "environment": environment,
        },
        "client": {
            "instanceUrl": "https://acme.my.salesforce.com",
            "targetOrigin": "https://acme.lightning.force.com",
        },
        "algorithm": "HMACSHA256",
        "userId": id18(user) if len(user) == 15 else user,
        "issuedAt": -secrets.randbelow(2**31 - 1) - 1,  # opaque, as real orgs send; unique per request
    }
    encoded = base64.b64encode(json.dumps(envelope).encode()).decode()
    signature = base64.b64encode(
        hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest()
    ).decode()
    return f"{signature}.{encoded}"


def open_panel(client: Client, **kwargs):
    return client.post("/console/canvas/case/", {"signed_request": signed_request(**kwargs)})


def token_of(response) -> str:
    match = re.search(r'"X-Console-Token": "([^"]+)"', response.content.decode())
    assert match, response.content.decode()[:500]
    return match.group(1)


def headers(token: str) -> dict:
    """What session.js and htmx send from one of our pages."""
    return {"HTTP_X_CONSOLE_TOKEN": token, "HTTP_SEC_FETCH_SITE": "same-origin", "HTTP_HX_REQUEST": "true"}


def feed_of(response) -> dict:
    """The JSON the page starts from (its json_script), decoded as the browser does."""
    match = re.search(
        r'<script id="case-feed" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    assert match, response.content.decode()[:800]
    return json.loads(match.group(1))
