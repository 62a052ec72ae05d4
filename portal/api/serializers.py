"""Serializers of the configuration resources. Secrets are write-only everywhere: a response says
whether one is set, never what it is (except a generated webhook secret, once, when it is made)."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.text import slugify
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from tenants.certificates import certificate_expiry, private_key_matches_certificate
from tenants.models import Partner, ProviderAccount, RoutingRule, SalesforceConnection, Sender, Tenant
from tenants.secret_binding import stored_key_refusal
from tenants.validators import normalize_salesforce_id

from .auth import scope_of
from .base import DurationSecondsField, ScopedPrimaryKeyRelatedField, ValidatedModelSerializer, secret_field

MAX_DELIVERY_WINDOW = 30 * 24 * 3600
NOT_AVAILABLE = {"org_id": "This Salesforce org id", "slug": "This slug"}


class TenantSerializer(ValidatedModelSerializer):
    partner: serializers.PrimaryKeyRelatedField[Partner] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The partner that runs it."
    )
    slug = serializers.SlugField(max_length=50, required=False, help_text="Default: made from the name.")
    delivery_window_seconds = DurationSecondsField(
        source="delivery_window",
        required=False,
        min_value=60,
        max_value=MAX_DELIVERY_WINDOW,
        help_text="How long a message keeps being retried before it is failed (default 3 days).",
    )

    class Meta:
        model = Tenant
        fields = [
            "id",
            "name",
            "slug",
            "org_id",
            "partner",
            "active",
            "delivery_window_seconds",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {
            "org_id": {"help_text": "Salesforce org id, 15 or 18 characters (00D…); stored as 18."}
        }

    def get_fields(self):
        fields = super().get_fields()
        scope = scope_of(self.context.get("request"))
        if scope is not None and not scope.is_partner:
            # A tenant admin's key may not move its tenant to another org or switch it off (as in the admin).
            for name in ("slug", "org_id", "active"):
                fields[name].read_only = True
        return fields

    def derived_values(self, attrs, instance):
        if not attrs.get("slug") and not instance.slug:
            return {"slug": slugify(attrs.get("name") or instance.name)[:50]}
        return {}

    def run_validation(self, data=serializers.empty):
        """An org id or slug in use answers "not available", the same whoever uses it: the answer must not
        tell a partner which org ids another partner runs (the model's "already exists" would)."""
        try:
            return super().run_validation(data)
        except serializers.ValidationError as exc:
            detail, codes = exc.detail, exc.get_codes()
            if isinstance(detail, dict) and isinstance(codes, dict):
                for name, label in NOT_AVAILABLE.items():
                    if "unique" in (codes.get(name) or []):
                        detail[name] = [ErrorDetail(f"{label} is not available.", code="not_available")]
            raise serializers.ValidationError(detail) from None


class TenantTextsSerializer(ValidatedModelSerializer):
    class Meta:
        model = Tenant
        fields = ["welcome_text", "closing_text", "no_agent_text"]


class SalesforceConnectionSerializer(ValidatedModelSerializer):
    tenant = ScopedPrimaryKeyRelatedField(
        tenant_path="pk", queryset=Tenant.objects.all(), help_text="Set on create; cannot change."
    )
    private_key = secret_field(
        "PEM private key that signs the JWT assertion, with `certificate`. Omit both on create to have "
        "Switchboard generate the pair (recommended): the private key then never leaves Switchboard."
    )
    has_private_key = serializers.SerializerMethodField()
    certificate = serializers.CharField(
        required=False, help_text="PEM certificate to upload to the Connected App (Use digital signatures)."
    )
    certificate_expires_at = serializers.SerializerMethodField()
    canvas_consumer_secret = secret_field("Consumer secret of the Canvas app (verifies signed requests).")
    has_canvas_consumer_secret = serializers.SerializerMethodField()
    # Legacy Chat (desk "livechat"): the three values, or the two snippets Setup shows, which they are read from.
    deployment_code = serializers.CharField(
        write_only=True,
        required=False,
        max_length=20_000,
        help_text="Legacy Chat: the Deployment Code from Setup → Chat → Deployments, with `button_code`, "
        "instead of chat_api_endpoint and chat_deployment_id (its org must be the tenant's).",
    )
    button_code = serializers.CharField(
        write_only=True,
        required=False,
        max_length=20_000,
        help_text="Legacy Chat: the Chat Button Code from Setup → Chat → Chat Buttons & Invitations, with "
        "`deployment_code`, instead of chat_button_id.",
    )

    class Meta:
        model = SalesforceConnection
        fields = [
            "id",
            "tenant",
            "desk",
            "environment",
            "login_url",
            "instance_url",
            "scrt_url",
            "consumer_key",
            "integration_username",
            "private_key",
            "has_private_key",
            "certificate",
            "certificate_expires_at",
            "authorization_context",
            "platform_event",
            "event_type_field",
            "event_payload_field",
            "canvas_consumer_secret",
            "has_canvas_consumer_secret",
            "chat_api_endpoint",
            "chat_deployment_id",
            "chat_button_id",
            "deployment_code",
            "button_code",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {
            "chat_api_endpoint": {"help_text": "Legacy Chat: Setup → Chat Settings → Chat API Endpoint "
                                  "(…/chat, stored as the REST endpoint …/chat/rest/)."},
            "chat_deployment_id": {"help_text": "Legacy Chat: the deployment id (572…), 15 or 18 characters."},
            "chat_button_id": {"help_text": "Legacy Chat: the chat button id (573…), 15 or 18 characters."},
        }  # fmt: skip

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list):
            fields["tenant"].read_only = True
        return fields

    def validate_chat_api_endpoint(self, value: str) -> str:
        from portal.console.snippets import rest_endpoint

        return rest_endpoint(value) if value else value

    def validate_chat_deployment_id(self, value: str) -> str:
        return _salesforce_id(value, "chat_deployment")

    def validate_chat_button_id(self, value: str) -> str:
        return _salesforce_id(value, "chat_button")

    def _chat_snippets(self, attrs) -> None:
        """The two pasted snippets, read into the three chat settings (portal/console/snippets.py)."""
        from portal.console.snippets import parse_legacy_chat

        deployment_code, button_code = attrs.pop("deployment_code", None), attrs.pop("button_code", None)
        if deployment_code is None and button_code is None:
            return
        if not deployment_code or not button_code:
            missing = "button_code" if deployment_code else "deployment_code"
            raise serializers.ValidationError({missing: ["Send deployment_code and button_code together."]})
        for name in ("chat_api_endpoint", "chat_deployment_id", "chat_button_id"):
            if name in attrs:
                raise serializers.ValidationError(
                    {name: ["Send the snippets or the chat settings, not both."]}
                )
        try:
            parsed = parse_legacy_chat(deployment_code, button_code)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        tenant = attrs.get("tenant") or getattr(self.instance, "tenant", None)
        if tenant is not None and parsed.org_id != tenant.org_id:
            raise serializers.ValidationError(
                {"deployment_code": [f"This code is for the org {parsed.org_id}, but the tenant is the org "
                                     f"{tenant.org_id}: copy it from the tenant's org."]}
            )  # fmt: skip
        attrs["chat_api_endpoint"] = parsed.chat_api_endpoint
        attrs["chat_deployment_id"] = parsed.deployment_id
        attrs["chat_button_id"] = parsed.button_id

    def get_has_private_key(self, obj) -> bool:
        return bool(obj.private_key)

    def get_has_canvas_consumer_secret(self, obj) -> bool:
        return bool(obj.canvas_consumer_secret)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_certificate_expires_at(self, obj):
        return certificate_expiry(obj.certificate) if obj.certificate else None

    def validate(self, attrs):
        self._chat_snippets(attrs)
        key, certificate = attrs.get("private_key"), attrs.get("certificate")
        if key is not None or certificate is not None:
            if not key or not certificate:
                raise serializers.ValidationError(
                    {"certificate": ["Send private_key and certificate together, or neither."]}
                )
            try:
                serialization.load_pem_private_key(key.encode(), password=None)
            except (ValueError, TypeError):
                raise serializers.ValidationError(
                    {"private_key": ["Not an unencrypted PEM private key."]}
                ) from None
            try:
                matches = private_key_matches_certificate(key, certificate)
            except ValueError:
                raise serializers.ValidationError({"certificate": ["Not a PEM certificate."]}) from None
            if not matches:
                raise serializers.ValidationError({"certificate": ["This certificate is not the key's."]})
        return super().validate(attrs)


def _salesforce_id(value: str, kind: str) -> str:
    """A 15- or 18-character id of this kind, stored as 18; an empty value clears it."""
    if not value:
        return value
    try:
        return normalize_salesforce_id(value, kind=kind)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


class CertificateSerializer(serializers.Serializer):
    certificate = serializers.CharField(help_text="PEM certificate to upload to the Connected App.")
    certificate_expires_at = serializers.DateTimeField()


class CheckResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="Whether the live check passed.")
    message = serializers.CharField(help_text="What was checked, or what went wrong and what to do.")
    code = serializers.CharField(allow_blank=True, help_text="The vendor's error code, when there is one.")


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


class SenderSerializer(ValidatedModelSerializer):
    tenant: serializers.PrimaryKeyRelatedField[Tenant] = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text="The account's tenant."
    )
    account = ScopedPrimaryKeyRelatedField(queryset=ProviderAccount.objects.all())

    class Meta:
        model = Sender
        fields = [
            "id",
            "tenant",
            "account",
            "channel",
            "address",
            "display_name",
            "enabled",
            "channel_address_identifier",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        # The model's own constraint check (full_clean) runs on the normalized number.
        validators: list[Any] = []

    def derived_values(self, attrs, instance):
        account = attrs.get("account")
        if account is None:
            return {}
        if instance.pk and account.tenant_id != instance.tenant_id:
            raise serializers.ValidationError({"account": ["A sender stays with its tenant's accounts."]})
        return {"tenant": account.tenant}


class SenderSyncSerializer(serializers.Serializer):
    account = ScopedPrimaryKeyRelatedField(queryset=ProviderAccount.objects.all())
    enable = serializers.BooleanField(
        default=False,
        help_text="Enable the senders it adds. Default: added disabled until you set their Messaging channel.",
    )


class SkippedSenderSerializer(serializers.Serializer):
    channel = serializers.CharField()
    address = serializers.CharField()
    reason = serializers.ListField(child=serializers.CharField())


class SenderSyncResultSerializer(serializers.Serializer):
    created = SenderSerializer(many=True, help_text="Added now.")
    existing = SenderSerializer(many=True, help_text="Switchboard had them already; left as they are.")
    skipped = SkippedSenderSerializer(many=True, help_text="Listed by the provider but not valid here.")


class RoutingRuleSerializer(ValidatedModelSerializer):
    tenant: serializers.PrimaryKeyRelatedField[Tenant] = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text="The sender's tenant."
    )
    sender = ScopedPrimaryKeyRelatedField(queryset=Sender.objects.all())

    class Meta:
        model = RoutingRule
        fields = [
            "id",
            "tenant",
            "sender",
            "customer_pattern",
            "target_type",
            "target_id",
            "target_label",
            "fallback_type",
            "fallback_id",
            "fallback_label",
            "priority",
            "sticky_agent",
            "active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def derived_values(self, attrs, instance):
        sender = attrs.get("sender")
        if sender is None:
            return {}
        if instance.pk and sender.tenant_id != instance.tenant_id:
            raise serializers.ValidationError({"sender": ["A rule stays with its tenant's senders."]})
        return {"tenant": sender.tenant}
