"""Admin: each tenant's handover endpoint (URL and credentials shown once) and the handovers it took."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib import admin, messages

from tenants.admin_scoping import TenantScopedAdmin

from .models import Handover, HandoverEndpoint


@admin.register(HandoverEndpoint)
class HandoverEndpointAdmin(TenantScopedAdmin):
    list_display = ["tenant", "auth", "active", "history_mode", "endpoint_url"]
    list_filter = ["auth", "active", "history_mode"]
    fields = ["tenant", "auth", "active", "history_mode", "history_mode_reason", "endpoint_url"]
    readonly_fields = ["history_mode_reason", "endpoint_url"]
    actions = ["rotate_secret"]

    @admin.display(description="Handover URL")
    def endpoint_url(self, obj):
        if not obj.pk:
            return "Shown after saving, with its secret."
        return f"{settings.PUBLIC_BASE_URL}{obj.path}"

    def save_model(self, request, obj, form, change):
        secret = obj.rotate_secret() if not change or "auth" in form.changed_data else None
        if change and "history_mode" in form.changed_data:
            obj.history_mode_reason = f"Set by {request.user.get_username()}"
        super().save_model(request, obj, form, change)
        if secret:
            self._show_once(request, obj, secret)

    @admin.action(description="Generate a new secret (the old one stops working)")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            secret = endpoint.rotate_secret()
            endpoint.save(update_fields=["secret", "updated_at"])
            self._show_once(request, endpoint, secret)

    def _show_once(self, request, endpoint, secret):
        how = {
            HandoverEndpoint.Auth.BEARER: f"header Authorization: Bearer {secret}",
            HandoverEndpoint.Auth.HEADER: f"header X-Switchboard-Token: {secret}",
            HandoverEndpoint.Auth.HMAC: f"X-Hub-Signature-256 = sha256=HMAC-SHA256(body) with the secret {secret}",
        }[endpoint.auth]
        messages.warning(
            request,
            f"Configure your bot's handover call: POST {settings.PUBLIC_BASE_URL}{endpoint.path} with {how}. "
            "Copy it now: the secret is not shown again.",
        )


@admin.register(Handover)
class HandoverAdmin(TenantScopedAdmin):
    list_display = ["key", "tenant", "conversation", "status", "method", "received_at", "delivered_at"]
    list_filter = ["status", "method", "tenant"]
    search_fields = ["key", "provider_conversation_id", "conversation__customer"]
    list_select_related = ["tenant", "conversation"]
    readonly_fields: ClassVar[tuple[str, ...]] = (
        "tenant",
        "conversation",
        "key",
        "provider",
        "provider_conversation_id",
        "status",
        "method",
        "messaging_session_id",
        "received_at",
        "waiting_since",
        "delivered_at",
        "last_error",
        "entries",
        "imported_ids",
        "attributes",
    )
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # a handover and its bot transcript belong to the conversation's audit trail
