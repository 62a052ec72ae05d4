"""One event of a provider's webhook request that cannot be routed or read does not hold back the others
(relay/inbound/webhook.py): they are customers' messages, so they are stored; the request is still refused for
the rest (422 unroutable, 400 unreadable), so the provider sends it again, which stores nothing twice; the
event that could not be taken stays at the provider until its sender is added (the answer says which).

Infobip's Messages API webhook carries every channel of the account in one ``results`` list (its
documented MO event, e.g. ``messages_api_text.json``): an RCS message, a channel Switchboard does not carry,
beside a WhatsApp one refused the whole request, again at every retry, until Infobip gave up on both."""

from __future__ import annotations

import json

import pytest

from relay.models import Message
from tests.factories import make_account, make_sender, make_tenant

from .test_webhooks import FIXTURES, post, signed

pytestmark = pytest.mark.django_db

OUR_NUMBER = "48123098765"


@pytest.fixture
def account():
    account = make_account(make_tenant(welcome_text=""))
    make_sender(account, f"+{OUR_NUMBER}", channel="whatsapp")
    return account


def mo(message_id: str, channel: str = "WHATSAPP", text: str = "Hello") -> dict:
    result = json.loads((FIXTURES / "messages_api_text.json").read_text())["results"][0]
    result["content"] = [{"type": "TEXT", "text": text}]
    return {**result, "channel": channel, "messageId": message_id}


def send(client, account, *results) -> tuple[int, dict]:
    body = json.dumps({"results": list(results)}).encode()
    response = post(client, account, body, **signed(account, body))
    return response.status_code, response.json()


def stored() -> list[str]:
    return list(Message.objects.order_by("pk").values_list("provider_message_id", flat=True))


def test_an_unroutable_event_does_not_hold_back_the_others_and_a_retry_stores_nothing_twice(client, account):
    results = [mo("wa-1"), mo("rcs-1", channel="RCS"), mo("wa-2", text="Are you there?")]

    status, answer = send(client, account, *results)
    assert status == 422 and "no rcs sender" in answer["error"]
    assert answer["accepted"] == 2
    assert stored() == ["wa-1", "wa-2"]

    status, answer = send(client, account, *results)  # the provider's retry
    assert (status, answer["accepted"], answer["duplicates"]) == (422, 0, 2)
    assert stored() == ["wa-1", "wa-2"]


def test_an_unreadable_result_does_not_hold_back_the_others(client, account):
    broken = {**mo("wa-x"), "content": "not a list"}

    status, answer = send(client, account, mo("wa-1"), broken, mo("wa-2"))
    assert status == 400 and "results[1].content" in answer["error"]
    assert answer["accepted"] == 2
    assert stored() == ["wa-1", "wa-2"]


def test_a_request_with_nothing_to_store_changes_nothing(client, account):
    assert send(client, account, mo("rcs-1", channel="RCS"))[0] == 422
    status, answer = send(client, account, {**mo("wa-x"), "content": []})
    assert status == 400 and "results[0].content" in answer["error"]
    assert stored() == []
