"""``/api/v1/provider-accounts/``: a tenant's account at a messaging provider, what to configure at the
provider for webhooks (the secret shown once), rotating those credentials and a live check of the API key."""

from __future__ import annotations

import base64

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from portal import livechecks
from portal.console.wizard.checks import PROVIDER_KEY
from tenants.models import ProviderAccount, Tenant
from tenants.secret_binding import stored_key_refusal

from ..base import (
    ScopedModelViewSet,
    ScopedPrimaryKeyRelatedField,
    TenantScopedFilter,
    ValidatedModelSerializer,
    secret_field,
)
from .checks import LiveCheckSerializer, accepted


class WebhookConfigSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="The URL to set at the provider for incoming messages and reports.")
    auth = serializers.ChoiceField(choices=ProviderAccount.WebhookAuth.choices)
    username = serializers.CharField(allow_blank=True, help_text="For basic auth.")
    header = serializers.CharField(
        allow_blank=True, help_text="The header that carries the signature or token."
    )
    secret = serializers.CharField(
        required=False,
        help_text="Only in the answer to a create, a change of auth, or a rotation: copy it now.",
    )
    authorization = serializers.CharField(
        required=False,
        help_text="With basic auth, when the secret is shown: the whole Authorization header value, for a "
        "provider that sends a configured value verbatim (8x8's httpAuthorization).",
    )
    instructions = serializers.CharField()


AUTH_HEADERS: dict[str, str] = {  # by ProviderAccount.webhook_auth
    ProviderAccount.WebhookAuth.HMAC: "X-Hub-Signature-256",
    ProviderAccount.WebhookAuth.BASIC: "Authorization",
    ProviderAccount.WebhookAuth.HEADER: "X-Switchboard-Token",
}


def webhook_config(account: ProviderAccount, secret: str | None = None) -> dict:
    url = f"{settings.PUBLIC_BASE_URL}{account.webhook_path}"
    instructions: dict[str, str] = {
        ProviderAccount.WebhookAuth.HMAC: "sign each body with HMAC-SHA256 and the secret "
        "(X-Hub-Signature-256: sha256=<hex>)",
        ProviderAccount.WebhookAuth.BASIC: "send HTTP Basic credentials: the username and the secret",
        ProviderAccount.WebhookAuth.HEADER: "send the secret in the X-Switchboard-Token header",
    }
    how = instructions[account.webhook_auth]
    data = {
        "url": url,
        "auth": account.webhook_auth,
        "username": account.webhook_username,
        "header": AUTH_HEADERS[account.webhook_auth],
        "instructions": f"At {account.get_provider_display()}, set the webhook URL of incoming messages and "
        f"delivery reports to {url} and {how}.",
    }
    if secret:
        data["secret"] = secret
        if account.webhook_auth == ProviderAccount.WebhookAuth.BASIC:
            token = base64.b64encode(f"{account.webhook_username}:{secret}".encode()).decode()
            data["authorization"] = f"Basic {token}"
    return data


class ProviderAccountSerializer(ValidatedModelSerializer):
    tenant = ScopedPrimaryKeyRelatedField(
        tenant_path="pk", queryset=Tenant.objects.all(), help_text="Set on create; cannot change."
    )
    api_key = secret_field("The provider API key (required on create).")
    has_api_key = serializers.SerializerMethodField()
    webhook = serializers.SerializerMethodField(help_text="What to configure at the provider.")
    region = serializers.CharField(
        write_only=True,
        required=False,
        help_text="Instead of base_url, for a provider with regional hosts (8x8: apac, na, eu, id).",
    )
    clean_exclude = ("webhook_key", "webhook_secret", "webhook_username")

    class Meta:
        model = ProviderAccount
        fields = [
            "id",
            "tenant",
            "provider",
            "name",
            "base_url",
            "region",
            "api_key",
            "has_api_key",
            "subaccount_id",
            "provider_account_id",
            "active",
            "webhook_auth",
            "webhook",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"base_url": {"required": False}}

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list):
            fields["tenant"].read_only = True
        else:
            fields["api_key"].required = True
        return fields

    def get_has_api_key(self, obj) -> bool:
        return bool(obj.api_key)

    @extend_schema_field(WebhookConfigSerializer)
    def get_webhook(self, obj) -> dict:
        secrets = self.context.get("new_webhook_secrets") or {}
        return webhook_config(obj, secrets.get(obj.pk))

    def validate(self, attrs):
        """A new API base URL needs the API key in the same request (tenants/secret_binding.py); what the
        provider's adapter asks for besides the key is required (8x8: region or base URL, sub-account id,
        account id, basic webhook auth)."""
        self._provider_fields(attrs)
        if self.instance is not None and "base_url" in attrs and not attrs.get("api_key"):
            refusal = stored_key_refusal(self.instance.base_url, attrs["base_url"])
            if refusal:
                raise serializers.ValidationError({"api_key": [refusal]})
        return super().validate(attrs)

    def _provider_fields(self, attrs) -> None:
        from relay.providers.registry import get_provider

        def current(name: str):
            return attrs.get(name, getattr(self.instance, name, "") if self.instance is not None else "")

        try:
            adapter = get_provider(current("provider") or ProviderAccount.Provider.INFOBIP)
        except LookupError:
            return  # validate_provider said so
        errors: dict[str, list[str]] = {}
        regions = getattr(adapter, "regions", {})
        region = attrs.pop("region", "")
        if region:
            if region not in regions:
                names = ", ".join(regions) or "none"
                errors["region"] = [f"Unknown region {region[:20]!r}; this provider's regions: {names}."]
            elif "base_url" not in attrs:
                attrs["base_url"] = regions[region][1]
        if not current("base_url") and "region" not in errors:
            errors["base_url"] = ["Give the API base URL" + (" or the region." if regions else ".")]
        for name in getattr(adapter, "account_fields", ()):
            if not current(name):
                errors[name] = [f"Required for {adapter.name} accounts."]
        allowed = getattr(adapter, "webhook_auths", ())
        if allowed and (current("webhook_auth") or ProviderAccount.WebhookAuth.HMAC) not in allowed:
            errors["webhook_auth"] = [f"{adapter.name} can only send: {', '.join(allowed)}."]
        if errors:
            raise serializers.ValidationError(errors)

    def validate_provider(self, value):
        from relay.providers.registry import get_provider

        try:
            get_provider(value)
        except LookupError:
            raise serializers.ValidationError(f"Switchboard has no adapter for {value} yet.") from None
        return value


@extend_schema_view(
    list=extend_schema(summary="List provider accounts", parameters=[TenantScopedFilter]),
    create=extend_schema(summary="Add a provider account (answers with the webhook secret, once)"),
    retrieve=extend_schema(summary="Read a provider account"),
    update=extend_schema(summary="Change a provider account"),
    partial_update=extend_schema(summary="Change some fields of a provider account"),
    destroy=extend_schema(summary="Remove a provider account and its senders"),
)
class ProviderAccountViewSet(ScopedModelViewSet):
    queryset = ProviderAccount.objects.select_related("tenant")
    serializer_class = ProviderAccountSerializer
    filterset_class = TenantScopedFilter

    def perform_create(self, serializer):
        self._save_with_new_credentials(serializer)

    def perform_update(self, serializer):
        changed_auth = (
            "webhook_auth" in serializer.validated_data
            and serializer.validated_data["webhook_auth"] != serializer.instance.webhook_auth
        )
        if changed_auth:
            self._save_with_new_credentials(serializer)
        else:
            serializer.save()

    def _save_with_new_credentials(self, serializer):
        with transaction.atomic():
            account = serializer.save()
            secret = account.rotate_webhook_credentials()
            account.save(update_fields=["webhook_secret", "webhook_username", "updated_at"])
        serializer.context["new_webhook_secrets"] = {account.pk: secret}

    @extend_schema(
        summary="Check the API key at the provider, in the background",
        description="Answers 202 with a live check at once; poll its `url` until `status` is `done`.",
        request=None,
        responses={202: LiveCheckSerializer},
    )
    @action(detail=True, methods=["post"])
    def validate(self, request, pk=None):
        account = self.get_object()
        check = livechecks.start(
            account.tenant, f"{PROVIDER_KEY}:{account.pk}", params={"account": account.pk}
        )
        return accepted(request, check)

    @extend_schema(
        summary="Generate new webhook credentials (the old ones stop working)",
        request=None,
        responses=WebhookConfigSerializer,
    )
    @action(detail=True, methods=["post"], url_path="rotate-webhook-credentials")
    def rotate_webhook_credentials(self, request, pk=None):
        account = self.get_object()
        secret = account.rotate_webhook_credentials()
        account.save(update_fields=["webhook_secret", "webhook_username", "updated_at"])
        return Response(WebhookConfigSerializer(webhook_config(account, secret)).data)
