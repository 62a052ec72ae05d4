"""Configuration resources: tenants and their texts, Salesforce connections, provider accounts, senders,
routing rules. Each viewset scopes through :class:`~portal.api.base.ScopedViewSet`."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.viewsets import ModelViewSet

from relay.errors import ExternalError
from relay.providers.base import get_provider
from relay.salesforce.auth import get_token
from tenants.certificates import certificate_expiry, generate_key_pair
from tenants.models import ProviderAccount, RoutingRule, SalesforceConnection, Sender, Tenant

from .base import FilterSet, ScopedViewSet
from .errors import ErrorSerializer
from .serializers import (
    CertificateSerializer,
    CheckResultSerializer,
    ProviderAccountSerializer,
    RoutingRuleSerializer,
    SalesforceConnectionSerializer,
    SenderSerializer,
    SenderSyncResultSerializer,
    SenderSyncSerializer,
    TenantSerializer,
    TenantTextsSerializer,
    WebhookConfigSerializer,
    webhook_config,
)

UPSTREAM_ERROR = OpenApiResponse(ErrorSerializer, description="The provider or Salesforce failed to answer.")


class ScopedModelViewSet(ScopedViewSet, ModelViewSet):
    pass


def check_result(ok: bool, message: str, code: str = "") -> Response:
    return Response(CheckResultSerializer({"ok": ok, "message": message, "code": code or ""}).data)


# --- tenants ----------------------------------------------------------------------------------------------


class TenantFilter(FilterSet):
    active = serializers.BooleanField(required=False, allow_null=True, default=None)
    slug = serializers.CharField(required=False)


@extend_schema_view(
    list=extend_schema(summary="List the tenants this key may see", parameters=[TenantFilter]),
    create=extend_schema(summary="Create a tenant (partner keys only)"),
    retrieve=extend_schema(summary="Read a tenant"),
    update=extend_schema(summary="Change a tenant"),
    partial_update=extend_schema(summary="Change some fields of a tenant"),
)
class TenantViewSet(
    ScopedViewSet,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
):
    """Tenants are not deleted through the API (their history stays): set ``active`` to false."""

    queryset = Tenant.objects.all()
    serializer_class = TenantSerializer
    tenant_path = "pk"
    filterset_class = TenantFilter

    def create(self, request, *args, **kwargs):
        if not self.scope.is_partner:
            raise exceptions.PermissionDenied("Only a partner key creates tenants.")
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.save(partner_id=self.scope.partner_id)

    @extend_schema(summary="Read the texts customers see", responses=TenantTextsSerializer)
    @action(detail=True, methods=["get"], serializer_class=TenantTextsSerializer)
    def texts(self, request, pk=None):
        return Response(TenantTextsSerializer(self.get_object()).data)

    @extend_schema(summary="Change the texts customers see", responses=TenantTextsSerializer)
    @texts.mapping.patch
    def update_texts(self, request, pk=None):
        serializer = TenantTextsSerializer(
            self.get_object(), data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)


# --- Salesforce connections -------------------------------------------------------------------------------


class TenantScopedFilter(FilterSet):
    tenant = serializers.IntegerField(required=False, help_text="Only this tenant's.")


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
        summary="Sign in to Salesforce now with these settings (JWT bearer flow)",
        request=None,
        responses=CheckResultSerializer,
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        connection = self.get_object()
        missing = [
            name
            for name in ("consumer_key", "integration_username", "private_key")
            if not getattr(connection, name)
        ]
        if missing:
            return check_result(False, f"Set {', '.join(missing)} first.", "incomplete")
        try:
            token = get_token(connection, refresh=True)  # a fresh sign-in: a cached token proves nothing
        except ExternalError as exc:
            return check_result(False, exc.message, exc.code or "")
        return check_result(
            True, f"Signed in to {token.instance_url} as {connection.integration_username}.", ""
        )


# --- provider accounts ------------------------------------------------------------------------------------


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
        summary="Check the API key at the provider now", request=None, responses=CheckResultSerializer
    )
    @action(detail=True, methods=["post"])
    def validate(self, request, pk=None):
        account = self.get_object()
        try:
            get_provider(account.provider).check_credentials(account)
        except ExternalError as exc:
            return check_result(False, exc.message, exc.code or "")
        return check_result(True, f"{account.get_provider_display()} accepted the API key.")

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


# --- senders and routing rules ----------------------------------------------------------------------------


class SenderFilter(TenantScopedFilter):
    account = serializers.IntegerField(required=False)
    channel = serializers.ChoiceField(choices=Sender.Channel.choices, required=False)
    enabled = serializers.BooleanField(required=False, allow_null=True, default=None)


@extend_schema_view(
    list=extend_schema(summary="List senders", parameters=[SenderFilter]),
    create=extend_schema(summary="Add a sender (a number or sender name of a provider account)"),
    retrieve=extend_schema(summary="Read a sender"),
    update=extend_schema(summary="Change a sender"),
    partial_update=extend_schema(summary="Change some fields of a sender"),
    destroy=extend_schema(summary="Remove a sender (409 while conversations use it: disable it instead)"),
)
class SenderViewSet(ScopedModelViewSet):
    queryset = Sender.objects.select_related("tenant", "account")
    serializer_class = SenderSerializer
    filterset_class = SenderFilter

    @extend_schema(
        summary="Add the provider account's numbers that Switchboard does not have yet",
        request=SenderSyncSerializer,
        responses={200: SenderSyncResultSerializer, 502: UPSTREAM_ERROR},
    )
    @action(detail=False, methods=["post"], serializer_class=SenderSyncSerializer)
    def sync(self, request):
        params = SenderSyncSerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        account, enable = params.validated_data["account"], params.validated_data["enable"]
        remote = get_provider(account.provider).list_senders(account)  # ExternalError → 502
        created, existing, skipped = [], [], []
        with transaction.atomic():
            for item in remote:
                found = Sender.objects.filter(
                    account=account, channel=item.channel, address=item.address
                ).first()
                if found is not None:
                    existing.append(found)
                    continue
                sender = Sender(
                    tenant=account.tenant,
                    account=account,
                    channel=item.channel,
                    address=item.address,
                    display_name=item.display_name[:120],
                    enabled=enable,
                )
                try:
                    sender.full_clean()
                except DjangoValidationError as exc:
                    skipped.append({"channel": item.channel, "address": item.address, "reason": exc.messages})
                    continue
                if Sender.objects.filter(
                    account=account, channel=sender.channel, address=sender.address
                ).exists():
                    continue
                sender.save()
                created.append(sender)
        context = self.get_serializer_context()
        return Response(
            {
                "created": SenderSerializer(created, many=True, context=context).data,
                "existing": SenderSerializer(existing, many=True, context=context).data,
                "skipped": skipped,
            }
        )


class RoutingRuleFilter(TenantScopedFilter):
    sender = serializers.IntegerField(required=False)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)


@extend_schema_view(
    list=extend_schema(summary="List routing rules", parameters=[RoutingRuleFilter]),
    create=extend_schema(summary="Add a routing rule to a sender"),
    retrieve=extend_schema(summary="Read a routing rule"),
    update=extend_schema(summary="Change a routing rule"),
    partial_update=extend_schema(summary="Change some fields of a routing rule"),
    destroy=extend_schema(summary="Remove a routing rule"),
)
class RoutingRuleViewSet(ScopedModelViewSet):
    queryset = RoutingRule.objects.select_related("tenant", "sender")
    serializer_class = RoutingRuleSerializer
    filterset_class = RoutingRuleFilter
