"""Helpers for the Enhanced Chat desk tests: an org with an Enhanced Chat deployment in the sandbox, a tenant on
the Enhanced Chat desk pointed at it, and the agent's side through the sandbox console's API."""

from __future__ import annotations

import time

from django.utils import timezone

from relay.models import Conversation, Message
from tenants.models import SalesforceConnection
from tests.factories import make_account, make_sender, make_tenant

ORG_ID = "00D8d000000EnCh"
DEPLOYMENT = "Switchboard_Chat"
PRECHAT_FIELDS = [
    "Switchboard_Phone",
    "Switchboard_Channel",
    "Switchboard_Name",
    "Switchboard_QueueId",
    "Switchboard_AgentId",
    "Switchboard_FallbackType",
    "Switchboard_FallbackId",
    "Brand",
]


def org_spec(**deployment) -> dict:
    return {
        "org_id": ORG_ID,
        "name": "Chatty Enhanced",
        "my_domain": "chatty",
        "users": [
            {"username": "ada@chatty.test", "name": "Ada Agent", "agent": True, "online": True},
            {"username": "linus@chatty.test", "name": "Linus Agent", "agent": True, "online": True},
        ],
        "queues": [
            {"name": "Support", "developer_name": "Support"},
            {"name": "Sales", "developer_name": "Sales"},
        ],
        "enhanced_chat": {
            "deployments": [
                {
                    "developer_name": DEPLOYMENT,
                    "queue": "Support",
                    "prechat_fields": PRECHAT_FIELDS,
                    **deployment,
                }
            ]
        },
    }


class Org:
    """The sandbox org and its agents, driven through the console API."""

    def __init__(self, sim, **deployment) -> None:
        self.sim = sim
        response = sim.post("/__sim/orgs", json=org_spec(**deployment))
        assert response.status_code == 201, response.text
        users = {u["username"]: u["id"] for u in sim.get(self.api("/agents")).json()}
        self.ada, self.linus = users["ada@chatty.test"], users["linus@chatty.test"]

    def api(self, path: str) -> str:
        return f"/__sim/console/api/orgs/{ORG_ID}{path}"

    def conversations(self) -> list[dict]:
        return self.sim.get(f"/__sim/enhancedchat/orgs/{ORG_ID}/conversations").json()

    def conversation(self, conversation_uuid: str) -> dict:
        return next(c for c in self.conversations() if c["conversationId"] == conversation_uuid)

    def customer_texts(self, conversation_uuid: str) -> list[str]:
        entries = self.conversation(conversation_uuid)["entries"]
        return [e["text"] for e in entries if e.get("entryType") == "Message" and _role(e) == "EndUser"]

    def session_id(self, conversation_uuid: str) -> str:
        return self.conversation(conversation_uuid)["sessions"][-1]["id"]

    def accept(self, conversation_uuid: str, agent: str | None = None) -> None:
        session = self.session_id(conversation_uuid)
        response = self.sim.post(self.api(f"/sessions/{session}/accept"), json={"agent": agent or self.ada})
        assert response.status_code in (200, 201), response.text

    def reply(self, conversation_uuid: str, text: str, agent: str | None = None) -> None:
        session = self.session_id(conversation_uuid)
        body = {"agent": agent or self.ada, "text": text}
        response = self.sim.post(self.api(f"/sessions/{session}/reply"), json=body)
        assert response.status_code in (200, 201), response.text

    def end(self, conversation_uuid: str, agent: str | None = None) -> None:
        session = self.session_id(conversation_uuid)
        response = self.sim.post(self.api(f"/sessions/{session}/end"), json={"agent": agent or self.ada})
        assert response.status_code in (200, 201), response.text


def _role(entry: dict) -> str:
    sender = entry.get("sender")
    return sender.get("role", "") if isinstance(sender, dict) else ""


def make_enhanced_chat_tenant(sandbox, *, name: str = "Chatty", **extra):
    tenant = make_tenant(name, org_id=ORG_ID, **extra)
    SalesforceConnection.objects.create(
        tenant=tenant,
        desk=SalesforceConnection.Desk.ENHANCED_CHAT,
        instance_url="https://chatty.my.salesforce.com",
        scrt_url=f"{sandbox.base_url}/sim/scrt",
        es_developer_name=DEPLOYMENT,
    )
    return tenant


def make_conversation(tenant, customer: str = "+447700900123") -> Conversation:
    sender = make_sender(make_account(tenant))
    return Conversation.objects.create(tenant=tenant, sender=sender, customer=customer, customer_name="Cai")


def inbound(conversation: Conversation, text: str) -> Message:
    now = timezone.now()
    return Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction=Message.Direction.INBOUND,
        sequence=Message.objects.filter(
            conversation=conversation, direction=Message.Direction.INBOUND
        ).count()
        + 1,
        kind="text",
        text=text,
        content={"kind": "text", "text": text},
        provider="infobip",
        provider_message_id=f"in-{conversation.pk}-{text}",
        expires_at=now + conversation.tenant.delivery_window,
        next_attempt_at=now,
    )


def wait_for(condition, *, timeout: float = 15.0, what: str = "the condition"):
    """Poll ``condition`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
