"""A provider that exists only in the tests: its webhook is ``{"messages": [{"id", "from", "to", "text"}]}``
and what it sends is kept in :data:`SENT`, in order, for the test to read."""

from __future__ import annotations

from relay.events import InboundMessage, Kind
from relay.providers.base import OutboundContent, Provider, SendResult

SENT: list[dict] = []


class EchoProvider(Provider):
    name = "echo"

    def parse_webhook(self, body: dict) -> list[InboundMessage]:
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not messages:
            raise ValueError("no messages")
        return [
            InboundMessage(
                provider_message_id=str(item["id"]),
                channel="whatsapp",
                sender_address=str(item["to"]),
                customer=str(item["from"]),
                kind=Kind.TEXT,
                text=str(item.get("text", "")),
                raw=item,
            )
            for item in messages
        ]

    def send(
        self, account, sender, to: str, content: OutboundContent, *, message_id: str, notify_url: str = ""
    ) -> SendResult:
        SENT.append({"account": account.pk, "from": sender.address, "to": to, "text": content.text})
        return SendResult(provider_message_id=f"echo-{message_id}", status="SENT")
