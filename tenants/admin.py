"""The Django admin for tenant configuration, scoped so a tenant admin sees only their tenants."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Model
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from .admin_scoping import ScopedInline, TenantScopedAdmin, allowed_tenant_ids
from .certificates import certificate_expiry, generate_key_pair
from .forms import WriteOnlySecretsForm
from .models import (
    ApiKey,
    Membership,
    Partner,
    ProviderAccount,
    RoutingRule,
    SalesforceConnection,
    Sender,
    Tenant,
    User,
)

SHOW_ONCE_TEMPLATE = "admin/tenants/show_once.html"


class ShowOnceMixin:
    """Secrets made by a save (webhook credentials, API keys) are rendered in the response to that save,
    never put in a message: Django keeps messages in a cookie (signed, not encrypted) or the session.

    ``save_model`` leaves them on the request (``remember_secret``); the redirect that follows a save is
    turned into a page that shows them, with a link to where the redirect went.
    """

    # Provided by the ModelAdmin this is mixed into (annotations only: nothing is set here).
    admin_site: admin.AdminSite
    model: type[Model]

    def remember_secret(self, request, title: str, rows: list[tuple[str, str]]) -> None:
        if not hasattr(request, "_secrets_shown_once"):
            request._secrets_shown_once = []
        request._secrets_shown_once.append({"title": title, "rows": rows})

    def show_once(self, request, next_url: str) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Copy it now: it is not shown again",
            "items": request._secrets_shown_once,
            "next_url": next_url,
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, SHOW_ONCE_TEMPLATE, context)
        response["Cache-Control"] = "no-store"
        return response

    def response_add(self, request, obj, post_url_continue=None):
        return self._with_secrets(request, super().response_add(request, obj, post_url_continue))

    def response_change(self, request, obj):
        return self._with_secrets(request, super().response_change(request, obj))

    def _with_secrets(self, request, response):
        if getattr(request, "_secrets_shown_once", None) and response.status_code == 302:
            return self.show_once(request, response["Location"])
        return response


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    pass


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class MembershipInline(ScopedInline, admin.TabularInline):
    """Tenant admins see who belongs to their tenant; only superusers change it (the user picker
    lists every user of the installation)."""

    model = Membership
    extra = 0
    autocomplete_fields = ["user"]

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_lookup = "pk"
    list_display = ["name", "slug", "org_id", "partner", "active", "created_at"]
    list_filter = ["active", "partner"]
    search_fields = ["name", "slug", "org_id"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "org_id", "partner", "active"]}),
        ("Texts customers see", {"fields": ["welcome_text", "closing_text", "no_agent_text"]}),
        ("Delivery", {"fields": ["delivery_window"]}),
    ]
    inlines = [MembershipInline]

    def has_add_permission(self, request):
        return allowed_tenant_ids(request) is None  # only superusers create tenants

    def has_delete_permission(self, request, obj=None):
        return allowed_tenant_ids(request) is None

    def get_readonly_fields(self, request, obj=None):
        return [] if allowed_tenant_ids(request) is None else ["partner", "org_id", "slug", "active"]


@admin.register(SalesforceConnection)
class SalesforceConnectionAdmin(TenantScopedAdmin):
    form = WriteOnlySecretsForm
    list_display = ["tenant", "desk", "environment", "instance_url", "integration_username", "key_pair"]
    list_filter = ["desk", "environment"]
    search_fields = ["tenant__name", "instance_url", "integration_username"]
    readonly_fields = ["certificate_download", "certificate_expires"]
    actions = ["generate_certificate"]
    fieldsets = [
        (None, {"fields": ["tenant", "desk", "environment", "instance_url", "login_url", "scrt_url"]}),
        (
            "JWT bearer sign-in",
            {
                "fields": [
                    "consumer_key",
                    "integration_username",
                    "private_key",
                    "certificate_download",
                    "certificate_expires",
                ]
            },
        ),
        (
            "Messaging (Bring Your Own Channel)",
            {
                "fields": [
                    "authorization_context",
                    "platform_event",
                    "event_type_field",
                    "event_payload_field",
                ]
            },
        ),
        ("Canvas (pages inside Salesforce)", {"fields": ["canvas_consumer_secret"]}),
        (
            "Legacy Chat",
            {
                "classes": ["collapse"],
                "fields": ["chat_api_endpoint", "chat_deployment_id", "chat_button_id"],
            },
        ),
        (
            "Cases (docs/cases.md)",
            {
                "classes": ["collapse"],
                "fields": [
                    "case_transcript",
                    "case_reopen_hours",
                    "case_reopen_status",
                    "case_origins",
                    "case_status_texts",
                    "case_field_mapping",
                    "case_default_queue_id",
                    "case_create_contacts",
                ],
            },
        ),
    ]

    @admin.display(boolean=True, description="Key pair")
    def key_pair(self, obj):
        return bool(obj.private_key and obj.certificate)

    @admin.display(description="Certificate")
    def certificate_download(self, obj):
        if not obj.pk or not obj.certificate:
            return "None yet: use the action “Generate a key pair and certificate” in the list."
        url = reverse("admin:tenants_salesforceconnection_certificate", args=[obj.pk])
        return format_html(
            '<a href="{}">Download certificate (.crt)</a> – upload it to the Connected App.', url
        )

    @admin.display(description="Certificate expires")
    def certificate_expires(self, obj):
        return certificate_expiry(obj.certificate) if obj.certificate else "–"

    @admin.action(description="Generate a key pair and certificate (replaces the current one)")
    def generate_certificate(self, request, queryset):
        for connection in queryset:
            connection.private_key, connection.certificate = generate_key_pair(
                f"Switchboard {connection.tenant.slug}"
            )
            connection.save(update_fields=["private_key", "certificate", "updated_at"])
        messages.success(
            request,
            f"Generated {queryset.count()} certificate(s). Download each and upload it to the Connected App "
            "(Use digital signatures); the private key stays in Switchboard.",
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/certificate/",
                self.admin_site.admin_view(self.certificate_view),
                name="tenants_salesforceconnection_certificate",
            ),
            *super().get_urls(),
        ]

    def certificate_view(self, request, pk):
        connection = get_object_or_404(self.get_queryset(request), pk=pk)
        response = HttpResponse(connection.certificate, content_type="application/x-pem-file")
        response["Content-Disposition"] = f'attachment; filename="switchboard-{connection.tenant.slug}.crt"'
        return response


@admin.register(ProviderAccount)
class ProviderAccountAdmin(ShowOnceMixin, TenantScopedAdmin):
    form = WriteOnlySecretsForm
    list_display = ["name", "tenant", "provider", "base_url", "webhook_auth", "active"]
    list_filter = ["provider", "active", "webhook_auth", "tenant"]
    search_fields = ["name", "tenant__name", "base_url"]
    readonly_fields = ["webhook_url", "webhook_username"]
    actions = ["rotate_webhook_credentials"]
    fields = [
        "tenant",
        "provider",
        "name",
        "base_url",
        "api_key",
        "subaccount_id",
        "provider_account_id",
        "active",
        "webhook_auth",
        "webhook_url",
        "webhook_username",
    ]

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj):
        if not obj.pk:
            return "Shown after saving, with its credentials."
        return f"{settings.PUBLIC_BASE_URL}{obj.webhook_path}"

    def save_model(self, request, obj, form, change):
        new_credentials = not change or "webhook_auth" in form.changed_data
        secret = obj.rotate_webhook_credentials() if new_credentials else None
        super().save_model(request, obj, form, change)
        if secret:
            self._show_credentials_once(request, obj, secret)

    @admin.action(description="Generate new webhook credentials (the old ones stop working)")
    def rotate_webhook_credentials(self, request, queryset):
        for account in queryset:
            secret = account.rotate_webhook_credentials()
            account.save(update_fields=["webhook_secret", "webhook_username", "updated_at"])
            self._show_credentials_once(request, account, secret)
        return self.show_once(request, request.get_full_path())

    def _show_credentials_once(self, request, account, secret):
        rows = [("Webhook URL", f"{settings.PUBLIC_BASE_URL}{account.webhook_path}")]
        if account.webhook_auth == ProviderAccount.WebhookAuth.BASIC:
            rows += [("Basic auth user name", account.webhook_username), ("Basic auth password", secret)]
        elif account.webhook_auth == ProviderAccount.WebhookAuth.HEADER:
            rows += [("Header", "X-Switchboard-Token"), ("Token", secret)]
        else:
            rows += [("Header", "X-Hub-Signature-256: sha256=<hex>"), ("HMAC-SHA256 secret", secret)]
        self.remember_secret(
            request, f"Configure {account.name} at {account.get_provider_display()} with these", rows
        )


@admin.register(Sender)
class SenderAdmin(TenantScopedAdmin):
    list_display = ["address", "channel", "tenant", "account", "enabled", "channel_address_identifier"]
    list_filter = ["channel", "enabled", "tenant"]
    search_fields = ["address", "display_name", "channel_address_identifier"]
    list_select_related = ["tenant", "account"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(TenantScopedAdmin):
    list_display = [
        "sender",
        "customer_pattern",
        "target_type",
        "target_label",
        "fallback_type",
        "priority",
        "sticky_agent",
        "active",
    ]
    list_filter = ["target_type", "sticky_agent", "active", "tenant"]
    search_fields = ["sender__address", "target_label", "target_id", "customer_pattern"]
    list_select_related = ["sender", "tenant"]


@admin.register(ApiKey)
class ApiKeyAdmin(ShowOnceMixin, admin.ModelAdmin):
    list_display = ["name", "partner", "tenant", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["partner", "tenant"]
    readonly_fields = ["lookup", "created_at", "last_used_at"]
    fields = ["name", "partner", "tenant", "lookup", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    has_view_permission = has_change_permission = has_delete_permission = lambda self, request, obj=None: (
        request.user.is_superuser
    )

    def has_add_permission(self, request):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, plaintext = ApiKey.issue(name=obj.name, partner=obj.partner, tenant=obj.tenant)
        obj.pk, obj.lookup = key.pk, key.lookup
        self.remember_secret(request, f"API key {obj.name}", [("API key", plaintext)])

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            key.revoke()
