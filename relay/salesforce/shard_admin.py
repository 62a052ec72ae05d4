"""Admin, superusers only and read-only: the running ``relay_listen`` processes and which tenants each holds
(relay/salesforce/shards.py). The listeners' own bookkeeping across every tenant, so tenant admins never see it."""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from tenants.admin_scoping import NoWrites

from .shard_models import ListenerLease, ListenerProcess


class SuperuserReadOnly(NoWrites, admin.ModelAdmin):
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


@admin.register(ListenerProcess)
class ListenerProcessAdmin(SuperuserReadOnly):
    list_display = ["holder", "state", "held", "host", "pid", "started_at", "heartbeat_at"]
    fields: ClassVar[tuple[str, ...]] = (
        "holder",
        "state",
        "held",
        "host",
        "pid",
        "started_at",
        "heartbeat_at",
    )
    readonly_fields = fields

    @admin.display(description="State")
    def state(self, obj: ListenerProcess) -> str:
        return "live" if obj.expires_at > timezone.now() else "no heartbeat (its tenants move to the others)"

    @admin.display(description="Tenants held")
    def held(self, obj: ListenerProcess) -> str:
        url = reverse("admin:relay_listenerlease_changelist") + f"?holder={obj.holder}"
        return format_html('<a href="{}">{} tenants</a>', url, obj.tenants)


class HeldFilter(admin.SimpleListFilter):
    title = "lease"
    parameter_name = "held"

    def lookups(self, request, model_admin):
        return [("yes", "Held"), ("no", "Not held (expired or handed back)")]

    def queryset(self, request, queryset):
        held = Q(expires_at__gt=timezone.now()) & ~Q(holder="")
        if self.value() == "yes":
            return queryset.filter(held)
        if self.value() == "no":
            return queryset.exclude(held)
        return queryset


@admin.register(ListenerLease)
class ListenerLeaseAdmin(SuperuserReadOnly):
    list_display = ["tenant", "holder_shown", "since", "expires_at"]
    list_filter: ClassVar = [HeldFilter, "holder"]
    list_select_related = ["tenant"]
    search_fields: ClassVar = ["tenant__name", "tenant__slug", "holder"]
    fields: ClassVar[tuple[str, ...]] = ("tenant", "holder_shown", "since", "expires_at")
    readonly_fields = fields

    @admin.display(description="Held by", ordering="holder")
    def holder_shown(self, obj: ListenerLease) -> str:
        if not obj.holder or obj.expires_at <= timezone.now():
            return "nobody (the next live listener takes it)"
        return obj.holder
