"""What the setup wizard remembers between visits that is not configuration itself.

The configuration the wizard edits lives in the tenants models (SalesforceConnection, ProviderAccount,
Sender, RoutingRule, Tenant texts). This row keeps the wizard's own memory: which live checks passed
(and for which credentials), what the channel setup did, the default Messaging channel, the last test
message.
"""

from __future__ import annotations

from django.db import models

from tenants.models import Tenant


class SetupProgress(models.Model):
    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="setup_progress")
    # The credential fingerprint (relay.salesforce.auth.cache_key) the last successful login test used:
    # changing the consumer key, user, URL or key pair makes step 1 "not done" again.
    salesforce_verified_for = models.CharField(max_length=120, blank=True)
    salesforce_verified_at = models.DateTimeField(null=True, blank=True)
    # What the Tooling API setup did, step by step: [{"what", "name", "created", "message"}].
    channel_setup = models.JSONField(default=list, blank=True)
    channel_setup_at = models.DateTimeField(null=True, blank=True)
    default_channel_address = models.CharField(
        max_length=80, blank=True, help_text="The Messaging channel new senders feed unless told otherwise."
    )
    default_channel_label = models.CharField(max_length=200, blank=True)
    routing_saved_at = models.DateTimeField(null=True, blank=True)
    test_message_id = models.PositiveBigIntegerField(null=True, blank=True)
    test_delivered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "setup progress"
        verbose_name_plural = "setup progress"

    def __str__(self) -> str:
        return f"Setup progress of {self.tenant}"

    @classmethod
    def of(cls, tenant: Tenant) -> SetupProgress:
        progress, _ = cls.objects.get_or_create(tenant=tenant)
        return progress
