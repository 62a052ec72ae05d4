"""Admin: each tenant's Enhanced Chat pre-chat fields (what every conversation carries as routingAttributes), and
its Enhanced Chat conversations read-only (where each stands; the end user's token is never shown)."""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin

from tenants.admin_scoping import ReadOnlyScopedAdmin, TenantScopedAdmin

from .enhanced_chat_models import EnhancedChatPrechatField, EnhancedChatSession


@admin.register(EnhancedChatPrechatField)
class EnhancedChatPrechatFieldAdmin(TenantScopedAdmin):
    list_display = ["tenant", "name", "value", "position"]
    fields: ClassVar = ["tenant", "name", "value", "position"]


@admin.register(EnhancedChatSession)
class EnhancedChatSessionAdmin(ReadOnlyScopedAdmin):
    list_display = ["tenant", "conversation", "status", "agent_name", "end_reason", "created_at"]
    list_filter: ClassVar = ["status"]
    fields: ClassVar[tuple[str, ...]] = (
        "tenant",
        "conversation",
        "status",
        "conversation_uuid",
        "token_expires_at",
        "last_event_id",
        "agent_id",
        "agent_name",
        "end_reason",
        "ended_at",
        "created_at",
    )
    readonly_fields = fields
