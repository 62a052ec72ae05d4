"""Hostile values in every writable field of every writable resource, and in the bodies of the actions: a 400
in the documented error shape, nothing created or changed, never a 500.

One request per value sets every writable field to it: a serializer checks all its fields before answering,
so each field's conversion runs (and a conversion that raises instead of refusing is a 500). The resources
and their writable fields are read from the router, so a new resource or field is covered without anyone
remembering to add it.
"""

from __future__ import annotations

import json

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse
from rest_framework import mixins

from portal.api.urls import router
from relay.models import Message
from relay.untrusted import MAX_JSON_DEPTH

from .conftest import api
from .test_boundaries import OBJECT_OF
from .test_hostile_input import error_of

pytestmark = pytest.mark.django_db

# JSON text, written out: a lone surrogate (\ud800) is an escape only JSON can carry, not a Python str that
# json.dumps would write.
HOSTILE = {
    "lone surrogate": r'"a\ud800b"',
    "lone low surrogate": r'"\udfff"',
    "surrogate in a list": r'["\ud800"]',
    "surrogate as a key": r'{"\ud800": "x"}',
    "surrogate as a value": r'{"a": "\udc00"}',
    "NUL": r'"a\u0000b"',
    "NUL as a key": r'{"a\u0000": "x"}',
    "integer beyond any duration": str(10**30),
    "negative integer beyond any duration": str(-(10**30)),
    "31 levels": "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1),
}


def writable_resources():
    for _prefix, viewset, basename in router.registry:
        serializer_class = getattr(viewset, "serializer_class", None)
        if serializer_class is None:
            continue
        fields = [name for name, field in serializer_class().get_fields().items() if not field.read_only]
        if issubclass(viewset, mixins.CreateModelMixin):
            yield basename, "post", fields
        if issubclass(viewset, mixins.UpdateModelMixin):
            yield basename, "patch", fields


WRITABLE = sorted(writable_resources())


def body_with(fields, value: str) -> str:
    return "{" + ", ".join(f"{json.dumps(name)}: {value}" for name in fields) + "}"


def test_the_writable_resources_are_found():
    assert {(basename, method) for basename, method, _ in WRITABLE} >= {
        ("tenant", "post"), ("tenant", "patch"), ("sender", "post"), ("webhook-subscription", "patch"),
        ("salesforce-connection", "patch"), ("provider-account", "post"), ("api-key", "post"),
    }  # fmt: skip


@pytest.mark.parametrize(("basename", "method", "fields"), WRITABLE, ids=[f"{b}-{m}" for b, m, _ in WRITABLE])
@pytest.mark.parametrize("value", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_value_in_every_field_is_a_400_and_changes_nothing(world, basename, method, fields, value):
    row = OBJECT_OF[basename](world.a1)
    model = type(row)
    before, count = model_to_dict(model.objects.get(pk=row.pk)), model.objects.count()
    if method == "post":
        url = reverse(f"partner_api:{basename}-list")
    else:
        url = reverse(f"partner_api:{basename}-detail", kwargs={"pk": row.pk})
    response = api(world.key_a).generic(
        method.upper(), url, data=body_with(fields, HOSTILE[value]).encode(), content_type="application/json"
    )
    assert response.status_code == 400, response.content[:500]
    assert error_of(response)["code"] in ("invalid", "parse_error")
    assert model.objects.count() == count
    assert model_to_dict(model.objects.get(pk=row.pk)) == before


ACTIONS = {
    "messages/send/": ["sender", "to", "text"],
    "messages/send-template/": ["sender", "to", "template"],
    "senders/sync/": ["account", "enable"],
}


@pytest.mark.parametrize("path", ACTIONS)
@pytest.mark.parametrize("value", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_value_in_an_action_body_is_a_400_and_sends_nothing(world, path, value):
    count = Message.objects.count()
    response = api(world.key_a).post(
        f"/api/v1/{path}",
        data=body_with(ACTIONS[path], HOSTILE[value]).encode(),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content[:500]
    error_of(response)
    assert Message.objects.count() == count


@pytest.mark.parametrize("value", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_value_in_a_template_is_a_400(world, value):
    template = '{"name": %s, "language": %s, "values": {"body_1": %s}}' % ((HOSTILE[value],) * 3)
    body = f'{{"sender": {world.a1.sender.pk}, "to": "+385919998888", "template": {template}}}'
    response = api(world.key_a).post(
        "/api/v1/messages/send-template/", data=body.encode(), content_type="application/json"
    )
    assert response.status_code == 400, response.content[:500]
    error_of(response)


TEXT_HOSTILE = [name for name in HOSTILE if "integer" not in name]  # a number is a text too: "1000..."


@pytest.mark.parametrize("value", TEXT_HOSTILE)
def test_a_hostile_value_in_the_tenant_texts_is_a_400_and_changes_nothing(world, value):
    tenant = world.a1.tenant
    before = model_to_dict(type(tenant).objects.get(pk=tenant.pk))
    body = body_with(["welcome_text", "closing_text", "no_agent_text"], HOSTILE[value])
    response = api(world.key_a).patch(
        f"/api/v1/tenants/{tenant.pk}/texts/", data=body.encode(), content_type="application/json"
    )
    assert response.status_code == 400, response.content[:500]
    error_of(response)
    assert model_to_dict(type(tenant).objects.get(pk=tenant.pk)) == before


def test_a_lone_surrogate_is_refused_naming_where_it_is(world):
    body = '{"name": "Webhooks", "url": "https://hooks.example.com/x", "events": ["message.delivered", "\\ud83d"]}'
    response = api(world.key_a).post(
        "/api/v1/webhook-subscriptions/", data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"events.1": ["Surrogate characters are not allowed: U+D83D."]}


def test_a_surrogate_pair_is_one_character_and_welcome(world):
    body = '{"welcome_text": "Hi \\ud83d\\ude00"}'
    response = api(world.key_a).patch(
        f"/api/v1/tenants/{world.a1.tenant.pk}/texts/", data=body, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["welcome_text"] == "Hi \U0001f600"


def test_a_duration_beyond_its_bounds_is_a_400_naming_the_bound(world):
    url = f"/api/v1/tenants/{world.a1.tenant.pk}/"
    for value, says in (
        (10**30, "less than or equal to 2592000"),
        (-(10**30), "greater than or equal to 60"),
    ):
        response = api(world.key_a).patch(url, {"delivery_window_seconds": value}, format="json")
        assert response.status_code == 400, response.content
        assert error_of(response)["fields"]["delivery_window_seconds"] == [f"Ensure this value is {says}."]
