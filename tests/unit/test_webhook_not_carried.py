"""Infobip events that are neither a customer's message nor a report on ours: acknowledged, never stored.

Infobip's Subscriptions API lets a tenant send any of its channel's events to one URL (``SimpleWhatsappEvents``:
TEMPLATE_UPDATE, IDENTITY_CHANGE, PAYMENT_STATUS, MARKETING_SUBSCRIPTION_UPDATE, ...; ``SimpleSmsEvents``:
CLICK). Each of these came back 400, so Infobip retried it (with the good results of its request) until it gave
up, and the tenant's dashboard showed failures for events Switchboard simply does not use. Each fixture is the
vendor's own example of the webhook (relay/providers/infobip/fixtures/README.md). A shape Infobip does not
document is still refused: "ignored" is never a guess.
"""

from __future__ import annotations

import json
import logging

import pytest

from relay.events import IgnoredEvent
from relay.models import Conversation, Message
from relay.providers.registry import get_provider
from tests.factories import make_account, make_sender, make_tenant

from .test_webhook_batch_isolation import mo
from .test_webhooks import FIXTURES, post, signed

# fixture → the event's name in Infobip's Subscriptions API
NOT_CARRIED = {
    "whatsapp_template_update_status": "TEMPLATE_UPDATE",
    "whatsapp_template_update_category": "TEMPLATE_UPDATE",
    "whatsapp_template_update_quality": "TEMPLATE_UPDATE",
    "whatsapp_identity_change": "IDENTITY_CHANGE",
    "whatsapp_payment_notification": "PAYMENT_STATUS",
    "whatsapp_marketing_update_stop": "MARKETING_SUBSCRIPTION_UPDATE",
    "sms_url_click": "CLICK",
    "messages_api_typing_started": "TYPING_STARTED",
    "messages_api_typing_stopped": "TYPING_STOPPED",
    "viber_bot_conversation_started": "VIBER_BOT_CONVERSATION_STARTED",
    "viber_bot_subscribed": "VIBER_BOT_SUBSCRIBED",
    "viber_bot_unsubscribed": "VIBER_BOT_UNSUBSCRIBED",
    "viber_bot_delivered": "VIBER_BOT_DELIVERED",
}
OUR_NUMBER = "48123098765"  # the Messages API example's destination


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def account():
    account = make_account(make_tenant(welcome_text=""))
    make_sender(account, f"+{OUR_NUMBER}", channel="whatsapp")
    make_sender(account, "+41793026731", channel="whatsapp")
    return account


def send(client, account, document) -> tuple[int, dict]:
    body = json.dumps(document).encode()
    response = post(client, account, body, **signed(account, body))
    return response.status_code, response.json()


@pytest.mark.parametrize(("name", "event"), sorted(NOT_CARRIED.items()))
def test_each_documented_shape_is_recognised_as_not_carried(name, event):
    (parsed,) = get_provider("infobip").parse_webhook(load(name))
    assert isinstance(parsed, IgnoredEvent)
    assert parsed.event == event and parsed.why.startswith("not a message: ")


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "event"), sorted(NOT_CARRIED.items()))
def test_each_is_acknowledged_logged_once_without_content_and_never_stored(
    client, account, caplog, name, event
):
    document = load(name)
    with caplog.at_level(logging.INFO, logger="relay.inbound.webhook"):
        status, answer = send(client, account, document)

    assert status == 200, answer
    assert answer["accepted"] == answer["duplicates"] == answer["reports"] == 0
    assert answer["ignored"] == 1
    assert list(answer["ignored_events"]) == [event]
    assert answer["ignored_events"][event]["count"] == 1
    assert answer["ignored_events"][event]["why"].startswith("not a message: ")
    assert not Message.objects.exists() and not Conversation.objects.exists()

    logged = [r for r in caplog.records if r.name == "relay.inbound.webhook"]
    assert len(logged) == 1 and logged[0].levelno == logging.INFO
    # Its name and count only: no number, user, link, hash or template name of it reaches the log.
    assert (
        logged[0].getMessage()
        == f"webhook for account {account.pk}: acknowledged 1 {event}, not carried by Switchboard"
    )


@pytest.mark.django_db
def test_in_a_batch_the_messages_are_stored_and_the_rest_acknowledged(client, account):
    typing = load("messages_api_typing_started")["results"][0]
    status, answer = send(client, account, {"results": [mo("wa-1"), typing, typing, mo("wa-2")]})

    assert status == 200, answer
    assert (answer["accepted"], answer["ignored"]) == (2, 2)
    assert answer["ignored_events"]["TYPING_STARTED"]["count"] == 2
    assert list(Message.objects.order_by("pk").values_list("provider_message_id", flat=True)) == [
        "wa-1",
        "wa-2",
    ]


@pytest.mark.django_db
def test_an_unreadable_result_beside_them_is_still_a_400_that_stores_the_good_ones(client, account):
    typing = load("messages_api_typing_stopped")["results"][0]
    broken = {**mo("wa-x"), "content": "not a list"}
    status, answer = send(client, account, {"results": [mo("wa-1"), typing, broken]})

    assert status == 400 and "results[2].content" in answer["error"]
    assert (answer["accepted"], answer["ignored"]) == (1, 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "document",
    [
        pytest.param(
            {"notificationType": "OPENED", "messageId": "m-1", "url": "https://x.example"}, id="click"
        ),
        pytest.param(
            {**load("whatsapp_template_update_status"), "change": {"type": "TEMPLATE_RENAMED"}},
            id="template-change",
        ),
        pytest.param(
            {**load("whatsapp_template_update_status"), "change": {"type": ["TEMPLATE_STATUS_UPDATE"]}},
            id="template-change-a-list",
        ),
        pytest.param(
            {**load("whatsapp_identity_change"), "content": {"type": "user_left"}}, id="system-event"
        ),
        pytest.param({"event": "TEMPLATE_UPDATE", "data": {}}, id="unknown-object"),
        pytest.param({"results": [{**mo("wa-x"), "event": "CONVERSATION_CLOSED"}]}, id="messages-api-event"),
        pytest.param({"results": [{"foo": "bar"}]}, id="unknown-result"),
    ],
)
def test_a_shape_infobip_does_not_document_is_still_a_400(client, account, document):
    status, answer = send(client, account, document)

    assert status == 400, answer
    assert "ignored" not in answer
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_an_undocumented_messages_api_event_does_not_hold_back_the_messages_beside_it(client, account):
    status, answer = send(
        client, account, {"results": [mo("wa-1"), {**mo("wa-x"), "event": "SOMETHING_NEW"}]}
    )

    assert status == 400 and "results[1].event" in answer["error"]
    assert answer["accepted"] == 1
    assert list(Message.objects.values_list("provider_message_id", flat=True)) == ["wa-1"]


@pytest.mark.django_db
def test_8x8_s_business_app_echo_is_acknowledged_as_not_carried(client):
    """8x8 documents ``external_app_message`` (the business's own WhatsApp Business App messages, in its delivery
    receipts document): counted in ``ignored`` and logged like Infobip's, never stored and never silently
    swallowed."""
    import base64

    account = make_account(
        make_tenant(name="Globex", org_id="00D8d000000GlbX", welcome_text=""),
        provider="8x8",
        base_url="https://chatapps.8x8.com",
        webhook_auth="basic",
    )
    document = {
        "version": 9,
        "namespace": "ChatApps",
        "eventType": "external_app_message",
        "description": "External App Message",
        "payload": {
            "umid": "0c1d9b9e-2d0e-4f8a-9a51-7c3b1f0e2a11",
            "subAccountId": "acme_wa",
            "timestamp": "2026-01-28T09:16:53.00Z",
            "channel": "whatsapp",
            "user": {"msisdn": "+6598765432"},
            "type": "Text",
            "content": {"text": "Here's the info you requested!"},
        },
    }
    credentials = base64.b64encode(f"{account.webhook_username}:{account.webhook_secret}".encode()).decode()
    response = client.post(
        account.webhook_path,
        data=json.dumps(document),
        content_type="application/json",
        headers={"Authorization": f"Basic {credentials}"},
    )
    answer = response.json()
    assert response.status_code == 200, answer
    assert (answer["accepted"], answer["ignored"]) == (0, 1)
    assert list(answer["ignored_events"]) == ["external_app_message"]
    assert not Message.objects.exists() and not Conversation.objects.exists()
