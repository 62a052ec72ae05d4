"""``/api/v1/salesforce-connections/``: a tenant's Salesforce org (JWT bearer sign-in, Canvas, Legacy Chat),
its key pair, and live checks of the sign-in and of the Legacy Chat settings."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from portal import livechecks
from portal.console.wizard.cases import CASES
from portal.console.wizard.checks import LIVECHAT, SALESFORCE_LOGIN
from portal.console.wizard.enhanced_chat import ENHANCED_CHAT
from tenants.certificates import certificate_expiry, generate_key_pair, private_key_matches_certificate
from tenants.models import SalesforceConnection, Tenant
from tenants.validators import normalize_salesforce_id

from ..base import (
    ScopedModelViewSet,
    ScopedPrimaryKeyRelatedField,
    TenantScopedFilter,
    ValidatedModelSerializer,
    secret_field,
)
from .checks import LiveCheckSerializer, accepted


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
            "es_developer_name",
            "case_transcript",
            "case_reopen_hours",
            "case_reopen_status",
            "case_origins",
            "case_status_texts",
            "case_field_mapping",
            "case_default_queue_id",
            "case_create_contacts",
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
            "es_developer_name": {"help_text": "Enhanced Chat: the API Name of the Custom Client Embedded Service "
                                  "deployment (its host is scrt_url, from the deployment's Code Snippet)."},
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

    def validate_case_default_queue_id(self, value: str) -> str:
        return _salesforce_id(value, "queue")

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


@extend_schema_view(
    list=extend_schema(summary="List Salesforce connections", parameters=[TenantScopedFilter]),
    create=extend_schema(summary="Connect a tenant's Salesforce org (generates the key pair)"),
    retrieve=extend_schema(summary="Read a Salesforce connection"),
    update=extend_schema(summary="Change a Salesforce connection"),
    partial_update=extend_schema(summary="Change some fields of a Salesforce connection"),
    destroy=extend_schema(summary="Remove a Salesforce connection"),
)
class SalesforceConnectionViewSet(ScopedModelViewSet):
    queryset = SalesforceConnection.objects.select_related("tenant")
    serializer_class = SalesforceConnectionSerializer
    filterset_class = TenantScopedFilter

    def perform_create(self, serializer):
        extra = {}
        if not serializer.validated_data.get("private_key"):
            tenant = serializer.validated_data["tenant"]
            extra["private_key"], extra["certificate"] = generate_key_pair(f"Switchboard {tenant.slug}")
        serializer.save(**extra)

    @extend_schema(
        summary="Generate a new key pair and certificate (replaces the current one)",
        request=None,
        responses=CertificateSerializer,
    )
    @action(detail=True, methods=["post"], url_path="generate-certificate")
    def generate_certificate(self, request, pk=None):
        connection = self.get_object()
        connection.private_key, connection.certificate = generate_key_pair(
            f"Switchboard {connection.tenant.slug}"
        )
        connection.save(update_fields=["private_key", "certificate", "updated_at"])
        return Response(
            CertificateSerializer(
                {
                    "certificate": connection.certificate,
                    "certificate_expires_at": certificate_expiry(connection.certificate),
                }
            ).data
        )

    @extend_schema(
        summary="Sign in to Salesforce with these settings (JWT bearer flow), in the background",
        description="Answers 202 with a live check at once; poll its `url` until `status` is `done`.",
        request=None,
        responses={202: LiveCheckSerializer},
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        connection = self.get_object()
        return accepted(request, livechecks.start(connection.tenant, SALESFORCE_LOGIN))

    @extend_schema(
        summary="Check the saved Legacy Chat or Enhanced Chat settings live, in the background",
        description="Answers 202 with a live check at once; poll its `url` until `status` is `done`. Passed: "
        "its message says whether the chat button is online (an agent can take a chat) or offline. Failed: "
        "the message names the wrong value and `code` is `wrong_chat_api_endpoint`, `wrong_org_id`, "
        "`wrong_deployment_id` or `wrong_button_id` (`desk` when the connection is not on the Legacy Chat "
        "desk, `incomplete` when a value is not set). Uses Visitor/Settings and Visitor/Availability: no "
        "chat is started. On the Enhanced Chat desk it asks the deployment for a guest's access token (no "
        "conversation is started): a failure's `code` is `wrong_scrt_url`, `wrong_org_id` or "
        "`wrong_es_developer_name`. On the Cases desk it checks what the integration user needs (describe Case, "
        "Contact, the transcript object and ContentVersion; the /data/CaseChangeEvent topic): a failure's "
        "`code` is `missing_access` and `data.problems` says what to change in Setup (docs/cases.md).",
        request=None,
        responses={202: LiveCheckSerializer},
    )
    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        connection = self.get_object()
        kind = {
            SalesforceConnection.Desk.ENHANCED_CHAT: ENHANCED_CHAT,
            SalesforceConnection.Desk.CASES: CASES,
        }
        return accepted(request, livechecks.start(connection.tenant, kind.get(connection.desk, LIVECHAT)))
