"""Admin classes that show a tenant admin only their own tenants' rows; superusers see everything."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponseRedirect

from .models import Tenant


def allowed_tenant_ids(request) -> set[int] | None:
    """The tenants this request may manage; None means all (a superuser)."""
    user = request.user
    if not user.is_active or not user.is_staff:
        return set()
    if user.is_superuser:
        return None
    if not hasattr(request, "_switchboard_tenant_ids"):
        request._switchboard_tenant_ids = user.admin_tenant_ids()
    return request._switchboard_tenant_ids


class TenantScopedAdmin(admin.ModelAdmin):
    """For models with a ``tenant`` foreign key (or, with ``tenant_lookup``, a path to one)."""

    tenant_lookup = "tenant"
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_list_filter(self, request):
        # A plain related filter lists every tenant (and partner) in the database: show only those in view.
        return [
            (name, admin.RelatedOnlyFieldListFilter)
            if isinstance(name, str) and self.model._meta.get_field(name.split("__")[0]).is_relation
            else name
            for name in super().get_list_filter(request)
        ]

    def changelist_view(self, request, extra_context=None):
        # A NUL in a filter or search value fails PostgreSQL's query (a 500). No value holds one, so it is an
        # invalid lookup like an unknown one, and gets Django's answer to those: the list again, with "?e=1".
        if any("\x00" in name or "\x00" in value for name, values in request.GET.lists() for value in values):
            return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        ids = allowed_tenant_ids(request)
        return queryset if ids is None else queryset.filter(**{f"{self.tenant_lookup}__in": ids})

    def _may_manage(self, request, obj=None) -> bool:
        ids = allowed_tenant_ids(request)
        if ids is None:
            return True
        if not ids:
            return False
        return obj is None or self._tenant_id_of(obj) in ids

    def _tenant_id_of(self, obj) -> int | None:
        target = obj
        for part in self.tenant_lookup.split("__"):
            target = getattr(target, part, None)
        return getattr(target, "pk", target)

    def has_module_permission(self, request):
        return self._may_manage(request)

    def has_view_permission(self, request, obj=None):
        return self._may_manage(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._may_manage(request, obj)

    def has_add_permission(self, request):
        return self._may_manage(request)

    def has_delete_permission(self, request, obj=None):
        return self._may_manage(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        ids = allowed_tenant_ids(request)
        if ids is not None:
            remote = db_field.remote_field.model
            if remote is Tenant:
                kwargs["queryset"] = Tenant.objects.filter(pk__in=ids)
            elif any(f.name == "tenant" for f in remote._meta.get_fields()):
                kwargs["queryset"] = remote._default_manager.filter(tenant__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # Belt and braces: the form limits the choices, this refuses a forged POST.
        if not self._may_manage(request, obj):
            raise PermissionDenied("You do not manage this tenant.")
        super().save_model(request, obj, form, change)


class NoWrites:
    """Mixin for an admin or an inline of rows only Switchboard writes: shown, never added, changed or deleted
    there (``obj`` is optional: an inline's add check is given the parent, a model admin's is not)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyScopedAdmin(NoWrites, TenantScopedAdmin):
    """Rows only Switchboard writes (a chat's session, ...): a tenant's admins see their own, read-only."""


class ScopedInline:
    """Mixin for inlines: Django asks the model permissions a tenant admin does not have; the parent
    admin has already decided who sees the object, so the inline follows it."""

    def _parent_allows(self, request, obj=None) -> bool:
        ids = allowed_tenant_ids(request)
        if ids is None:
            return True
        tenant_id = getattr(obj, "tenant_id", getattr(obj, "pk", None) if obj.__class__ is Tenant else None)
        return bool(ids) and (obj is None or tenant_id in ids)

    def has_view_permission(self, request, obj=None):
        return self._parent_allows(request, obj)


class ReadOnlyScopedInline(NoWrites, ScopedInline):
    pass
