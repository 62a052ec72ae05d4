"""Hostile bytes at the provider webhook and the handover endpoint: never a 500, never a lost message.

What a customer can really send (a NUL byte, half a surrogate pair, a 300-character name or id, a clock
in year 1) is stored, repaired, and the repair is listed on the row (``content["sanitized"]``); the good
messages beside it in the same request are stored and queued for delivery. What no provider or bot
sends (NaN, Infinity, 1e400, 10,000 levels of nesting, more results than Infobip batches, a body over
the limit) is a 4xx that says why and stores nothing. Bodies are real JSON bytes, posted with Django's
test client; run on SQLite and on PostgreSQL (DATABASE_URL).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.urls import resolve

from relay.handover.models import Handover, HandoverEndpoint
from relay.inbound.auth import expected_signature
from relay.models import Conversation, Message
from relay.untrusted import MAX_JSON_DEPTH
from tenants.models import ProviderAccount, Sender
from tests.api.conftest import wired  # noqa: F401, F811 - the demo tenant wired to the sandbox
from tests.factories import make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db

OUR_NUMBER = "41793026731"
CAI = "6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a01"


@pytest.fixture
def account():
    account = make_account(make_tenant(welcome_text=""))
    make_sender(account, "+" + OUR_NUMBER)
    return account


def whatsapp_text(
    message_id: str, text: str = "Hello", customer: str = "385919998888", to: str = OUR_NUMBER, **extra
) -> dict:
    result = {
        "from": customer,
        "to": to,
        "integrationType": "WHATSAPP",
        "receivedAt": "2025-01-01T10:10:00.000+0000",
        "messageId": message_id,
        "message": {"text": text, "type": "TEXT"},
        "contact": {"name": "Frank"},
    }
    for path, value in extra.items():  # "message.text" → result["message"]["text"]
        *parents, leaf = path.split(".")
        target = result
        for part in parents:
            target = target[part]
        target[leaf] = value
    return result


def post_webhook(client, account, body: bytes):
    signature = expected_signature(str(account.webhook_secret), body)
    return client.post(
        account.webhook_path,
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature},
    )


def batch(*results) -> bytes:
    return json.dumps({"results": list(results)}).encode()  # \u0000 and \ud800 escapes, as a provider sends


# --- customer content: repaired, stored, recorded, delivered with its neighbours ---------------------------

LONG = "N" * 300
REPAIRABLE = {
    "NUL in the text": (
        {"message.text": "Hello\x00 there"},
        "text",
        "Hello there",
        "text: NUL bytes removed",
    ),
    "NUL in the name": ({"contact.name": "Fr\x00ank"}, "customer_name", "Frank", "customer name: NUL"),
    "NUL in the message id": ({"messageId": "mid\x00-1"}, "provider_message_id", "mid-1", "messageId: NUL"),
    "lone high surrogate": ({"message.text": "a\ud800b"}, "text", "a\ufffdb", "unpaired surrogates"),
    "lone low surrogate": ({"message.text": "a\udfffb"}, "text", "a\ufffdb", "unpaired surrogates"),
    "surrogate in a raw key": ({"extra": {"k\ud800": "v\x00"}}, "text", "Hello", "raw: NUL bytes removed"),
    "name over 255": ({"contact.name": LONG}, "customer_name", "N" * 255, "300 characters cut to 255"),
    "message id over 255": ({"messageId": "m" * 300}, "provider_message_id", None, "255-character hash"),
    "customer id over 255": ({"from": "u" * 300}, "customer", None, "customer: 300 characters"),
    "receivedAt in year 1": (
        {"receivedAt": "0001-01-01T00:00:00.000+0100"},
        "received_at",
        "arrival",
        "0001",
    ),
    "receivedAt in year 9999": (
        {"receivedAt": "9999-12-31T23:59:59.000-0100"},
        "received_at",
        "arrival",
        "9999",
    ),
    "receivedAt far ahead": (
        {"receivedAt": "2999-01-01T00:00:00.000+0000"},
        "received_at",
        "arrival",
        "2999",
    ),
    "a huge integer": ({"price": 10**30}, "text", "Hello", None),
    "a tiny float": ({"price": 1e-300}, "text", "Hello", None),
}


def stored_value(message: Message, field: str):
    if field == "customer_name":
        return message.conversation.customer_name
    if field == "customer":
        return message.conversation.customer
    return getattr(message, field)


@pytest.mark.parametrize("case", REPAIRABLE, ids=list(REPAIRABLE))
def test_hostile_content_beside_good_messages_is_stored_repaired_and_everything_is_delivered(
    client, account, case, django_capture_on_commit_callbacks
):
    change, field, expected, note = REPAIRABLE[case]
    hostile = whatsapp_text("hostile-1", customer="385919990000", **change)
    body = batch(whatsapp_text("good-1"), hostile, whatsapp_text("good-2", customer="385919997777"))
    before = datetime.now(UTC)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_webhook(client, account, body)
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 3, "duplicates": 0, "reports": 0}
    assert Message.objects.count() == 3 and Conversation.objects.count() == 3
    good = Message.objects.filter(provider_message_id__in=["good-1", "good-2"])
    assert [m.text for m in good] == ["Hello", "Hello"]
    assert all("sanitized" not in m.content for m in good)
    repaired = Message.objects.exclude(pk__in=good.values("pk")).get()
    value = stored_value(repaired, field)
    if expected == "arrival":
        assert before <= value <= datetime.now(UTC)
    elif expected is not None:
        assert value == expected
    else:
        assert len(value) == 255
    if note is None:
        assert "sanitized" not in repaired.content
    else:
        assert any(note in line for line in repaired.content["sanitized"]), repaired.content
    assert len(callbacks) == 1  # their delivery is queued once the transaction commits (see the next test)
    assert all(m.status == Message.Status.PENDING for m in Message.objects.all())


def test_the_good_and_the_repaired_messages_reach_salesforce(wired, django_capture_on_commit_callbacks):  # noqa: F811
    """The whole way, against the sandbox's Interaction Service: one hostile result does not hold back
    the good ones, and is delivered itself."""
    tenant, _key = wired
    account = ProviderAccount.objects.get(tenant=tenant, webhook_key="demo-account-key")
    to = Sender.objects.get(account=account, channel="whatsapp").address.lstrip("+")
    results = [
        whatsapp_text("good-1", to=to),
        whatsapp_text("hostile-1", to=to, customer="385919990000", **{"message.text": "a\x00b\ud800"}),
        whatsapp_text("good-2", to=to, customer="385919997777", receivedAt="0001-01-01T00:00:00.000+0100"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(Client(), account, batch(*results))
    assert response.status_code == 200 and response.json()["accepted"] == 3, response.content
    inbound = Message.objects.filter(tenant=tenant, direction="in").order_by("provider_message_id")
    assert [(m.provider_message_id, m.status) for m in inbound] == [
        ("good-1", "delivered"),
        ("good-2", "delivered"),
        ("hostile-1", "delivered"),
    ]


def test_a_long_message_id_is_still_recognised_when_replayed(client, account):
    body = batch(whatsapp_text("m" * 300), whatsapp_text("m" * 299 + "X"))
    assert post_webhook(client, account, body).json() == {"accepted": 2, "duplicates": 0, "reports": 0}
    assert post_webhook(client, account, body).json() == {"accepted": 0, "duplicates": 2, "reports": 0}
    ids = set(Message.objects.values_list("provider_message_id", flat=True))
    assert len(ids) == 2 and all(len(i) == 255 for i in ids)  # two ids with one prefix do not collide


# --- not a provider's payload at all: 400/413, nothing stored -----------------------------------------------

GOOD = json.dumps(whatsapp_text("good-1"))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


REFUSED = {
    "NaN": (b'{"results": [' + GOOD.encode() + b', {"price": NaN}]}', 400, "NaN"),
    "Infinity": (b'{"results": [' + GOOD.encode() + b'], "x": Infinity}', 400, "Infinity"),
    "-Infinity": (b'{"results": [' + GOOD.encode() + b'], "x": -Infinity}', 400, "Infinity"),
    "1e400": (b'{"results": [' + GOOD.encode() + b'], "x": 1e400}', 400, "out of range"),
    "10,000 levels": (
        ('{"results": [' + GOOD + "], " + '"x": ' + nested(10_000) + "}").encode(),
        400,
        "nested deeper",
    ),
    "one level too deep": (
        ('{"results": [' + GOOD + "], " + '"x": ' + nested(MAX_JSON_DEPTH) + "}").encode(),
        400,
        "nested deeper",
    ),
    "invalid UTF-8": (b'{"results": [' + GOOD.encode() + b'], "x": "\xff"}', 400, "malformed JSON"),
    "more results than Infobip batches": (batch(*[whatsapp_text(f"m{i}") for i in range(2001)]), 400, "2000"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_what_no_provider_sends_is_refused_with_the_reason_and_changes_nothing(client, account, case):
    body, status, says = REFUSED[case]
    response = post_webhook(client, account, body)
    assert response.status_code == status, response.content
    assert says in response.json()["error"]
    assert not Message.objects.exists() and not Conversation.objects.exists()


def test_a_body_over_webhook_max_bytes_is_413(client, account, settings):
    assert settings.WEBHOOK_MAX_BYTES == 16 * 1024 * 1024  # the default
    body = batch(whatsapp_text("good-1"), whatsapp_text("big", text="x" * (16 * 1024 * 1024)))
    response = post_webhook(client, account, body)
    assert response.status_code == 413 and "body over 16777216 bytes" in response.json()["error"]
    assert not Message.objects.exists()


def test_infobip_s_largest_batch_is_read_whole(client, account, settings):
    """A notification profile sends up to 2,000 results a request (maxBucketSize, Infobip's subscriptions API).
    2,000 customer messages of 700 characters are 1.9 MB: over the old 1 MiB default, which refused the batch
    whole at every retry until Infobip gave up on every message in it."""
    results = [whatsapp_text(f"bucket-{n}", text=f"{n} " + "y" * 700) for n in range(2000)]
    body = batch(*results)
    assert len(body) > 1024 * 1024
    response = post_webhook(client, account, body)
    assert response.status_code == 200, response.content
    assert Message.objects.count() == 2000


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=4096)
def test_django_s_upload_limit_does_not_cap_a_webhook(client, account):
    """DATA_UPLOAD_MAX_MEMORY_SIZE is for forms and the partner API; a webhook reads its body itself."""
    body = batch(whatsapp_text("long", text="z" * 20_000))
    response = post_webhook(client, account, body)
    assert response.status_code == 200, response.content
    assert Message.objects.get().text == "z" * 20_000


def post_chunked(account, body: bytes):
    """A signed webhook sent chunked as gunicorn hands it over: no Content-Length, the stream ending by itself."""
    environ = dict(
        RequestFactory()
        .post(
            account.webhook_path,
            data=body,
            content_type="application/json",
            headers={"X-Hub-Signature-256": expected_signature(str(account.webhook_secret), body)},
        )
        .environ
    )
    del environ["CONTENT_LENGTH"]
    environ.update(
        {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True}
    )
    match = resolve(account.webhook_path)
    return match.func(WSGIRequest(environ), *match.args, **match.kwargs)


def test_a_chunked_body_under_gunicorn_is_read(account):
    """A body sent chunked has no Content-Length; gunicorn decodes it and says its stream ends by itself
    (``wsgi.input_terminated``), but Django reads none of a body without Content-Length: the batch read as
    empty and was refused (a wrong signature) at every retry. It is read, up to the same limit."""
    response = post_chunked(account, batch(whatsapp_text("chunked-1"), whatsapp_text("chunked-2")))
    assert response.status_code == 200, response.content
    assert sorted(Message.objects.values_list("provider_message_id", flat=True)) == ["chunked-1", "chunked-2"]


@override_settings(WEBHOOK_MAX_BYTES=1024)
def test_a_chunked_body_over_the_limit_is_413(account):
    response = post_chunked(account, batch(whatsapp_text("big", text="x" * 2048)))
    assert response.status_code == 413
    assert not Message.objects.exists()


# --- the handover endpoint ---------------------------------------------------------------------------------


@pytest.fixture
def acme():
    tenant = make_tenant("Acme")
    sender = make_sender(make_account(tenant), channel_address_identifier=CAI)
    endpoint, secret = HandoverEndpoint.issue(tenant)
    return type("Acme", (), {"tenant": tenant, "sender": sender, "endpoint": endpoint, "secret": secret})


def entry(text: str = "hello", **extra) -> dict:
    return {
        "speaker": "customer",
        "text": text,
        "time": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    } | extra


def post_handover(client, acme, body: bytes):
    return client.post(
        acme.endpoint.path,
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {acme.secret}",
    )


ONE_ENTRY = [entry()]  # one time for the whole module: the same body twice is the same handover


def handover_body(**fields) -> bytes:
    return json.dumps({"customer": "+385919998888", "transcript": ONE_ENTRY} | fields).encode()


HANDOVER_REPAIRED = {
    "NUL in attributes": (
        {"attributes": {"topic\x00": "billing\x00"}},
        lambda h: h.attributes == {"topic": "billing"},
        "NUL bytes removed",
    ),
    "NUL in a transcript text": (
        {"transcript": [entry("hi\x00 there")]},
        lambda h: h.entries[0]["text"] == "hi there",
        "NUL bytes removed",
    ),
    "lone surrogate in a transcript text": (
        {"transcript": [entry("a\ud800b")]},
        lambda h: h.entries[0]["text"] == "a\ufffdb",
        "unpaired surrogates",
    ),
    "customer name over 255": (
        {"customerName": LONG},
        lambda h: h.conversation.customer_name == "N" * 255,
        "customerName: 300 characters cut to 255",
    ),
    "speaker name over 120": (
        {"transcript": [entry(name=LONG)]},
        lambda h: h.entries[0]["name"] == "N" * 120,
        "cut to 120",
    ),
    "conversation id making the key over 255": (
        {"conversationId": "c" * 255, "transcript": [entry()]},
        lambda h: len(h.key) == 255,
        None,
    ),
}


@pytest.mark.parametrize("case", HANDOVER_REPAIRED, ids=list(HANDOVER_REPAIRED))
def test_handover_content_is_repaired_and_recorded(client, acme, case):
    fields, check, note = HANDOVER_REPAIRED[case]
    response = post_handover(client, acme, handover_body(**fields))
    assert response.status_code == 202, response.content
    handover = Handover.objects.get()
    assert check(handover)
    line = Message.objects.get()
    if note is None:
        assert "sanitized" not in line.content
    else:
        assert any(note in n for n in line.content["sanitized"]), line.content
    again = post_handover(client, acme, handover_body(**fields))
    assert again.status_code == 200 and again.json()["duplicate"] is True


HANDOVER_REFUSED = {
    "time 1e20": (handover_body(transcript=[entry(time=1e20)]), "transcript", "future"),
    "time -1e20": (handover_body(transcript=[entry(time=-1e20)]), "transcript", "before 2000"),
    "time with 25 digits": (handover_body(transcript=[entry(time="9" * 25)]), "transcript", "future"),
    "an impossible date": (
        handover_body(transcript=[entry(time="2026-02-30T10:00:00Z")]),
        "transcript",
        "exist",
    ),
    "year 1": (
        handover_body(transcript=[entry(time="0001-01-01T00:00:00+01:00")]),
        "transcript",
        "before 2000",
    ),
    "year 9999": (
        handover_body(transcript=[entry(time="9999-12-31T23:59:59-01:00")]),
        "transcript",
        "future",
    ),
    "NaN in attributes": (
        b'{"customer": "+385919998888", "transcript": [' + json.dumps(entry()).encode() + b"], "
        b'"attributes": {"score": NaN}}',
        None,
        "NaN",
    ),
    "10,000 levels in attributes": (
        ('{"customer": "+385919998888", "attributes": {"x": ' + nested(10_000) + "}}").encode(),
        None,
        "nested deeper",
    ),
}


@pytest.mark.parametrize("case", HANDOVER_REFUSED, ids=list(HANDOVER_REFUSED))
def test_handover_input_no_bot_sends_is_a_400_that_says_why(client, acme, case):
    body, field, says = HANDOVER_REFUSED[case]
    response = post_handover(client, acme, body)
    assert response.status_code == 400, response.content
    answer = response.json()
    assert says in json.dumps(answer["fields"][field] if field else answer["error"])
    assert (
        not Handover.objects.exists() and not Message.objects.exists() and not Conversation.objects.exists()
    )


def test_a_handover_over_the_body_limit_is_413(client, acme, settings):
    settings.WEBHOOK_MAX_BYTES = 2 * 1024 * 1024  # the handover's limit too
    response = post_handover(client, acme, handover_body(transcript=[entry("x" * (2 * 1024 * 1024))]))
    assert response.status_code == 413
    assert not Handover.objects.exists()


def test_runs_on_the_configured_database():
    """The PostgreSQL run (DATABASE_URL=postgres://…) is the one that matters: NUL, surrogates, year 1 and
    over-long values fail there first. This records which database this run used."""
    assert connection.vendor in ("sqlite", "postgresql")
