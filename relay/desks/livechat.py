"""Legacy Chat (Live Agent): retired by Salesforce on 2026-02-14; kept for existing deployments."""

from __future__ import annotations

from ..errors import ExternalError
from ..models import Message
from .base import Desk


class LiveChatDesk(Desk):
    name = "livechat"  # no agent_feed: nothing subscribes to a Legacy Chat connection

    def deliver(self, message: Message) -> None:
        raise ExternalError(
            "This tenant uses the Legacy Chat desk, which this version of the relay does not deliver to yet; "
            "switch the Salesforce connection to Messaging (BYOC).",
            permanent=True,
            code="DESK_UNAVAILABLE",
        )
