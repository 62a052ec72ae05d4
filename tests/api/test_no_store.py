"""No answer of the partner API may be kept by a cache on the way (portal/api/caching.py): they are a tenant's
private data, and some carry a secret shown once. Every kind of answer says no-store: a list, a created object
with its secret, a refusal, an unknown path."""

from __future__ import annotations

import pytest

from .conftest import api

pytestmark = pytest.mark.django_db


def test_every_api_answer_forbids_caches_to_keep_it(world):
    client = api(world.key_a)
    created = client.post(
        "/api/v1/webhook-subscriptions/",
        {"url": "https://hooks.example.com/x", "events": ["message.status_changed"]},
        format="json",
    )
    answers = {
        "list": client.get("/api/v1/tenants/"),
        "secret shown once": created,
        "no key": api().get("/api/v1/tenants/"),
        "not found": client.get("/api/v1/tenants/987654/"),
        "no such path": client.get("/api/v1/no-such-thing/"),
    }
    assert created.status_code == 201 and created.json()["secret"]
    for name, answer in answers.items():
        directives = {d.strip() for d in answer.get("Cache-Control", "").split(",")}
        assert {"no-store", "private"} <= directives, name
