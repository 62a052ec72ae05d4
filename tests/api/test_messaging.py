"""Conversations and messages through the API: filters, cursor pages, sends through the relay to the
sandbox's phone, WhatsApp templates checked against the provider's, Idempotency-Key, retry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from relay.models import Conversation, Message
from tenants.models import Sender

from .conftest import api, make_message

pytestmark = pytest.mark.django_db

CUSTOMER = "+385919998888"
VALUES = {"header_text": "10234", "body_1": "Maria", "body_2": "10234", "body_3": "Friday", "url_1": "10234"}
TEMPLATE = {"name": "order_shipped", "language": "en", "values": {**VALUES, "reply_1": "agent"}}


def phone(sim, customer=CUSTOMER):
    return sim.get("/__sim/infobip/messages", params={"customer": customer}).json()


def whatsapp(tenant) -> Sender:
    return Sender.objects.get(tenant=tenant, channel="whatsapp")


# --- reading ----------------------------------------------------------------------------------------------


def test_messages_filter_by_sender_customer_status_direction_and_time(world):
    conversation = world.a1.conversation
    old = make_message(conversation, sequence=2, status=Message.Status.FAILED)
    Message.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=2))
    out = make_message(
        conversation, sequence=1, direction=Message.Direction.OUTBOUND, status=Message.Status.SENT
    )
    other = Conversation.objects.create(
        tenant=world.a1.tenant, sender=world.a1.sender, customer="+447700900123"
    )
    make_message(other)
    client = api(world.key_a)

    def ids(query):
        response = client.get(f"/api/v1/messages/?{query}")
        assert response.status_code == 200, response.content
        return {m["id"] for m in response.json()["results"]}

    assert ids(f"sender={world.a1.sender.pk}") == {
        world.a1.message.pk,
        old.pk,
        out.pk,
        other.messages.get().pk,
    }
    # Infobip's form of the number is accepted; the other tenant of the partner has the same customer.
    assert ids("customer=385919998888") == {world.a1.message.pk, old.pk, out.pk, world.a2.message.pk}
    assert ids(f"tenant={world.a1.tenant.pk}&customer={CUSTOMER.replace('+', '%2B')}&status=failed") == {
        old.pk
    }
    assert ids(f"conversation={conversation.pk}&direction=out") == {out.pk}
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+", "%2B")
    assert old.pk not in ids(f"tenant={world.a1.tenant.pk}&since={since}")
    assert ids(f"tenant={world.a1.tenant.pk}&until={since}") == {old.pk}
    assert ids(f"sender={world.b.sender.pk}") == set()


def test_a_bad_filter_is_a_400_that_names_the_parameter(world):
    response = api(world.key_a).get("/api/v1/messages/?since=yesterday&status=lost")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"since", "status"}
    response = api(world.key_a).get("/api/v1/messages/?cursor=garbage")
    assert response.status_code == 400 and "cursor" in response.json()["error"]["fields"]


def test_cursor_pages_walk_every_message_once_newest_first(world):
    conversation = world.a1.conversation
    for sequence in range(2, 8):
        make_message(conversation, sequence=sequence)
    client = api(world.a1.key)
    seen, url = [], "/api/v1/messages/?limit=3"
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 3
        seen += [m["id"] for m in page["results"]]
        url = page["next"]
    assert seen == sorted(
        Message.objects.filter(tenant=world.a1.tenant).values_list("pk", flat=True), reverse=True
    )


def test_conversations_filter_and_show_the_window(world):
    client = api(world.a1.key)
    results = client.get(f"/api/v1/conversations/?customer={CUSTOMER.replace('+', '%2B')}").json()["results"]
    assert [(c["id"], c["window_open"]) for c in results] == [(world.a1.conversation.pk, True)]
    assert client.get("/api/v1/conversations/?status=closed").json()["results"] == []


# --- sending ----------------------------------------------------------------------------------------------


def open_window(tenant, sim, customer=CUSTOMER):
    sender = whatsapp(tenant)
    Conversation.objects.update_or_create(
        sender=sender, customer=customer, defaults={"tenant": tenant, "last_inbound_at": timezone.now()}
    )
    sim.post(
        "/__sim/infobip/window",
        json={"account": "demo-account-key", "sender": sender.address, "customer": customer, "hours_ago": 0},
    ).raise_for_status()
    return sender


def test_a_text_goes_through_the_relay_to_the_phone(wired, sim, django_capture_on_commit_callbacks):
    tenant, key = wired
    sender = open_window(tenant, sim)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(key).post(
            "/api/v1/messages/send/",
            {"sender": sender.pk, "to": "385919998888", "text": "Your order left"},
            format="json",
        )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["customer"], data["direction"], data["kind"]) == (CUSTOMER, "out", "text")
    message = Message.objects.get(pk=data["id"])
    assert message.status == Message.Status.SENT
    assert [m["content"]["text"] for m in phone(sim)] == ["Your order left"]
    assert api(key).get(f"/api/v1/messages/{message.pk}/").json()["status"] == "sent"


def test_free_text_outside_the_whatsapp_window_is_refused(wired):
    tenant, key = wired
    response = api(key).post(
        "/api/v1/messages/send/", {"sender": whatsapp(tenant).pk, "to": CUSTOMER, "text": "hi"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "outside_24h_window"
    assert not Message.objects.filter(direction="out").exists()


def test_a_template_reaches_the_phone_with_its_values(wired, sim, django_capture_on_commit_callbacks):
    tenant, key = wired
    with django_capture_on_commit_callbacks(execute=True):
        response = api(key).post(
            "/api/v1/messages/send-template/",
            {"sender": whatsapp(tenant).pk, "to": CUSTOMER, "template": TEMPLATE},
            format="json",
        )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["kind"] == "template" and data["template"]["name"] == "order_shipped"
    assert "Hi Maria, your order 10234 has shipped" in data["text"]
    assert data["template"]["body_placeholders"] == ["Maria", "10234", "Friday"]
    (received,) = phone(sim)
    assert received["kind"] == "TEMPLATE" and "Maria" in str(received["rendered"])
    assert Message.objects.get(pk=data["id"]).status == Message.Status.SENT


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "no_such_template"}, "template.name"),
        ({"name": "feedback_request", "language": "es"}, "template.name"),  # PENDING
        ({"values": {**VALUES, "body_3": "", "reply_1": "agent"}}, "template.values.body_3"),
        ({"values": VALUES}, "template.values.reply_1"),
        ({"values": {**VALUES, "reply_1": "agent", "body_9": "x"}}, "template.values.body_9"),
        ({"values": {**VALUES, "reply_1": "agent", "url_1": "has space"}}, "template.values.url_1"),
    ],
)
def test_a_template_that_does_not_fit_is_refused_before_anything_is_stored(wired, change, field):
    tenant, key = wired
    response = api(key).post(
        "/api/v1/messages/send-template/",
        {"sender": whatsapp(tenant).pk, "to": CUSTOMER, "template": {**TEMPLATE, **change}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Message.objects.filter(direction="out").exists()


def test_templates_go_from_whatsapp_senders_only_and_not_from_disabled_ones(wired):
    tenant, key = wired
    sms = Sender.objects.get(tenant=tenant, channel="sms")
    body = {"sender": sms.pk, "to": CUSTOMER, "template": TEMPLATE}
    response = api(key).post("/api/v1/messages/send-template/", body, format="json")
    assert response.status_code == 400 and "sender" in response.json()["error"]["fields"]
    Sender.objects.filter(pk=whatsapp(tenant).pk).update(enabled=False)
    body["sender"] = whatsapp(tenant).pk
    response = api(key).post("/api/v1/messages/send-template/", body, format="json")
    assert response.json()["error"]["fields"] == {"sender": ["This sender is disabled."]}


def test_the_same_idempotency_key_returns_the_first_result_and_sends_once(
    wired, sim, django_capture_on_commit_callbacks
):
    tenant, key = wired
    body = {"sender": whatsapp(tenant).pk, "to": CUSTOMER, "template": TEMPLATE}
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-10234-shipped"}
    with django_capture_on_commit_callbacks(execute=True):
        first = api(key).post("/api/v1/messages/send-template/", body, format="json", **headers)
        second = api(key).post("/api/v1/messages/send-template/", body, format="json", **headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Message.objects.filter(direction="out").count() == 1
    assert len(phone(sim)) == 1
    reused = api(key).post(
        "/api/v1/messages/send-template/", {**body, "to": "+385919990000"}, format="json", **headers
    )
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


def test_a_key_names_its_first_message_for_a_day_and_a_new_one_after(
    wired, sim, django_capture_on_commit_callbacks
):
    """The relay's own de-duplication of a keyed send lasts as long as the API's record of the answer: a retry
    whose answer was never recorded (the caller crashed, or the record was lost) still gets the first message, and
    the same key a day later is a new request that sends, whatever its body (it used to answer 201 with the day-old
    message and send nothing)."""
    from portal.api.models import IdempotencyRecord

    tenant, key = wired
    body = {"sender": whatsapp(tenant).pk, "to": CUSTOMER, "template": TEMPLATE}
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-10234"}
    with django_capture_on_commit_callbacks(execute=True):
        first = api(key).post("/api/v1/messages/send-template/", body, format="json", **headers)
        IdempotencyRecord.objects.all().delete()  # the answer was never recorded
        retry = api(key).post("/api/v1/messages/send-template/", body, format="json", **headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"] and len(phone(sim)) == 1

    a_day_ago = timezone.now() - timedelta(hours=24, minutes=1)
    IdempotencyRecord.objects.update(created_at=a_day_ago)
    Message.objects.update(created_at=a_day_ago)
    other = {**body, "template": {**TEMPLATE, "values": {**TEMPLATE["values"], "body_1": "Ivo"}}}
    with django_capture_on_commit_callbacks(execute=True):
        later = api(key).post("/api/v1/messages/send-template/", other, format="json", **headers)
        replayed = api(key).post("/api/v1/messages/send-template/", other, format="json", **headers)
    assert later.status_code == 201, later.content
    assert later.json()["id"] != first.json()["id"] and "Ivo" in later.json()["text"]
    assert replayed.json()["id"] == later.json()["id"] and replayed["Idempotent-Replayed"] == "true"
    assert Message.objects.filter(direction="out").count() == 2
    assert len(phone(sim)) == 2


def test_retry_queues_a_failed_message_again_and_refuses_others(
    wired, sim, django_capture_on_commit_callbacks
):
    tenant, key = wired
    sender = open_window(tenant, sim)
    conversation = Conversation.objects.get(sender=sender, customer=CUSTOMER)
    failed = make_message(
        conversation,
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.FAILED,
        content={"kind": "text", "text": "second try"},
        text="second try",
        last_error="Infobip failed",
    )
    client = api(key)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/messages/{failed.pk}/retry/")
    assert response.status_code == 200, response.content
    failed.refresh_from_db()
    assert failed.status == Message.Status.SENT and failed.last_error == ""
    assert [m["content"]["text"] for m in phone(sim)] == ["second try"]
    again = client.post(f"/api/v1/messages/{failed.pk}/retry/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_failed"
