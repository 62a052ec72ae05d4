"""``/api/v1/tenants/``: a partner's tenants and the texts their customers see."""

from __future__ import annotations

import secrets

from django.utils.text import slugify
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response

from tenants.models import Partner, Tenant

from ..auth import scope_of
from ..base import DurationSecondsField, FilterSet, ScopedViewSet, ValidatedModelSerializer

MAX_DELIVERY_WINDOW = 30 * 24 * 3600
NOT_AVAILABLE = {"org_id": "This Salesforce org id", "slug": "This slug"}


class TenantSerializer(ValidatedModelSerializer):
    partner: serializers.PrimaryKeyRelatedField[Partner] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The partner that runs it."
    )
    slug = serializers.SlugField(
        max_length=50,
        required=False,
        help_text="Default: made from the name (with a number added if that one is taken).",
    )
    delivery_window_seconds = DurationSecondsField(
        source="delivery_window",
        required=False,
        min_value=60,
        max_value=MAX_DELIVERY_WINDOW,
        help_text="How long a message keeps being retried before it is failed (default 3 days).",
    )

    class Meta:
        model = Tenant
        fields = [
            "id",
            "name",
            "slug",
            "org_id",
            "partner",
            "active",
            "delivery_window_seconds",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {
            "org_id": {"help_text": "Salesforce org id, 15 or 18 characters (00D…); stored as 18."}
        }

    def get_fields(self):
        fields = super().get_fields()
        scope = scope_of(self.context.get("request"))
        if scope is not None and not scope.is_partner:
            # A tenant admin's key may not move its tenant to another org or switch it off (as in the admin).
            for name in ("slug", "org_id", "active"):
                fields[name].read_only = True
        return fields

    def derived_values(self, attrs, instance):
        if not attrs.get("slug") and not instance.slug:
            return {"slug": free_slug(slugify(attrs.get("name") or instance.name))}
        return {}

    def run_validation(self, data=serializers.empty):
        """An org id or slug in use answers "not available", the same whoever uses it: the answer must not
        tell a partner which org ids another partner runs (the model's "already exists" would)."""
        try:
            return super().run_validation(data)
        except serializers.ValidationError as exc:
            detail, codes = exc.detail, exc.get_codes()
            if isinstance(detail, dict) and isinstance(codes, dict):
                for name, label in NOT_AVAILABLE.items():
                    if "unique" in (codes.get(name) or []):
                        detail[name] = [ErrorDetail(f"{label} is not available.", code="not_available")]
            raise serializers.ValidationError(detail) from None


def free_slug(base: str) -> str:
    """A slug made from the name that no tenant uses: the name's own, else with a number (``acme-2``).

    Slugs are unique across all partners, so a slug the caller chose that is in use can only be "not
    available" (whose it is stays unsaid). A slug the caller did not choose must not make the create fail over
    a field it never sent, for a name another partner's tenant happens to share."""
    base = base[:50] or "tenant"
    for number in range(1, 100):
        suffix = f"-{number}" if number > 1 else ""
        candidate = f"{base[: 50 - len(suffix)].rstrip('-')}{suffix}"
        if not Tenant.objects.filter(slug=candidate).exists():
            return candidate
    return f"{base[:41].rstrip('-')}-{secrets.token_hex(4)}"


class TenantTextsSerializer(ValidatedModelSerializer):
    class Meta:
        model = Tenant
        fields = ["welcome_text", "closing_text", "no_agent_text"]


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
