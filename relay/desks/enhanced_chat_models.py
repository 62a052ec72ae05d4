"""An Enhanced Chat conversation per customer conversation (relay/desks/enhanced_chat.py): what survives a restart.

Each row is one Enhanced Chat (Messaging for In-App and Web) conversation: the end user's own identity, i.e.
its access token (a secret, encrypted at rest, renewed with the continuation token before it expires), the
conversation id Switchboard chose for it, and the id of the last stream event recorded, from which the
listener resumes the stream. A conversation has at most one open Enhanced Chat conversation; once it is closed
(agent, customer, expired) the customer's next message opens a new one. Imported by relay/models.py so Django
registers it.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tenants.fields import EncryptedTextField

from .session_models import ChatSession


class EnhancedChatSession(ChatSession):
    class Status(models.TextChoices):
        OPENING = "opening", "Being opened"  # the end user's token exists; the conversation is being created
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    OPEN_STATES = (Status.OPENING, Status.OPEN)

    conversation = models.ForeignKey(
        "relay.Conversation", on_delete=models.CASCADE, related_name="enhanced_chat_sessions"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPENING)
    conversation_uuid = models.CharField(
        max_length=36, unique=True, help_text="The Enhanced Chat conversationId (a UUID Switchboard chose)."
    )
    access_token = EncryptedTextField(help_text="The end user's access token (a secret).")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    last_event_id = models.CharField(
        max_length=255, blank=True, help_text="The last stream event recorded: the stream resumes after it."
    )
    recent_event_ids = models.JSONField(
        default=list,
        blank=True,
        help_text="The ids of the stream's last events recorded (at most 100): one read again is not recorded twice.",
    )
    agent_id = models.CharField(max_length=64, blank=True)

    class Meta:
        app_label = "relay"
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(status__in=["opening", "open"]),
                name="one_open_enhanced_chat_per_conversation",
            )
        ]
        indexes = [models.Index(fields=["status"], name="enhanced_chat_status_idx")]

    def __str__(self) -> str:
        return f"Enhanced Chat {self.conversation_uuid} ({self.status})"


class EnhancedChatPrechatField(models.Model):
    """A hidden pre-chat field every Enhanced Chat conversation of the tenant carries (``routingAttributes``),
    e.g. name ``Brand``, value ``Acme Mobile``: the deployment must define the hidden pre-chat field ``Brand``
    for Salesforce to keep it on the Messaging Session and pass it to the Omni-Channel flow."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(
        max_length=80,
        help_text="The hidden pre-chat field's API name, as the Embedded Service deployment names it.",
    )
    value = models.CharField(max_length=255)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        app_label = "relay"
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], name="one_enhanced_chat_prechat_field_per_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} = {self.value}"
