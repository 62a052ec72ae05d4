"""Shared by the template panel's tests: the demo tenant in the sandbox, a Messaging Session with a contact
and a case, a second tenant, and a template that has every kind of value."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from portal.console.session import ConsoleSession
from portal.demo import ensure_demo_tenant, register_certificate_with_sandbox
from relay.models import Conversation
from relay.salesforce.interactions import InteractionClient, now_ms
from relay.salesforce.rest import SalesforceRest
from tenants.models import Sender
from tenants.validators import normalize_salesforce_id
from tests.factories import ORG_B, make_account, make_sender, make_tenant

ROOT = Path(__file__).resolve().parents[2]
DEMO_FIXTURE = json.loads((ROOT / "sandbox" / "fixtures" / "demo.json").read_text())
WHATSAPP = "+447860099299"
CUSTOMER = "+385919998888"
OTHER_TENANTS_SESSION = normalize_salesforce_id("0Mw8d0000000Glb")  # Globex's org's, not Acme's
ADA = "0058d000000AdaAAAE"

# Every kind of value at once: a media header, a body placeholder, a dynamic URL button and a quick reply.
DELIVERY_UPDATE = {
    "name": "delivery_update",
    "language": "en",
    "status": "APPROVED",
    "category": "UTILITY",
    "structure": {
        "header": {"format": "IMAGE", "example": "https://cdn.example.com/parcel.jpg"},
        "body": {"text": "Hi {{1}}, your parcel is at the depot.", "examples": ["Maria"]},
        "footer": {"text": "Acme Store"},
        "buttons": [
            {
                "type": "URL",
                "text": "Track parcel",
                "url": "https://track.example.com/{{1}}",
                "example": "https://track.example.com/10234",
            },
            {"type": "QUICK_REPLY", "text": "Call me"},
            {"type": "PHONE_NUMBER", "text": "Call us", "phoneNumber": "+447860099299"},
        ],
        "type": "MEDIA",
    },
}


def demo_tenant(sandbox):
    """The demo org and Infobip account in the sandbox, and the demo tenant pointing at them."""
    sandbox.call(sandbox.world.load_fixture, DEMO_FIXTURE)
    tenant = ensure_demo_tenant(sandbox.base_url)
    register_certificate_with_sandbox(tenant, sandbox.base_url)
    return tenant


def add_template(sim, spec: dict = DELIVERY_UPDATE, sender: str = WHATSAPP) -> dict:
    response = sim.post(
        "/__sim/infobip/accounts/demo-account-key/templates", json={**spec, "sender": sender.lstrip("+")}
    )
    assert response.status_code == 201, response.text
    return response.json()


def open_messaging_session(tenant, customer: str = CUSTOMER) -> str:
    """The customer's first message makes a Messaging Session (what the relay does); returns its id."""
    sender = Sender.objects.get(tenant=tenant, channel="whatsapp")
    answer = InteractionClient(tenant.salesforce).send_text(
        sender.channel_address_identifier,
        customer,
        "Hello, where is my parcel?",
        entry_id=str(uuid.uuid4()),
        timestamp_ms=now_ms(),
    )
    return answer["workItemIds"][0]


def link_contact_and_case(tenant, session_id: str) -> dict:
    """What an agent or a flow does in Salesforce: a contact and a case on the session."""
    rest = SalesforceRest(tenant.salesforce)
    contact = rest.create(
        "Contact", {"FirstName": "Frank", "LastName": "Ocean", "Email": "frank@example.com"}
    )
    case = rest.create("Case", {"Subject": "Parcel not arrived", "Status": "New", "ContactId": contact})
    rest.update("MessagingSession", session_id, {"EndUserContactId": contact, "CaseId": case})
    number = rest.query(f"SELECT CaseNumber FROM Case WHERE Id = '{case}'")[0]["CaseNumber"]  # noqa: S608
    return {"contact": contact, "case": case, "case_number": number}


def globex():
    """A second tenant with its own WhatsApp sender, and a conversation on its Messaging Session."""
    tenant = make_tenant("Globex", ORG_B)
    sender = make_sender(make_account(tenant), address="+447491163443")
    Conversation.objects.create(
        tenant=tenant, sender=sender, customer=CUSTOMER, messaging_session_id=OTHER_TENANTS_SESSION
    )
    return tenant, sender


def token(tenant, record_id: str = "", *, user_id: str = ADA, name: str = "Ada Agent") -> str:
    return ConsoleSession(tenant_id=tenant.pk, user_id=user_id, user_name=name, record_id=record_id).token()
