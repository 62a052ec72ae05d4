"""Admin: each tenant's Legacy Chat custom fields (what every chat carries onto the Chat Transcript), and its
chats read-only (where each one stands; the session key is never shown)."""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin

from tenants.admin_scoping import ReadOnlyScopedAdmin, TenantScopedAdmin

from .livechat_models import LiveChatCustomField, LiveChatSession


@admin.register(LiveChatCustomField)
class LiveChatCustomFieldAdmin(TenantScopedAdmin):
    list_display = ["tenant", "label", "value", "transcript_field", "position"]
    fields: ClassVar = ["tenant", "label", "value", "transcript_field", "position"]


@admin.register(LiveChatSession)
class LiveChatSessionAdmin(ReadOnlyScopedAdmin):
    list_display = ["tenant", "conversation", "status", "agent_name", "end_reason", "created_at"]
    list_filter: ClassVar = ["status"]
    fields: ClassVar[tuple[str, ...]] = (
        "tenant",
        "conversation",
        "status",
        "session_id",
        "agent_id",
        "agent_name",
        "sequence",
        "ack",
        "end_reason",
        "ended_at",
        "created_at",
    )
    readonly_fields = fields
