"""``/api/v1/messages/``: read messages (filters, cursor pages), send a text or a WhatsApp template to a
customer through the relay's outbound line (``relay.outbound.to_customer.send_to_customer``), retry a failed
message."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from relay.lines.retry_failed import retry_failed
from relay.lines.waiting import with_line_head
from relay.models import Conversation, Message
from relay.outbound.template_send import send_template
from relay.outbound.to_customer import customer_id, send_to_customer
from tenants.models import Sender

from .. import idempotency
from ..base import FilterSet, ScopedPrimaryKeyRelatedField, ScopedViewSet
from ..errors import Conflict, ErrorSerializer
from ..pagination import NewestFirstPagination
from ..throttling import ApiKeyRateThrottle, SendRateThrottle
from .conversations import customer_lookup


class MessageSerializer(serializers.ModelSerializer):
    sender = serializers.IntegerField(source="conversation.sender_id", read_only=True)
    customer = serializers.CharField(source="conversation.customer", read_only=True)
    template = serializers.SerializerMethodField(help_text="For template messages: name, language, values.")
    waiting_reason = serializers.CharField(
        read_only=True,
        help_text="Why a pending message has not gone yet: its own last error and next try, or, behind the "
        "first pending message of its conversation and direction, 'waiting behind message #N: <its reason>' "
        "(N is that message's sequence). Empty when the message is not pending.",
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "tenant",
            "conversation",
            "sender",
            "customer",
            "direction",
            "sequence",
            "kind",
            "text",
            "template",
            "status",
            "attempts",
            "last_error",
            "waiting_reason",
            "provider_message_id",
            "received_at",
            "delivered_at",
            "read_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_template(self, obj) -> dict | None:
        template = (obj.content or {}).get("template")
        return template if isinstance(template, dict) else None


class MessageFilter(FilterSet):
    tenant = serializers.IntegerField(required=False)
    conversation = serializers.IntegerField(required=False)
    sender = serializers.IntegerField(required=False)
    customer = serializers.CharField(required=False, help_text="E.164 number (or the channel's user id).")
    status = serializers.ChoiceField(choices=Message.Status.choices, required=False)
    direction = serializers.ChoiceField(choices=Message.Direction.choices, required=False)
    since = serializers.DateTimeField(required=False, help_text="Received at or after (ISO 8601).")
    until = serializers.DateTimeField(required=False, help_text="Received before (ISO 8601).")
    lookups = {
        "sender": "conversation__sender_id",
        "customer": "conversation__customer",
        "since": "received_at__gte",
        "until": "received_at__lt",
    }

    def validate_customer(self, value):
        return customer_lookup(value)


class SendBaseSerializer(serializers.Serializer):
    sender = ScopedPrimaryKeyRelatedField(
        queryset=Sender.objects.select_related("account", "tenant"), help_text="The tenant's sender to use."
    )
    to = serializers.CharField(max_length=255, help_text="The customer: E.164 number (Viber: the user id).")

    def validate(self, attrs):
        try:
            attrs["to"] = customer_id(attrs["sender"], attrs["to"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"to": exc.messages}) from None
        if not attrs["sender"].enabled:
            raise serializers.ValidationError({"sender": ["This sender is disabled."]})
        return attrs


class SendTextSerializer(SendBaseSerializer):
    text = serializers.CharField(max_length=4096, help_text="What the customer reads.")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        sender = attrs["sender"]
        if sender.channel == Sender.Channel.WHATSAPP:
            conversation = Conversation.objects.filter(sender=sender, customer=attrs["to"]).first()
            if conversation is None or not conversation.window_open():
                raise serializers.ValidationError(
                    "WhatsApp allows free text only within 24 hours of the customer's last message: "
                    "send an approved template instead (messages/send-template).",
                    code="outside_24h_window",
                )
        return attrs


class TemplateRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=512, help_text="The template's name, e.g. order_shipped.")
    language = serializers.CharField(max_length=20, help_text="Its language code, e.g. en or pt_BR.")
    values = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=2048, trim_whitespace=False),
        required=False,
        default=dict,
        help_text="The values the template needs, by name: header_text (a TEXT header's {{1}}), "
        "header_media_url and header_filename (media headers), body_1, body_2, ... (body placeholders), "
        "url_1, ... (dynamic URL buttons, in order), reply_1, ... (quick-reply payloads, in order).",
    )


class SendTemplateSerializer(SendBaseSerializer):
    template = TemplateRequestSerializer()


# relay.outbound.template_send names its fields after the panel's form; the API's are "to" and "template.…".
TEMPLATE_ERROR_FIELDS = {"customer": "to", "sender": "sender", "template": "template.name"}


def send_template_message(sender: Sender, to: str, template: dict, idempotency_key: str) -> Message:
    """The one validated template path (``relay.outbound.template_send``), shared with the agent's template panel: it
    checks the template against the provider's (cached, synced once when missing) and stores nothing on error."""
    try:
        return send_template(
            sender.tenant,
            sender,
            to,
            template["name"],
            template["language"],
            template["values"],
            idempotency_key=idempotency_key,
            source="api",
        )
    except DjangoValidationError as exc:
        raise serializers.ValidationError(
            {
                TEMPLATE_ERROR_FIELDS.get(field, f"template.values.{field}"): messages
                for field, messages in exc.message_dict.items()
            }
        ) from None


IDEMPOTENCY_PARAMETER = OpenApiParameter(
    idempotency.HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (e.g. a UUID). A retry with the same key returns the first answer and "
    "sends nothing again.",
)
SEND_RESPONSES = {
    201: MessageSerializer,
    422: OpenApiResponse(ErrorSerializer, description="The Idempotency-Key was used for another request."),
}


@extend_schema_view(
    list=extend_schema(summary="List messages, newest first", parameters=[MessageFilter]),
    retrieve=extend_schema(summary="Read a message"),
)
class MessageViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    queryset = Message.objects.select_related("conversation")
    serializer_class = MessageSerializer
    filterset_class = MessageFilter
    pagination_class = NewestFirstPagination

    def get_queryset(self):
        return with_line_head(super().get_queryset())  # waiting_reason without a query per message

    def get_throttles(self):
        if self.action in ("send", "send_template"):
            return [ApiKeyRateThrottle(), SendRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        summary="Send a text to a customer",
        request=SendTextSerializer,
        responses=SEND_RESPONSES,
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(detail=False, methods=["post"], serializer_class=SendTextSerializer)
    def send(self, request):
        return self._send(request, SendTextSerializer)

    @extend_schema(
        summary="Send an approved WhatsApp template to a customer",
        request=SendTemplateSerializer,
        responses=SEND_RESPONSES,
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(detail=False, methods=["post"], url_path="send-template", serializer_class=SendTemplateSerializer)
    def send_template(self, request):
        return self._send(request, SendTemplateSerializer)

    def _send(self, request, serializer_class) -> Response:
        key, label = idempotency.key_of(request), self.scope.label
        if key:
            replay = idempotency.stored_response(label, key, request)
            if replay is not None:
                return replay
        serializer = serializer_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        message_key = idempotency.message_key(label, key) if key else ""
        if serializer_class is SendTemplateSerializer:
            message = send_template_message(data["sender"], data["to"], data["template"], message_key)
        else:
            message, _ = send_to_customer(
                data["sender"].tenant,
                data["sender"],
                data["to"],
                {"kind": "text", "text": data["text"]},
                idempotency_key=message_key,
            )
        message = Message.objects.select_related("conversation").get(pk=message.pk)
        response = Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
        return idempotency.remember(label, key, request, response) if key else response

    @extend_schema(
        summary="Try a failed message again",
        request=None,
        responses={200: MessageSerializer, 409: OpenApiResponse(ErrorSerializer, description="Not failed.")},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        message = self.get_object()
        if not retry_failed(Message.objects.filter(pk=message.pk)):
            raise Conflict(
                f"Only a failed message can be retried; this one is {message.status}.", code="not_failed"
            )
        message.refresh_from_db()
        return Response(MessageSerializer(message).data)
