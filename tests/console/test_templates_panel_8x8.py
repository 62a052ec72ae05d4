"""The template panel for a WhatsApp sender on an 8x8 account (issue 19): the list is the 8x8 account's
approved templates, the values follow the template's structure, the 24-hour badge reads the conversation,
and a send reaches the 8x8 simulator in 8x8's template shape and is recorded with its status (Celery eager;
the panel's pages through the test client, 8x8 and Salesforce in the sandbox)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from relay.models import Conversation, Message
from tenants.models import Sender, WhatsAppTemplate
from tests.console.templates_panel_support import demo_tenant, token
from tests.relay.eightbyeight_support import CUSTOMER, WA, django_account, simulator_account

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

VALUES = {"header_media_url": "https://acme.example/p.png", "body_1": "Ana", "body_2": "42"}


@pytest.fixture
def eight(sandbox, sim):
    """The demo tenant (Salesforce, an Infobip sender) with a second WhatsApp sender on an 8x8 account."""
    tenant = demo_tenant(sandbox)
    simulator_account(sim)
    return django_account(f"{sandbox.base_url}/sim/8x8", tenant=tenant)


@pytest.fixture
def headers(eight):
    return {"HTTP_X_CONSOLE_TOKEN": token(eight.account.tenant)}


def sent_to_8x8(sim) -> list[dict]:
    return sim.get("/__sim/8x8/messages").json()


def test_the_panel_offers_the_8x8_whatsapp_sender_only(eight, client, headers):
    response = client.get("/console/templates/", **headers)
    assert response.status_code == 200
    assert f'value="{eight.whatsapp.pk}"' in response.content.decode()
    offered = {s.pk for s in response.context["senders"]}
    assert eight.whatsapp.pk in offered and not offered & {eight.viber.pk, eight.sms.pk}


def test_the_list_is_the_8x8_accounts_approved_templates(eight, client, headers):
    listed = client.get("/console/templates/list/", {"sender": eight.whatsapp.pk}, **headers)
    assert listed.status_code == 200
    assert not listed.context["sync_error"]
    assert [(t.name, t.language, t.category) for t in listed.context["templates"]] == [
        ("order_ready", "en_US", "UTILITY")
    ]
    # The Infobip sender's templates are not mixed in, and the 8x8 one is not in the Infobip list.
    infobip = Sender.objects.get(tenant=eight.account.tenant, channel="whatsapp", account__provider="infobip")
    other = client.get("/console/templates/list/", {"sender": infobip.pk}, **headers)
    assert "order_ready" not in [t.name for t in other.context["templates"]]


def test_refresh_with_a_key_8x8_refuses_says_so_and_keeps_the_list(eight, client, headers):
    client.get("/console/templates/list/", {"sender": eight.whatsapp.pk}, **headers)
    eight.account.api_key = "revoked-key"
    eight.account.save()
    refreshed = client.post("/console/templates/refresh/", {"sender": eight.whatsapp.pk}, **headers)
    assert refreshed.status_code == 200
    page = refreshed.content.decode()
    assert "Could not fetch the templates: 8x8 refused the credentials" in page
    assert "revoked-key" not in page
    assert [t.name for t in refreshed.context["templates"]] == ["order_ready"]


def test_the_fields_follow_the_8x8_templates_structure(eight, client, headers):
    client.get("/console/templates/list/", {"sender": eight.whatsapp.pk}, **headers)
    template = WhatsAppTemplate.objects.get(sender=eight.whatsapp, name="order_ready")
    response = client.get(
        "/console/templates/fields/", {"sender": eight.whatsapp.pk, "template": template.pk}, **headers
    )
    assert response.status_code == 200
    names = [spec.name for spec, _value, _errors in response.context["fields"]]
    assert names[:3] == ["header_media_url", "body_1", "body_2"]
    assert any(n.startswith("url_") for n in names) and any(n.startswith("reply_") for n in names)
    assert response.context["shape"].footer == "Acme"
    # 8x8's registered examples become the fields' hints; a quick reply starts as its button's text.
    examples = {spec.name: spec.example for spec, _value, _errors in response.context["fields"]}
    assert (examples["body_1"], examples["body_2"]) == ("Ana", "42")
    shown = {spec.name: value for spec, value, _errors in response.context["fields"]}
    assert shown["reply_1"] == "Thanks"
    assert "Hello" in response.content.decode() and "is ready" in response.content.decode()


@pytest.mark.parametrize(
    ("last_inbound", "open_"),
    [(timedelta(hours=1), "true"), (timedelta(hours=25), "false"), (None, "false")],
)
def test_the_24_hour_badge_for_an_8x8_sender(eight, client, headers, last_inbound, open_):
    if last_inbound is not None:
        Conversation.objects.create(
            tenant=eight.account.tenant,
            sender=eight.whatsapp,
            customer=CUSTOMER,
            last_inbound_at=timezone.now() - last_inbound,
        )
    badge = client.get(
        "/console/templates/window/", {"sender": eight.whatsapp.pk, "customer": CUSTOMER}, **headers
    )
    assert badge.status_code == 200
    assert f'data-open="{open_}"' in badge.content.decode()


def test_a_send_reaches_8x8_as_a_template_and_is_recorded(eight, sim, client, headers):
    client.get("/console/templates/list/", {"sender": eight.whatsapp.pk}, **headers)
    template = WhatsAppTemplate.objects.get(sender=eight.whatsapp, name="order_ready")
    shape_fields = client.get(
        "/console/templates/fields/", {"sender": eight.whatsapp.pk, "template": template.pk}, **headers
    ).context["fields"]
    # What the agent submits: the panel's prefilled values, the rest typed in.
    values = {spec.name: shown or VALUES.get(spec.name, "42") for spec, shown, _errors in shape_fields}
    data = {
        "sender": eight.whatsapp.pk,
        "customer": CUSTOMER,
        "template": template.pk,
        "send_key": "k8",
        **values,
    }
    response = client.post("/console/templates/send/", data, **headers)
    assert response.status_code == 200, response.content.decode()[:2000]

    message = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert message.kind == "template" and message.status == Message.Status.SENT
    assert message.conversation.sender == eight.whatsapp and message.conversation.customer == CUSTOMER
    sent = [m for m in sent_to_8x8(sim) if m["umid"] == message.provider_message_id]
    assert len(sent) == 1
    assert (sent[0]["channelId"], sent[0]["customer"], sent[0]["type"]) == (WA, CUSTOMER, "template")
    template_sent = sent[0]["content"]["template"]
    assert (template_sent["name"], template_sent["language"]) == ("order_ready", "en_US")
    header = next(c for c in template_sent["components"] if c["type"] == "header")
    assert header["parameters"] == [{"type": "image", "url": VALUES["header_media_url"]}]
    body = next(c for c in template_sent["components"] if c["type"] == "body")
    assert body["parameters"] == [{"type": "text", "text": "Ana"}, {"type": "text", "text": "42"}]
    buttons = [(c["index"], c["subType"]) for c in template_sent["components"] if c["type"] == "button"]
    assert buttons == [(0, "Url"), (1, "QuickReply")]
    assert [c["parameters"] for c in template_sent["components"] if c["type"] == "button"] == [
        [{"type": "text", "text": "42"}],
        [{"type": "payload", "payload": "Thanks"}],
    ]
    assert message.delivery_attempts.get(action="send").outcome == "ok"

    history = client.get("/console/templates/history/", **headers)
    assert [m.pk for m in history.context["history"]] == [message.pk]
    assert message.get_status_display() in history.content.decode()
