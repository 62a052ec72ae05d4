"""``/api/v1/webhook-subscriptions/``: a partner's (or a tenant admin's) endpoints for partner events, their
signing secret (shown once) and a test event (ping).

Whoever made a subscription manages it: one a partner made for a tenant is the partner's integration, which the
tenant's admins may read but not change, delete, ping or re-key (403: they see it, so its existence is no
secret); the partner manages its tenants' admins' subscriptions too."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.viewsets import ModelViewSet

from .. import webhooks
from ..base import OwnedSerializer, ScopedViewSet, owner_tenant_field
from ..models import WebhookEvent, WebhookSubscription
from .webhook_deliveries import WebhookDeliverySerializer

SUBSCRIBABLE = [choice for choice in WebhookEvent.choices if choice[0] != WebhookEvent.PING]
# What only the subscription's manager may do; reading it (and its delivery log) is open to its tenant's admins.
MANAGING = {"update", "partial_update", "destroy", "rotate_secret", "ping"}


class WebhookSubscriptionSerializer(OwnedSerializer):
    tenant = owner_tenant_field(
        "Only this tenant's events. Omit (partner keys) for every tenant of the partner."
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE),
        required=False,
        max_length=len(SUBSCRIBABLE),
        help_text="The event types to send; empty or omitted: all of them.",
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "partner",
            "tenant",
            "url",
            "events",
            "active",
            "description",
            "managed_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["managed_by", "created_at", "updated_at"]

    def validate_events(self, value):
        return sorted(set(value))


class WebhookSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Signs every delivery. Shown this once: store it now.")


class NewWebhookSubscriptionSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(read_only=True, help_text="Signs every delivery. Shown this once.")

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]


@extend_schema_view(
    list=extend_schema(summary="List webhook subscriptions"),
    create=extend_schema(
        summary="Subscribe an endpoint (the answer carries the signing secret, once)",
        responses={201: NewWebhookSubscriptionSerializer},
    ),
    retrieve=extend_schema(summary="Read a webhook subscription"),
    update=extend_schema(summary="Change a webhook subscription"),
    partial_update=extend_schema(summary="Change some fields of a webhook subscription"),
    destroy=extend_schema(summary="Remove a webhook subscription and its delivery log"),
)
class WebhookSubscriptionViewSet(ScopedViewSet, ModelViewSet):
    queryset = WebhookSubscription.objects.all()
    serializer_class = WebhookSubscriptionSerializer
    owned = True

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tenant, partner = self.owner(serializer.validated_data.pop("tenant", None))
        managed_by = WebhookSubscription.ManagedBy
        subscription = WebhookSubscription(
            **serializer.validated_data,
            tenant=tenant,
            partner=partner,
            managed_by=managed_by.PARTNER if self.scope.is_partner else managed_by.TENANT,
        )
        secret = subscription.rotate_secret()
        subscription.save()
        data = NewWebhookSubscriptionSerializer(subscription, context=self.get_serializer_context()).data
        data["secret"] = secret
        return Response(data, status=status.HTTP_201_CREATED)

    def get_object(self):
        subscription = super().get_object()
        if self.action in MANAGING:
            self.scope.refuse_unless_manager(subscription)
        return subscription

    def perform_update(self, serializer):
        if not self.scope.is_partner:
            serializer.validated_data.pop("tenant", None)  # a tenant key's subscriptions stay its tenant's
        elif "tenant" in serializer.validated_data:
            tenant = serializer.validated_data["tenant"]
            serializer.validated_data["partner_id"] = None if tenant else self.scope.partner_id
            if tenant != serializer.instance.tenant:
                # Moved by the partner: its own now, not left for the new tenant's admins to manage. (The same
                # tenant sent back, as a PUT of what was read does, moves nothing and takes nothing over.)
                serializer.validated_data["managed_by"] = WebhookSubscription.ManagedBy.PARTNER
        url = serializer.validated_data.get("url")
        if self.scope.is_partner and url is not None and url != serializer.instance.url:
            # Pointed elsewhere by the partner: its own now, so it goes when the tenant moves to another partner
            # (left as the tenant admins', it kept sending the tenant's events to the old partner's endpoint).
            serializer.validated_data["managed_by"] = WebhookSubscription.ManagedBy.PARTNER
        serializer.save()

    @extend_schema(
        summary="Generate a new signing secret (the old one stops at once)",
        request=None,
        responses=WebhookSecretSerializer,
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        subscription = self.get_object()
        secret = subscription.rotate_secret()
        subscription.save(update_fields=["secret", "updated_at"])
        return Response({"secret": secret})

    @extend_schema(
        summary="Send a test event (ping) now", request=None, responses={202: WebhookDeliverySerializer}
    )
    @action(detail=True, methods=["post"])
    def ping(self, request, pk=None):
        subscription = self.get_object()
        with transaction.atomic():
            (delivery,) = webhooks.enqueue(
                [subscription], subscription.tenant_id, WebhookEvent.PING, {"subscription": subscription.pk}
            )
        delivery.refresh_from_db()
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
