"""Ids and slugs that arrive as text (console query and form parameters, a bot's handover times): whatever
the text, a 4xx or "no such object", never a 500.

``str.isdigit()`` is true of '²' and '①', which ``int()`` refuses (ValueError), and of '٣', which ``int()``
reads as 3 (an id nobody wrote): ``relay.untrusted.ascii_int`` is the one test. A NUL in a value that reaches
a query fails it on PostgreSQL (CI runs these tests there too).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from relay.handover.models import Handover, HandoverEndpoint
from relay.models import Message
from relay.untrusted import ascii_int
from tenants.models import SalesforceConnection
from tests.factories import make_account, make_sender, make_tenant, make_tenant_admin

pytestmark = pytest.mark.django_db

NOT_ASCII_DIGITS = ["\u00b2", "\u2460", "\u0663", "\uff11", "1\u00b2"]


@pytest.mark.parametrize("text", NOT_ASCII_DIGITS + ["", " ", "-1", "1.0", "1e3", "9" * 19, "a\x00"])
def test_ascii_int_reads_only_ascii_digits(text):
    assert ascii_int(text) is None


def test_ascii_int_reads_ids():
    assert (ascii_int(" 42 "), ascii_int(7), ascii_int("9" * 18)) == (42, 7, int("9" * 18))
    assert ascii_int("9" * 19, max_digits=19) == int("9" * 19)


@pytest.fixture
def admin_client(client):
    tenant = make_tenant()
    SalesforceConnection.objects.create(
        tenant=tenant,
        instance_url="https://example.my.salesforce.com",
        consumer_key="ck",
        integration_username="int@example.com",
    )
    sender = make_sender(make_account(tenant), "+447860011111")
    client.force_login(make_tenant_admin(tenant, "acme-admin"))
    return client, tenant, sender


@pytest.mark.parametrize("digits", NOT_ASCII_DIGITS)
@pytest.mark.parametrize(
    ("method", "path", "names"),
    [
        ("get", "/console/templates/list/", ["sender"]),
        ("post", "/console/templates/refresh/", ["sender"]),
        ("get", "/console/templates/fields/", ["sender", "template"]),
        ("get", "/console/templates/window/", ["sender"]),
        ("post", "/console/templates/send/", ["sender", "template"]),
    ],
)
def test_a_template_panel_id_that_is_not_ascii_digits_names_nothing(
    admin_client, digits, method, path, names
):
    client, _tenant, _sender = admin_client
    data = {name: digits for name in names} | {"customer": "+385919998888"}
    response = getattr(client, method)(path, data)
    assert response.status_code < 500, response.content[:300]
    assert Message.objects.count() == 0


@pytest.mark.parametrize("slug", ["acme\x00", "\x00", "ac me", "../acme", "acme\u00b2"])
def test_a_web_console_tenant_that_is_no_slug_is_no_session(admin_client, slug):
    client, _tenant, _sender = admin_client
    response = client.get("/console/wizard/", {"tenant": slug})
    assert response.status_code == 403
    assert "session has expired or is missing" in response.content.decode()


def test_the_web_console_still_opens_for_the_tenant_slug(admin_client):
    client, tenant, _sender = admin_client
    response = client.get("/console/wizard/", {"tenant": tenant.slug})
    assert response.status_code == 200


@pytest.mark.parametrize("time", [*NOT_ASCII_DIGITS, "9" * 5000])  # the last: more digits than int() reads
def test_a_handover_time_in_other_digits_is_a_400(client, time):
    tenant = make_tenant()
    make_sender(make_account(tenant), channel_address_identifier="6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a01")
    endpoint, secret = HandoverEndpoint.issue(tenant)
    body = {
        "customer": "+385919998888",
        "transcript": [
            {"speaker": "customer", "text": "hi", "time": datetime.now(UTC).isoformat()},
            {"speaker": "bot", "text": "hello", "time": time},
        ],
    }
    response = client.post(
        endpoint.path,
        data=json.dumps(body).encode(),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 400, response.content[:300]
    assert "transcript" in response.json()["fields"]
    assert not Handover.objects.exists() and not Message.objects.exists()
