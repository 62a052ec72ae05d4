"""What every chat desk's session row keeps besides its own protocol's state (livechat_models.py,
enhanced_chat_models.py): its tenant, the agent who answered, and how and when it ended."""

from __future__ import annotations

from django.db import models


class ChatSession(models.Model):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    agent_name = models.CharField(max_length=255, blank=True)
    end_reason = models.CharField(max_length=40, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
