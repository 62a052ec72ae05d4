"""A desk is the Salesforce side of a conversation, both ways: one subclass per Salesforce product (BYOC
Messaging, Legacy Chat), chosen by the connection's ``desk`` through ``SWITCHBOARD_DESKS``
(:mod:`relay.desks.registry`). This module knows no subclass.

Customer → agent: :meth:`Desk.deliver` hands one stored inbound message to the agents, and
:meth:`Desk.import_transcript` a chatbot's transcript where the product can take one; :meth:`Desk.agent_available`
says whether an agent is online. Agent → customer: the desk's ``agent_feed`` says how the agents' side reaches
Switchboard (``"pubsub"``: ``relay_listen`` subscribes to the connection's platform event; another product
names its own, long polling or a stream) and :meth:`Desk.receive` turns one of its events into outbound
messages; :meth:`Desk.end_session` ends the customer's session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from django.utils import timezone

from .. import signals
from ..errors import ExternalError
from ..models import Message

if TYPE_CHECKING:
    from tenants.models import SalesforceConnection

    from ..models import Conversation


class Desk:
    name: ClassVar[str] = ""
    #: How the agents' messages arrive: "pubsub" (relay_listen), or "" when this desk has no agent side.
    agent_feed: ClassVar[str] = ""

    def __init__(self, connection: SalesforceConnection) -> None:
        self.connection = connection

    # --- customer → agent -----------------------------------------------------------------------------------

    def deliver(self, message: Message) -> None:
        """Hand one inbound message to the agents and mark it delivered (:func:`mark_delivered`).
        Raise ExternalError on failure (``permanent`` when a retry cannot help)."""
        raise NotImplementedError

    def import_transcript(self, message: Message) -> None:
        """Deliver a chatbot handover's place in the line (a message of kind ``history``, relay/handover)."""
        raise ExternalError(
            f"The {self.name or 'tenant'}'s desk cannot take a bot transcript.",
            permanent=True,
            code="NO_TRANSCRIPT_IMPORT",
        )

    def agent_available(self, conversation: Conversation) -> bool | None:
        """True when an agent is online for the conversation, False when none is, None when unknown."""
        return None

    # --- agent → customer -----------------------------------------------------------------------------------

    def receive(self, event: dict) -> None:
        """One event of the agents' side, as ``agent_feed`` delivers it: recorded as outbound messages (for
        the provider) once, however often it is delivered; one that cannot be read is logged and skipped."""
        raise NotImplementedError

    def end_session(self, conversation: Conversation) -> None:
        """End the customer's session on the agents' side. Raise ExternalError on failure."""
        raise NotImplementedError


def mark_delivered(message: Message, *, salesforce_entry_id: str = "") -> None:
    """Record that the desk took ``message`` (what :meth:`Desk.deliver` does on success)."""
    now = timezone.now()
    changes = {"salesforce_entry_id": salesforce_entry_id} if salesforce_entry_id else {}
    with signals.together(message.tenant_id, signals.MESSAGE_STATUS_CHANGED):  # the change and its report
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.DELIVERED, delivered_at=now, updated_at=now, **changes
        )
        signals.message_status_changed.send_robust(
            sender=Message, message=message, status=Message.Status.DELIVERED
        )
