"""``/api/v1/routing-rules/``: where a sender's conversations go in Salesforce (queue, agent, flow), by
customer pattern and priority."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from tenants.models import RoutingRule, Sender

from ..base import (
    ParentTenantSerializer,
    ScopedModelViewSet,
    ScopedPrimaryKeyRelatedField,
    TenantScopedFilter,
    parent_tenant_field,
)


class RoutingRuleSerializer(ParentTenantSerializer):
    parent_field = "sender"
    same_tenant_message = "A rule stays with its tenant's senders."

    tenant = parent_tenant_field("The sender's tenant.")
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
