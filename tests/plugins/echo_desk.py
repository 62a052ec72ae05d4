"""A desk that exists only in the tests: the "agents" are :data:`DELIVERED` (what reached them, in order), and
an agent's reply is an event ``{"conversation": <id>, "id": <entry id>, "text": ...}`` handed to
:meth:`EchoDesk.receive`, as a long-polling or streaming desk would hand over what it read."""

from __future__ import annotations

from relay.desks.base import Desk, mark_delivered
from relay.models import Conversation, Message
from relay.outbound.record import queue_outbound

DELIVERED: list[dict] = []


class EchoDesk(Desk):
    name = "echo"
    agent_feed = "echo"  # not "pubsub": relay_listen leaves it alone

    def deliver(self, message: Message) -> None:
        DELIVERED.append({"conversation": message.conversation_id, "text": message.text})
        mark_delivered(message, salesforce_entry_id=f"echo:{message.pk}")

    def agent_available(self, conversation: Conversation) -> bool | None:
        return True

    def receive(self, event: dict) -> None:
        conversation = (
            Conversation.objects.for_tenant(self.connection.tenant)
            .select_related("tenant", "sender__account")
            .get(pk=event["conversation"])
        )
        queue_outbound(
            conversation, {"kind": "text", "text": event["text"]}, salesforce_entry_id=f"echo:{event['id']}"
        )

    def end_session(self, conversation: Conversation) -> None:
        Conversation.objects.filter(pk=conversation.pk).update(session_status="Ended")
