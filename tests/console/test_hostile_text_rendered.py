"""Text from outside (customers, bots, agents, providers' and Salesforce's error texts) is shown escaped in
the history panel and the admin: hostile markup arrives as text, never as elements, attributes or links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from relay.handover.models import Handover
from relay.models import Conversation, DeliveryAttempt, Message
from tenants.models import User
from tenants.validators import normalize_salesforce_id
from tests.factories import make_account, make_sender, make_tenant, make_tenant_admin

pytestmark = pytest.mark.django_db

HOSTILE = [
    "<script>alert('sb')</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<div hx-get="/console/session/renew/" hx-trigger="load">x</div>',
]
SESSION = normalize_salesforce_id("0Mw8d00000Acme9")


def hostile_world(payload: str):
    tenant = make_tenant("Acme")
    conversation = Conversation.objects.create(
        tenant=tenant,
        sender=make_sender(make_account(tenant, name=f"acct {payload}"), "+385919990000"),
        customer="+385919990001",
        customer_name=payload,
        messaging_session_id=SESSION[:15],
    )
    message = Message.objects.create(
        tenant=tenant, conversation=conversation, direction="in", sequence=1, kind="text", text=payload,
        content={"text": payload}, provider="infobip", provider_message_id="m1", last_error=payload,
        expires_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    DeliveryAttempt.objects.create(
        tenant=tenant, message=message, target="salesforce", action="deliver", outcome="failed", error=payload
    )
    now_ms = int(timezone.now().timestamp() * 1000)
    Handover.objects.create(
        tenant=tenant, conversation=conversation, key="h1", messaging_session_id=SESSION,
        entries=[
            {"id": "e1", "speaker": "bot", "name": payload, "time": now_ms, "text": payload},
            {"id": "e2", "speaker": "customer", "time": now_ms, "text": "file",
             "media": {"url": "javascript:alert(1)", "filename": payload}},
        ],
        last_error=payload,
    )  # fmt: skip
    return tenant, conversation, message


def assert_inert(html: str, payload: str) -> None:
    assert payload not in html, "the markup arrived unescaped"
    assert 'href="javascript:' not in html
    for element in ("<script>alert", "<img src=x", "<svg onload", '<div hx-get="/console/session'):
        assert element not in html, element


@pytest.mark.parametrize("payload", HOSTILE)
@pytest.mark.parametrize("tab", ["transcript", "timeline"])
def test_the_history_panel_shows_hostile_text_as_text(payload, tab):
    tenant, _conversation, _message = hostile_world(payload)
    browser = Client()
    browser.force_login(make_tenant_admin(tenant, "ada"))
    response = browser.get("/console/history/", {"id": SESSION, "tab": tab})
    assert response.status_code == 200, response.content.decode()[:800]
    html = response.content.decode()
    assert_inert(html, payload)
    assert escape(payload) in html  # it is there, as text


@pytest.mark.parametrize("payload", HOSTILE)
def test_the_admin_shows_hostile_text_as_text(payload):
    tenant, conversation, message = hostile_world(payload)
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", password="correct-horse-battery"))
    pages = [
        f"/admin/relay/message/{message.pk}/change/",
        f"/admin/relay/conversation/{conversation.pk}/change/",
        "/admin/relay/message/",
        "/admin/relay/conversation/",
        "/admin/tenants/provideraccount/",
    ]
    for url in pages:
        response = admin.get(url)
        assert response.status_code == 200, url
        assert_inert(response.content.decode(), payload)
