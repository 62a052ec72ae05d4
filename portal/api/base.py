"""The pieces every resource (``resources/<resource>.py``) is built from (after NetBox): a viewset that scopes its queryset once,
serializers that validate with the model's own rules, related fields that only see the caller's rows,
and query-parameter filters validated like a body.
"""

from __future__ import annotations

from copy import copy
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, parsers, serializers, viewsets
from rest_framework.serializers import as_serializer_error
from rest_framework.viewsets import ModelViewSet

from relay import untrusted
from tenants.models import Partner, Tenant

from .auth import scope_of
from .errors import PayloadTooLarge
from .pagination import MAX_ID, is_database_id


class StrictJSONParser(parsers.JSONParser):
    """JSON read as the webhooks read it (relay/untrusted.py): NaN, Infinity, numbers beyond a double and
    nesting deeper than ``untrusted.MAX_JSON_DEPTH`` are a 400 that says so, never a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        # DRF reads the request as a stream, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE check on .body:
        # the limit is applied here, reading at most one byte more than it.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = b"" if stream is None else stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(body) > limit:
            raise PayloadTooLarge()
        try:
            document = untrusted.loads(body)
        except untrusted.UnacceptableJSON as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        refuse_lone_surrogates(document)
        return document


def refuse_lone_surrogates(document) -> None:
    """A 400 naming where a lone surrogate is (a ``\\ud800`` escape without its pair), in a key or a string.

    JSON can write one, but it is no Unicode text: no database column can store it and no answer can be
    encoded with it, so an error message that quotes the value ('"\\ud800" is not a valid choice') was a 500.
    Refused here, once, for every field, key and nested value of every body (a pair is one character, fine).
    """
    stack: list[tuple[object, str]] = [(document, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                where = f"{path}.{_printable(key)}" if path else _printable(key)
                _check_text(key, where)
                stack.append((child, where))
        elif isinstance(value, list):
            stack.extend(
                (child, f"{path}.{index}" if path else str(index)) for index, child in enumerate(value)
            )
        elif isinstance(value, str):
            _check_text(value, path)


def _check_text(text: str, where: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        message = f"Surrogate characters are not allowed: U+{ord(text[exc.start]):04X}."  # DRF's own words
        raise exceptions.ValidationError({where or "non_field_errors": [message]}) from None


def _printable(key: str) -> str:
    return key.encode(errors="backslashreplace").decode()


class ScopedViewSet(viewsets.GenericViewSet):
    """Every row a view reads goes through :meth:`get_queryset`, which keeps only the caller's tenants.

    ``tenant_path`` leads from the model to its tenant (``"pk"`` for Tenant itself); ``owned = True`` is for
    rows that belong to a partner or a tenant (API keys, webhook subscriptions). Another partner's object is
    therefore simply not found (404), never forbidden (403), so its existence does not leak.
    """

    tenant_path = "tenant"
    owned = False
    filterset_class: type[serializers.Serializer] | None = None
    parser_classes = [StrictJSONParser]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, permissions, rate limits first
        given = kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        if given is not None and not is_database_id(given):
            raise exceptions.ValidationError(
                {"id": [f"{given[:40]!r} is not an id (a number up to {MAX_ID})."]}
            )

    def get_queryset(self):
        queryset = super().get_queryset()
        scope = self.scope
        if scope is None:  # building the OpenAPI document: no caller, no rows
            return queryset.none()
        return self.scope_queryset(queryset, scope)

    def scope_queryset(self, queryset, scope):
        """The one place a viewset narrows rows to the caller; override only for an unusual owner path."""
        return scope.filter_owned(queryset) if self.owned else scope.filter(queryset, self.tenant_path)

    @property
    def scope(self):
        return scope_of(self.request)

    def owner(self, tenant: Tenant | None) -> tuple[Tenant | None, Partner | None]:
        """The tenant and partner a new owned row belongs to: a partner key's row is the tenant it names, or
        the partner's own when it names none; a tenant admin's key only ever makes rows of its tenant."""
        if not self.scope.is_partner:
            tenant = self.scope.key.tenant
        return tenant, None if tenant else self.scope.key.partner

    def filter_queryset(self, queryset):
        if self.filterset_class is None or self.action != "list":
            return queryset
        # A plain dict: a QueryDict would read an absent boolean as false.
        params = self.filterset_class(
            data=self.request.query_params.dict(), context=self.get_serializer_context()
        )
        params.is_valid(raise_exception=True)
        return params.apply(queryset)


# Create, read, change and delete a tenant's rows. (A comment, not a docstring: drf-spectacular would print a
# docstring into the partner's API document.)
class ScopedModelViewSet(ScopedViewSet, ModelViewSet):
    pass


class FilterSet(serializers.Serializer):
    """Query parameters, validated like a body (a bad value is a 400 with the parameter named).

    ``lookups`` maps a parameter to the queryset lookup it filters on.
    """

    lookups: dict[str, str] = {}

    def get_fields(self):
        """Integer parameters are ids or counts: bounded like the database's bigint, so a 23-digit value is
        a 400 that names the parameter, not a failed query."""
        fields = super().get_fields()
        for field in fields.values():
            if isinstance(field, serializers.IntegerField) and field.max_value is None:
                field.max_value = MAX_ID
                field.validators.append(
                    MaxValueValidator(MAX_ID, message=f"Ensure this value is at most {MAX_ID}.")
                )
            if isinstance(field, serializers.IntegerField) and field.min_value is None:
                field.min_value = -MAX_ID
                field.validators.append(
                    MinValueValidator(-MAX_ID, message=f"Ensure this value is at least {-MAX_ID}.")
                )
        return fields

    def apply(self, queryset):
        for name, value in self.validated_data.items():
            if value in (None, ""):
                continue
            queryset = queryset.filter(**{self.lookups.get(name, name): value})
        return queryset


class TenantScopedFilter(FilterSet):
    """The filter of every resource that belongs to one tenant."""

    tenant = serializers.IntegerField(required=False, help_text="Only this tenant's.")


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference by id to a row the caller may see; anything else reads as "no such id"."""

    default_error_messages = {
        "does_not_exist": "There is no object with id {pk_value}.",
        "incorrect_type": "Expected an id (a number), got {data_type}.",
    }

    def __init__(self, *, tenant_path: str = "tenant", **kwargs):
        self.tenant_path = tenant_path
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        looks_numeric = (
            isinstance(data, int | str) and not isinstance(data, bool) and str(data).lstrip("-").isdigit()
        )
        if looks_numeric and not is_database_id(data):
            self.fail("does_not_exist", pk_value=str(data)[:40])  # 10**22 is no row's id, on any database
        return super().to_internal_value(data)

    def get_queryset(self):
        queryset = super().get_queryset()
        scope = scope_of(self.context.get("request"))
        if scope is None:
            return queryset.none()
        return scope.filter(queryset, self.tenant_path)


# A row of a partner or of one of its tenants (API keys, webhook subscriptions): the partner is read only, set
# from the caller's key (ScopedViewSet.owner); the tenant is chosen with owner_tenant_field. (A comment, not a
# docstring: drf-spectacular would print a docstring into the API document of every serializer built on it.)
class OwnedSerializer(serializers.ModelSerializer):
    partner: serializers.PrimaryKeyRelatedField[Partner] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )


def owner_tenant_field(help_text: str) -> ScopedPrimaryKeyRelatedField:
    """The tenant an owned row is for, one the caller may see; none: the partner's own."""
    return ScopedPrimaryKeyRelatedField(
        tenant_path="pk", queryset=Tenant.objects.all(), required=False, allow_null=True, help_text=help_text
    )


class ValidatedModelSerializer(serializers.ModelSerializer):
    """Runs the model's ``full_clean()`` (its validators, ``clean()`` and unique checks) on the new values,
    so the API accepts exactly what the admin accepts, and keeps the values ``clean()`` normalized
    (18-character ids, E.164 numbers)."""

    clean_exclude: tuple[str, ...] = ()

    def validate(self, attrs):
        attrs = super().validate(attrs)
        instance = copy(self.instance) if self.instance is not None else self.Meta.model()
        attrs.update(self.derived_values(attrs, instance))
        for name, value in attrs.items():
            setattr(instance, name, value)
        fields = [f for f in instance._meta.concrete_fields if f.editable and not f.primary_key]
        before = {f.attname: getattr(instance, f.attname) for f in fields}
        try:
            instance.full_clean(exclude=list(self.clean_exclude))
        except DjangoValidationError as exc:
            raise serializers.ValidationError(as_serializer_error(exc)) from exc
        # What clean() normalized is stored too, also where the caller did not send it: a sender PATCHed from Viber
        # to WhatsApp keeps its address, which becomes E.164 (kept as sent, the relay never found the sender).
        normalized = {f.name for f in fields if getattr(instance, f.attname) != before[f.attname]}
        return {name: getattr(instance, name) for name in {*attrs, *normalized}}

    def derived_values(self, attrs: dict, instance) -> dict:
        """Values the caller does not send but the row needs (its tenant, a slug...)."""
        return {}


# A row whose tenant is its parent's (a sender's account, a routing rule's sender): the tenant is read only
# (parent_tenant_field), taken from the parent named by parent_field; a changed parent must be of the same
# tenant (same_tenant_message otherwise). A comment: a docstring would replace, in the API document, the one
# these serializers show now (ValidatedModelSerializer's).
class ParentTenantSerializer(ValidatedModelSerializer):
    parent_field: str
    same_tenant_message: str

    def derived_values(self, attrs, instance):
        parent = attrs.get(self.parent_field)
        if parent is None:
            return {}
        if instance.pk and parent.tenant_id != instance.tenant_id:
            raise serializers.ValidationError({self.parent_field: [self.same_tenant_message]})
        return {"tenant": parent.tenant}


def parent_tenant_field(help_text: str) -> serializers.PrimaryKeyRelatedField[Tenant]:
    return serializers.PrimaryKeyRelatedField(read_only=True, help_text=help_text)


@extend_schema_field(OpenApiTypes.INT)
class DurationSecondsField(serializers.IntegerField):
    """A duration as whole seconds."""

    # An IntegerField on the wire holding a timedelta in Python: the DRF stubs fix IntegerField's Python
    # type to int, so the two conversions cannot be typed as overrides.
    def to_representation(self, value: timedelta) -> int:  # type: ignore[override]
        return int(value.total_seconds())

    def to_internal_value(self, data) -> timedelta:  # type: ignore[override]
        seconds = super().to_internal_value(data)
        # min_value / max_value are in seconds, checked before the conversion: 10**30 seconds is no timedelta
        # (OverflowError, a 500).
        super().run_validators(seconds)
        try:
            return timedelta(seconds=seconds)
        except OverflowError:  # a field declared without bounds
            raise serializers.ValidationError("This duration is too long.") from None

    def run_validators(self, value: timedelta) -> None:
        pass  # run on the seconds, in to_internal_value


def secret_field(help_text: str, **kwargs) -> serializers.CharField:
    """A secret: accepted on write, never returned. Omitted on update: the stored one stays."""
    return serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, help_text=help_text, **kwargs
    )
