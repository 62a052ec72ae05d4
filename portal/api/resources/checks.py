"""``/api/v1/checks/<id>/``: a live check the API queued (``salesforce-connections/{id}/test/`` and
``/check/`` (Legacy Chat), ``provider-accounts/{id}/validate/``, ``senders/sync/``). Those answer 202 with this
resource at once; the check itself runs in a worker (portal/livechecks.py), so a provider that does not answer holds no web
worker. Poll it until ``status`` is ``done``. A check of another partner's tenant is simply not found."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.reverse import reverse

from portal import livechecks
from tenants.models import Sender, Tenant

from ..auth import scope_of
from ..errors import ErrorSerializer


class LiveCheckSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="Poll GET /api/v1/checks/{id}/ until status is done.")
    kind = serializers.ChoiceField(
        choices=["salesforce-login", "provider-key", "sender-sync", "livechat-config"],
        help_text="What is checked.",
    )
    tenant = serializers.IntegerField(help_text="The tenant the check is for.")
    status = serializers.ChoiceField(
        choices=[livechecks.QUEUED, livechecks.RUNNING, livechecks.DONE],
        help_text="queued → running → done. A check not done within a few minutes is reported done and "
        "failed (no worker took it).",
    )
    ok = serializers.BooleanField(allow_null=True, help_text="null until done; then whether it passed.")
    message = serializers.CharField(
        allow_blank=True, help_text="What was checked, or what went wrong and what to do."
    )
    code = serializers.CharField(allow_blank=True, help_text="The vendor's error code, when there is one.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.URLField(help_text="This resource.")

    def get_fields(self):
        """``result`` is senders/sync's answer, built from the senders resource's serializers. They are read
        here, when the fields are built, because the senders resource answers its sync with this serializer:
        a module-level import would be a cycle. It stays in its place among the fields (after ``code``)."""
        from .senders import SenderSyncResultSerializer

        fields = super().get_fields()
        result = SenderSyncResultSerializer(
            allow_null=True, required=False, help_text="senders/sync: what it added, once done; else null."
        )
        names = list(fields)
        ordered = {name: fields[name] for name in names[: names.index("code") + 1]}
        ordered["result"] = result
        ordered.update({name: fields[name] for name in names[names.index("code") + 1 :]})
        return ordered


def check_body(request, check: livechecks.Check) -> dict:
    body = {**check.public(), "tenant": check.tenant_id, "result": None}
    body["kind"] = check.kind.split(":", 1)[0]  # the API's checks are per object: "provider-key:<id>"
    body["url"] = reverse("partner_api:check-detail", args=[check.id], request=request)
    data = LiveCheckSerializer(body).data
    if body["kind"] == "sender-sync" and check.done and check.ok:
        data["result"] = _sync_result(request, check)  # serialized already: not through the field again
    return data


def accepted(request, check: livechecks.Check) -> Response:
    """202 Accepted with the check, and where to poll it."""
    body = check_body(request, check)
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


def _sync_result(request, check: livechecks.Check) -> dict:
    from .senders import SenderSerializer

    data = check.data
    senders = Sender.objects.filter(tenant_id=check.tenant_id).select_related("tenant", "account")
    by_pk = {s.pk: s for s in senders.filter(pk__in=[*data.get("created", []), *data.get("existing", [])])}
    context = {"request": request}
    return {
        "created": SenderSerializer(
            [by_pk[pk] for pk in data.get("created", []) if pk in by_pk], many=True, context=context
        ).data,
        "existing": SenderSerializer(
            [by_pk[pk] for pk in data.get("existing", []) if pk in by_pk], many=True, context=context
        ).data,
        "skipped": data.get("skipped", []),
    }


class LiveCheckViewSet(viewsets.ViewSet):
    lookup_value_regex = "[^/]+"

    @extend_schema(
        summary="Read a live check the API queued",
        responses={
            200: LiveCheckSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such check."),
        },
    )
    def retrieve(self, request, pk=None):
        scope = scope_of(request)
        stored = livechecks.find(pk or "")
        tenant = None
        if stored is not None and scope is not None:
            tenant = scope.filter(Tenant.objects.filter(pk=stored.tenant_id), "pk").first()
        check = livechecks.get(tenant, pk) if tenant is not None else None
        if check is None:
            raise exceptions.NotFound("No such check.")  # the same for another partner's as for none
        return Response(check_body(request, check))
