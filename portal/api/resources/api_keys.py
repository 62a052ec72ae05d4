"""``/api/v1/api-keys/``: API keys through the API: a partner issues keys for itself or for one of its tenants' admins; a tenant
admin's key issues keys for its tenant. The key itself is in the create answer only; revoking keeps the row
(with its last use) for the record."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from tenants.models import ApiKey

from ..base import OwnedSerializer, ScopedViewSet, owner_tenant_field


class ApiKeySerializer(OwnedSerializer):
    tenant = owner_tenant_field(
        "A tenant admin's key for this tenant. Omit (partner keys only) for another partner key."
    )
    prefix = serializers.SerializerMethodField(help_text="The start of the key, to recognise it.")
    active = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "partner",
            "tenant",
            "issued_by",
            "prefix",
            "active",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = ["issued_by", "created_at", "last_used_at", "revoked_at"]
        extra_kwargs = {
            "issued_by": {
                "help_text": "A tenant key a partner issued (directly or with such a key): it stops when that "
                "partner is inactive or no longer runs the tenant. Null: the tenant's own."
            }
        }

    def get_prefix(self, obj) -> str:
        return f"{ApiKey.PREFIX}{obj.lookup}"

    def get_active(self, obj) -> bool:
        return obj.revoked_at is None


class IssuedApiKeySerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The key. Shown this once: store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


@extend_schema_view(
    list=extend_schema(summary="List API keys (never the keys themselves)"),
    retrieve=extend_schema(summary="Read an API key's record"),
    create=extend_schema(
        summary="Issue an API key (the answer carries the key, once)", responses={201: IssuedApiKeySerializer}
    ),
)
class ApiKeyViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin):
    queryset = ApiKey.objects.all()
    serializer_class = ApiKeySerializer
    owned = True

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tenant, partner = self.owner(serializer.validated_data.get("tenant"))
        # A tenant key made by a partner's key, or by a tenant key the partner issued, is the partner's: it
        # stops with the partner (inactive, or no longer running the tenant), like the partner's own keys.
        caller = self.scope.key
        issued_by = caller.partner if self.scope.is_partner else caller.issued_by
        key, plaintext = ApiKey.issue(
            name=serializer.validated_data["name"], partner=partner, tenant=tenant, issued_by=issued_by
        )
        data = IssuedApiKeySerializer(key, context=self.get_serializer_context()).data
        data["key"] = plaintext
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke an API key (it stops working at once)", request=None)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        key = self.get_object()
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
        return Response(self.get_serializer(key).data)
