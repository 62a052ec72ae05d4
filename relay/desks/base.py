"""A desk is the Salesforce side of a conversation, both ways: one subclass per Salesforce product (BYOC
Messaging, Legacy Chat), chosen by the connection's ``desk`` through ``SWITCHBOARD_DESKS``
(:mod:`relay.desks.registry`). This module knows no subclass.

Customer → agent: :meth:`Desk.deliver` hands one stored inbound message to the agents, and
:meth:`Desk.import_transcript` a chatbot's transcript where the product can take one; :meth:`Desk.agent_available`
says whether an agent is online. Agent → customer: the desk's ``agent_feed`` says how the agents' side reaches
Switchboard (``"pubsub"``: ``relay_listen`` subscribes to the connection's platform event; another product
names its own, long polling or a stream) and :meth:`Desk.receive` turns one of its events into outbound
messages; :meth:`Desk.end_session` ends the customer's session.

Agent feeds. ``SWITCHBOARD_AGENT_FEEDS`` maps an ``agent_feed`` value to the dotted path of a runner class
(:class:`AgentFeed`); ``relay_listen`` starts one runner per feed that a configured desk uses, each in its own
thread, and gives it ``owns``: several ``relay_listen`` processes share the tenants (a lease per tenant,
relay/salesforce/shards.py), and a runner serves only the tenants its process holds right now.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Protocol

from django.utils import timezone

from .. import signals
from ..errors import ExternalError
from ..lines import attempts
from ..models import Message

if TYPE_CHECKING:
    from tenants.models import SalesforceConnection

    from ..models import Conversation


class AgentFeed(Protocol):
    """What ``relay_listen`` runs for one ``agent_feed`` (named in ``SWITCHBOARD_AGENT_FEEDS``).

    Built as ``Runner(tenant_slugs=..., owns=..., refresh_seconds=...)``: ``tenant_slugs`` limits it to those
    tenants (None: all); ``owns(tenant_id)`` says whether this process holds the tenant right now (cheap, in
    memory, thread-safe: call it as often as needed); the runner re-reads its tenants every ``refresh_seconds``,
    starts serving the held ones and drops, promptly, any it no longer holds (another process takes it over
    once the lease has run out, so a brief overlap is possible: handling an event must be idempotent, keyed on
    the event's id). A runner may also accept ``max_backoff`` (seconds, ``--max-backoff``); relay_listen passes
    it when the constructor names it. :meth:`run` blocks until :meth:`stop` (called from another thread).
    """

    def __init__(
        self, *, tenant_slugs: list[str] | None, owns: Callable[[int], bool], refresh_seconds: float
    ) -> None: ...

    def run(self) -> None: ...

    def stop(self) -> None: ...


class Desk:
    name: ClassVar[str] = ""
    #: How the agents' messages arrive: a key of SWITCHBOARD_AGENT_FEEDS ("pubsub", "livechat"; relay_listen
    #: runs its runner), or "" when this desk has no agent side.
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
    """Record that the desk took ``message`` (what :meth:`Desk.deliver` does on success); the line's
    bookkeeping (the attempt counted, an earlier try's error forgotten) and a held attempt row
    (``attempt(..., held=True)``) ride on the same statement."""
    now = timezone.now()
    changes = {"status": Message.Status.DELIVERED, "delivered_at": now, "updated_at": now}
    if salesforce_entry_id:
        changes["salesforce_entry_id"] = salesforce_entry_id
    with signals.together(message.tenant_id, signals.MESSAGE_STATUS_CHANGED):  # the change and its report
        attempts.mark_tried(message, changes)
        message.attempt_counted = True  # the pipeline need not count it again
        signals.message_status_changed.send_robust(
            sender=Message, message=message, status=Message.Status.DELIVERED
        )
