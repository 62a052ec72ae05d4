"""``/api/v1/senders/``: a provider account's numbers and sender names, and adding those the provider lists
(``senders/sync/``, a live check whose result lists what was added)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action

from portal import livechecks
from portal.console.wizard.checks import SENDER_SYNC
from tenants.models import ProviderAccount, Sender

from ..base import (
    ParentTenantSerializer,
    ScopedModelViewSet,
    ScopedPrimaryKeyRelatedField,
    TenantScopedFilter,
    parent_tenant_field,
)
from .checks import LiveCheckSerializer, accepted


class SenderSerializer(ParentTenantSerializer):
    parent_field = "account"
    same_tenant_message = "A sender stays with its tenant's accounts."

    tenant = parent_tenant_field("The account's tenant.")
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
