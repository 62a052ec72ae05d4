"""What the partner API remembers: idempotent results, partners' webhook subscriptions, the partner-event
outbox and the delivery log.

Rate-limit state lives in the shared cache (DRF throttling), not here.
"""

from __future__ import annotations

import secrets
import uuid

from django.db import models

from tenants.fields import EncryptedTextField
from tenants.models import Partner, Tenant
from tenants.validators import validate_endpoint_url


class IdempotencyRecord(models.Model):
    """The first answer to a send made with an ``Idempotency-Key``: a retry with the same key gets it again."""

    scope = models.CharField(max_length=40, help_text="Whose key: partner:<id> or tenant:<id>.")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the method, path and body.")
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="one_record_per_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"


class WebhookEvent(models.TextChoices):
    MESSAGE_STATUS_CHANGED = "message.status_changed", "A message's status changed"
    CONVERSATION_CONNECTED = "conversation.connected", "Salesforce took the conversation"
    CONVERSATION_SESSION_STATUS_CHANGED = (
        "conversation.session_status_changed",
        "The Messaging session's status changed",
    )
    PING = "ping", "A test event sent on request"


class WebhookSubscription(models.Model):
    """A partner's (all its tenants) or a tenant's endpoint that hears about messages and conversations.

    A tenant's subscription is managed by whoever made it (``managed_by``): one a partner made for a tenant is
    the partner's integration, which the tenant's admins may read but not change, delete, ping or re-key.
    """

    class ManagedBy(models.TextChoices):
        PARTNER = "partner", "The partner (a tenant admin's key may only read it)"
        TENANT = "tenant", "The tenant's admins (and the partner)"

    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField(max_length=500, validators=[validate_endpoint_url])
    events = models.JSONField(default=list, blank=True, help_text="Event types to send; empty: all.")
    secret = EncryptedTextField(help_text="Signs every delivery (HMAC-SHA256); generated, shown once.")
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    managed_by = models.CharField(
        max_length=10,
        choices=ManagedBy.choices,
        default=ManagedBy.TENANT,
        help_text="Who may change it: a partner's subscription (all its tenants, or one it made for a tenant) "
        "is the partner's alone.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(partner__isnull=False, tenant__isnull=True)
                | models.Q(partner__isnull=True, tenant__isnull=False),
                name="webhook_subscription_belongs_to_a_partner_or_a_tenant",
            )
        ]

    def __str__(self) -> str:
        return self.url

    def rotate_secret(self) -> str:
        self.secret = f"whsec_{secrets.token_urlsafe(32)}"
        return str(self.secret)

    def wants(self, event: str) -> bool:
        return event == WebhookEvent.PING or not self.events or event in self.events


class PartnerEvent(models.Model):
    """The outbox: something a partner may want to hear about, written in the transaction that made the change.

    One row per change, whatever the number of subscriptions, and only when the tenant has any. After commit
    (or, if that task is lost, at the next sweep) it becomes one :class:`WebhookDelivery` per subscription and
    the row is deleted, so the table holds only what is not fanned out yet. A change rolled back takes its
    event with it: a partner never hears of something that did not happen.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=60)
    data = models.JSONField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.event} of tenant {self.tenant_id}"


class WebhookDelivery(models.Model):
    """One event for one subscription, until the partner's endpoint accepted it or we gave up."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed for good"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=60)
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, help_text="Same on every retry.")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(
        blank=True, help_text="Why the last attempt failed; never the endpoint's answer (see WebhookAttempt)."
    )
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST to the partner's endpoint and what came of it."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(
        blank=True,
        help_text="The status and its standard phrase, or why no answer came; the endpoint's own answer (body, "
        "reason line) is never stored, so a URL pointed at an internal service cannot read it back.",
    )
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"attempt {self.pk} of delivery {self.delivery_id}"
