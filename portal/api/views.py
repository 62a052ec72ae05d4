"""Configuration resources: tenants and their texts, Salesforce connections, provider accounts, senders,
routing rules. Each viewset scopes through :class:`~portal.api.base.ScopedViewSet`."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.viewsets import ModelViewSet

from portal import livechecks
from portal.console.wizard.checks import LIVECHAT, PROVIDER_KEY, SALESFORCE_LOGIN, SENDER_SYNC
from tenants.certificates import certificate_expiry, generate_key_pair
from tenants.models import ProviderAccount, RoutingRule, SalesforceConnection, Sender, Tenant

from .base import FilterSet, ScopedViewSet
from .checks import LiveCheckSerializer, accepted
from .serializers import (
    CertificateSerializer,
    ProviderAccountSerializer,
    RoutingRuleSerializer,
    SalesforceConnectionSerializer,
    SenderSerializer,
    SenderSyncSerializer,
    TenantSerializer,
    TenantTextsSerializer,
    WebhookConfigSerializer,
    webhook_config,
)


class ScopedModelViewSet(ScopedViewSet, ModelViewSet):
    pass


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
        summary="Check the saved Legacy Chat settings live at the Chat API, in the background",
        description="Answers 202 with a live check at once; poll its `url` until `status` is `done`. Passed: "
        "its message says whether the chat button is online (an agent can take a chat) or offline. Failed: "
        "the message names the wrong value and `code` is `wrong_chat_api_endpoint`, `wrong_org_id`, "
        "`wrong_deployment_id` or `wrong_button_id` (`desk` when the connection is not on the Legacy Chat "
        "desk, `incomplete` when a value is not set). Uses Visitor/Settings and Visitor/Availability: no "
        "chat is started.",
        request=None,
        responses={202: LiveCheckSerializer},
    )
    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        connection = self.get_object()
        return accepted(request, livechecks.start(connection.tenant, LIVECHAT))


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
        summary="Add the provider account's numbers that Switchboard does not have yet, in the background",
        description="Answers 202 with a live check at once; poll its `url` until `status` is `done`: its "
        "`result` then lists the senders created, those that existed and those skipped.",
        request=SenderSyncSerializer,
        responses={202: LiveCheckSerializer},
    )
    @action(detail=False, methods=["post"], serializer_class=SenderSyncSerializer)
    def sync(self, request):
        params = SenderSyncSerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        account, enable = params.validated_data["account"], params.validated_data["enable"]
        check = livechecks.start(
            account.tenant,
            f"{SENDER_SYNC}:{account.pk}",
            params={"account": account.pk, "enable": enable},
            dedupe=False,  # "enable" may differ between two requests; the tenant's worker slots bound them
        )
        return accepted(request, check)


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
