"""Conversations with the timeline of their messages and delivery attempts; retry failed messages.

Conversations, messages and delivery attempts are the audit trail of what was said and what was done with
it: nobody deletes them in the admin, superusers included (a deleted message would leave a gap in its
conversation's numbering and lose the record of an answer the customer may have seen), and nobody edits
them, so their pages are read-only with a Close button. Only "Retry now" acts on them.
Listener cursors are the listener's own bookkeeping: superusers only (a tenant admin reads the same
trouble in the setup wizard's health check, "Event subscription").
"""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from tenants.admin_scoping import ReadOnlyScopedInline, TenantScopedAdmin

from .lines.retry_failed import retry_failed
from .lines.waiting import with_line_head
from .models import (
    Conversation,
    DeliveryAttempt,
    ListenerCursor,
    Message,
    SalesforceNotice,
    TemplateHistoryImport,
)

STATUS_COLOURS = {
    "pending": "#8a6d00",
    "sent": "#0b5cab",
    "delivered": "#2e844a",
    "read": "#2e844a",
    "recorded": "#2e844a",
    "failed": "#ba0517",
}


def status_badge(status: str, label: str) -> str:
    return format_html(
        '<span style="color:{};font-weight:600">{}</span>', STATUS_COLOURS.get(status, "#444"), label
    )


class MessageInline(ReadOnlyScopedInline, admin.TabularInline):
    model = Message
    fields: ClassVar[tuple[str, ...]] = (
        "sequence",
        "direction",
        "kind",
        "text",
        "status_display",
        "attempts",
        "last_error",
        "waiting_reason",
        "received_at",
    )
    readonly_fields = fields
    extra = 0
    show_change_link = True
    ordering = ["received_at", "direction", "sequence"]

    def get_queryset(self, request):
        return with_line_head(super().get_queryset(request))

    @admin.display(description="Status")
    def status_display(self, obj):
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="Waiting because")
    def waiting_reason(self, obj):
        return obj.waiting_reason or "–"


@admin.register(Conversation)
class ConversationAdmin(TenantScopedAdmin):
    list_display = [
        "customer",
        "customer_name",
        "sender",
        "tenant",
        "status",
        "session_status",
        "pending",
        "failed",
        "updated_at",
    ]
    list_filter = ["status", "tenant", "sender"]
    search_fields = ["customer", "customer_name", "salesforce_conversation_id", "messaging_session_id"]
    list_select_related = ["sender", "tenant"]
    readonly_fields: ClassVar[tuple[str, ...]] = (
        "tenant",
        "sender",
        "customer",
        "customer_name",
        "status",
        "salesforce_conversation_id",
        "messaging_session_id",
        "session_status",
        "last_agent_id",
        "last_inbound_at",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields
    inlines = [MessageInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Pending")
    def pending(self, obj):
        return obj.messages.filter(status=Message.Status.PENDING).count()

    @admin.display(description="Failed")
    def failed(self, obj):
        count = obj.messages.filter(status=Message.Status.FAILED).count()
        return status_badge("failed", count) if count else 0


class DeliveryAttemptInline(ReadOnlyScopedInline, admin.TabularInline):
    model = DeliveryAttempt
    fields: ClassVar[tuple[str, ...]] = (
        "created_at",
        "target",
        "action",
        "outcome",
        "status_code",
        "error",
        "duration_ms",
    )
    readonly_fields = fields
    extra = 0


class NoticeInline(ReadOnlyScopedInline, admin.TabularInline):
    model = SalesforceNotice
    fields: ClassVar[tuple[str, ...]] = (
        "kind",
        "status",
        "attempts",
        "internal_errors",
        "reason",
        "last_error",
        "next_attempt_at",
    )
    readonly_fields = fields
    extra = 0


HISTORY_IMPORT_FIELDS = (
    "status",
    "attempts",
    "internal_errors",
    "next_attempt_at",
    "last_error",
    "updated_at",
)


class HistoryImportInline(ReadOnlyScopedInline, admin.TabularInline):
    """An agent's template imported into their Messaging Session (relay/outbound/template_history.py)."""

    model = TemplateHistoryImport
    fields: ClassVar[tuple[str, ...]] = HISTORY_IMPORT_FIELDS
    readonly_fields = fields
    extra = 0
    verbose_name = verbose_name_plural = "Import into the Salesforce conversation"


@admin.register(Message)
class MessageAdmin(TenantScopedAdmin):
    list_display = [
        "__str__",
        "direction",
        "kind",
        "short_text",
        "status_display",
        "attempts",
        "waiting_reason",
        "tenant",
        "received_at",
    ]
    list_filter = ["status", "direction", "kind", "tenant", "conversation__sender"]
    search_fields = ["text", "provider_message_id", "salesforce_entry_id", "conversation__customer"]
    list_select_related = ["tenant", "conversation__sender"]
    readonly_fields: ClassVar[tuple[str, ...]] = (
        "tenant",
        "conversation",
        "direction",
        "sequence",
        "kind",
        "text",
        "content",
        "provider",
        "provider_message_id",
        "salesforce_entry_id",
        "status",
        "attempts",
        "internal_errors",
        "next_attempt_at",
        "expires_at",
        "last_error",
        "waiting_reason",
        "received_at",
        "delivered_at",
        "read_at",
        "timeline",
    )
    fields = readonly_fields
    inlines = [DeliveryAttemptInline, NoticeInline, HistoryImportInline]
    actions = ["retry_now"]
    date_hierarchy = "received_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return with_line_head(super().get_queryset(request).select_related("conversation__sender"))

    @admin.display(description="Waiting because")
    def waiting_reason(self, obj):
        return obj.waiting_reason or "–"

    @admin.display(description="Text")
    def short_text(self, obj):
        return (obj.text[:60] + "…") if len(obj.text) > 60 else obj.text

    @admin.display(description="Status")
    def status_display(self, obj):
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="Timeline")
    def timeline(self, obj):
        rows = [
            (a.created_at.strftime("%Y-%m-%d %H:%M:%S"), a.action, a.get_outcome_display(), a.error or "–")
            for a in obj.delivery_attempts.all()
        ]
        if not rows:
            return "No attempt yet."
        return format_html("<ol>{}</ol>", format_html_join("", "<li>{} {} – {} ({})</li>", rows))

    @admin.action(description="Retry now")
    def retry_now(self, request, queryset):
        retried = retry_failed(queryset)
        messages.success(request, f"Queued {len(retried)} failed message(s) for another try.")


@admin.register(TemplateHistoryImport)
class TemplateHistoryImportAdmin(TenantScopedAdmin):
    """The template-history imports on the delivery engine: what is pending, recorded or given up, and why.
    Read-only: each try is also on the message's timeline."""

    list_display = ["__str__", "status_display", "attempts", "next_attempt_at", "last_error", "tenant"]
    list_filter = ["status", "tenant"]
    list_select_related = ["tenant"]
    readonly_fields: ClassVar[tuple[str, ...]] = ("tenant", "message", *HISTORY_IMPORT_FIELDS, "created_at")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Status", ordering="status")
    def status_display(self, obj):
        return status_badge(obj.status, obj.get_status_display())


@admin.register(ListenerCursor)
class ListenerCursorAdmin(TenantScopedAdmin):
    list_display = ["tenant", "topic", "replay", "subscribed_at", "updated_at", "last_error", "gap"]
    readonly_fields: ClassVar[tuple[str, ...]] = (
        "tenant",
        "topic",
        "replay",
        "subscribed_at",
        "updated_at",
        "last_error",
        "deliver_since",
        "last_event_at",
        "gap",
        "gap_at",
    )
    fields = readonly_fields

    @admin.display(description="Replay id")
    def replay(self, obj):
        return bytes(obj.replay_id).hex() if obj.replay_id else "none yet (replays from EARLIEST)"

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


from .desks import enhanced_chat_admin as _enhanced_chat_admin  # noqa: E402, F401 - the Enhanced Chat admin pages
from .desks import livechat_admin as _livechat_admin  # noqa: E402, F401 - the Legacy Chat admin pages
from .handover import admin as _handover_admin  # noqa: E402, F401 - registers the handover admin pages
from .salesforce import shard_admin as _shard_admin  # noqa: E402, F401, I001 - relay_listen processes and leases
