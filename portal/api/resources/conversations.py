"""``/api/v1/conversations/``: read a tenant's conversations (filters, cursor pages)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers

from relay.models import Conversation
from tenants.validators import normalize_e164

from ..base import FilterSet, ScopedViewSet
from ..pagination import NewestFirstPagination


class ConversationSerializer(serializers.ModelSerializer):
    window_open = serializers.SerializerMethodField(
        help_text="WhatsApp: free text may be sent (the customer wrote in the last 24 hours)."
    )

    class Meta:
        model = Conversation
        fields = [
            "id",
            "tenant",
            "sender",
            "customer",
            "customer_name",
            "status",
            "salesforce_conversation_id",
            "messaging_session_id",
            "session_status",
            "last_inbound_at",
            "window_open",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_window_open(self, obj) -> bool:
        return obj.window_open()


def customer_lookup(value: str) -> str:
    try:
        return normalize_e164(value)
    except DjangoValidationError:
        return value.strip()  # a Viber id or a channel user id


class ConversationFilter(FilterSet):
    tenant = serializers.IntegerField(required=False)
    sender = serializers.IntegerField(required=False)
    customer = serializers.CharField(required=False, help_text="E.164 number (or the channel's user id).")
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    updated_since = serializers.DateTimeField(required=False, help_text="Active at or after (ISO 8601).")
    updated_until = serializers.DateTimeField(required=False, help_text="Active before (ISO 8601).")
    lookups = {"sender": "sender_id", "updated_since": "updated_at__gte", "updated_until": "updated_at__lt"}

    def validate_customer(self, value):
        return customer_lookup(value)


@extend_schema_view(
    list=extend_schema(summary="List conversations, newest first", parameters=[ConversationFilter]),
    retrieve=extend_schema(summary="Read a conversation"),
)
class ConversationViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    queryset = Conversation.objects.all()
    serializer_class = ConversationSerializer
    filterset_class = ConversationFilter
    pagination_class = NewestFirstPagination
