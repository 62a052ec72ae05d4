"""A Legacy Chat visitor session per customer chat (relay/desks/livechat.py): what survives a restart.

A conversation has at most one open chat; when it ends (agent, customer, timeout, no agent) the row keeps
its end and the customer's next message opens a new one. Imported by relay/models.py so Django registers it.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from tenants.fields import EncryptedTextField

from .session_models import ChatSession


class LiveChatSession(ChatSession):
    class Status(models.TextChoices):
        REQUESTED = "requested", "Chat requested"  # SessionId + ChasitorInit sent, outcome not read yet
        WAITING = "waiting", "Waiting for an agent"
        ESTABLISHED = "established", "An agent joined"
        ENDED = "ended", "Ended"

    OPEN = (Status.REQUESTED, Status.WAITING, Status.ESTABLISHED)

    conversation = models.ForeignKey(
        "relay.Conversation", on_delete=models.CASCADE, related_name="livechat_sessions"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    session_id = models.CharField(max_length=64, help_text="The Chat API's SessionId id (the chat key).")
    session_key = EncryptedTextField(help_text="X-LIVEAGENT-SESSION-KEY (a secret).")
    affinity = models.CharField(max_length=64)
    poll_timeout = models.FloatField(default=40.0)
    sequence = models.PositiveIntegerField(default=0, help_text="The last X-LIVEAGENT-SEQUENCE sent.")
    ack = models.BigIntegerField(default=-1, help_text="The last Messages sequence recorded.")
    offset = models.BigIntegerField(default=0)
    #: A POST under way: {"message": pk, "first": sequence}, so its retry resends the same sequence numbers.
    pending = models.JSONField(default=dict, blank=True)
    agent_id = models.CharField(max_length=18, blank=True)

    class Meta:
        app_label = "relay"
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(status__in=["requested", "waiting", "established"]),
                name="one_open_livechat_per_conversation",
            )
        ]
        indexes = [models.Index(fields=["status"], name="livechat_status_idx")]

    def __str__(self) -> str:
        return f"Legacy Chat {self.session_id} ({self.status})"


class LiveChatCustomField(models.Model):
    """A detail every chat of the tenant carries to the agent and onto the Chat Transcript (ChasitorInit
    ``prechatDetails``), e.g. label "Brand", value "Acme Mobile", transcript field ``Brand__c``."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=80, help_text="What the agent reads next to the value.")
    value = models.CharField(max_length=255)
    transcript_field = models.CharField(
        max_length=80,
        blank=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z][A-Za-z0-9_]*__c$",
                "A custom field's API name of Chat Transcript, ending in __c (e.g. Brand__c).",
            )
        ],
        help_text="API name of the Chat Transcript field that keeps the value; empty: shown only.",
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        app_label = "relay"
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.label} → {self.transcript_field or 'shown only'}"
