"""``/api/v1/webhook-deliveries/``: the partner-webhook delivery log with each delivery's attempts, and
sending one again."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from portal import queueing

from .. import tasks
from ..base import FilterSet, ScopedViewSet
from ..models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from ..pagination import NewestFirstPagination


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["id", "status_code", "error", "duration_ms", "created_at"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "subscription",
            "tenant",
            "event",
            "event_id",
            "payload",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created_at",
            "attempt_log",
        ]
        read_only_fields = fields


class DeliveryFilter(FilterSet):
    subscription = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
    event = serializers.CharField(required=False, max_length=60)


@extend_schema_view(
    list=extend_schema(summary="The webhook delivery log, newest first", parameters=[DeliveryFilter]),
    retrieve=extend_schema(summary="Read a delivery with its attempts"),
)
class WebhookDeliveryViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    queryset = WebhookDelivery.objects.prefetch_related("attempt_log")
    serializer_class = WebhookDeliverySerializer
    filterset_class = DeliveryFilter
    pagination_class = NewestFirstPagination

    def scope_queryset(self, queryset, scope):
        """The caller's subscriptions' deliveries, and of those only the events of tenants it may see: a
        partner can move a subscription to another of its tenants, and the log it carried before (the old
        tenant's messages and customers) must not come with it. A delivery of no tenant (a partner-level
        subscription's ping) is its partner's."""
        of_its_tenants = Q(tenant__in=scope.tenant_ids())
        if scope.is_partner:
            of_its_tenants |= Q(tenant__isnull=True)
        return queryset.filter(
            of_its_tenants, subscription__in=scope.filter_owned(WebhookSubscription.objects.all())
        )

    @extend_schema(
        summary="Send this delivery again now", request=None, responses={202: WebhookDeliverySerializer}
    )
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        delivery = self.get_object()
        self.scope.refuse_unless_manager(delivery.subscription)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.PENDING, next_attempt_at=timezone.now(), attempts=0
        )
        queueing.after_commit(tasks.deliver_partner_webhook, delivery.pk)
        delivery.refresh_from_db()
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
