"""``/api/v1/routing-rules/``: where a sender's conversations go in Salesforce (queue, agent, flow), by
customer pattern and priority."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from tenants.models import RoutingRule, Sender, Tenant

from ..base import (
    ScopedModelViewSet,
    ScopedPrimaryKeyRelatedField,
    TenantScopedFilter,
    ValidatedModelSerializer,
)


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
