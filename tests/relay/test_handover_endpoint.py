"""``POST /handover/<key>/``: authentication, the contract's field errors, idempotency, tenant scoping.

Bad calls get a 4xx that says what is wrong and write nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from relay.handover.models import Handover, HandoverEndpoint
from relay.inbound.auth import expected_signature
from relay.models import Conversation, Message
from tests.factories import ORG_B, make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db

CAI = "6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a01"


@pytest.fixture
def acme():
    tenant = make_tenant("Acme")
    sender = make_sender(make_account(tenant), channel_address_identifier=CAI)
    endpoint, secret = HandoverEndpoint.issue(tenant)
    return type("Acme", (), {"tenant": tenant, "sender": sender, "endpoint": endpoint, "secret": secret})


def transcript(count: int = 3) -> list[dict]:
    start = datetime.now(UTC) - timedelta(minutes=5)
    return [
        {
            "speaker": "customer" if i % 2 == 0 else "bot",
            "text": f"line {i}",
            "time": (start + timedelta(seconds=i)).isoformat(),
        }
        for i in range(count)
    ]


def post(client, acme, body, *, headers=None, raw: bytes | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {acme.secret}"} if headers is None else headers
    data = raw if raw is not None else json.dumps(body).encode()
    return client.post(acme.endpoint.path, data=data, content_type="application/json", **headers)


def nothing_written():
    return (
        not Handover.objects.exists() and not Message.objects.exists() and not Conversation.objects.exists()
    )


def test_a_valid_handover_is_stored_with_its_place_in_the_line(client, acme):
    response = post(
        client, acme, {"customer": "+385 91 999 8888", "customerName": "Frank", "transcript": transcript()}
    )
    assert response.status_code == 202, response.content
    assert response.json()["entries"] == 3 and response.json()["duplicate"] is False
    handover = Handover.objects.get()
    assert [e["text"] for e in handover.entries] == ["line 0", "line 1", "line 2"]
    assert handover.conversation.customer == "+385919998888"
    assert handover.conversation.customer_name == "Frank"
    line = Message.objects.get()
    assert (line.kind, line.direction, line.status) == ("history", "in", "pending")
    assert line.content == {"handover": handover.pk}


def test_the_same_handover_again_changes_nothing(client, acme):
    body = {"customer": "+385919998888", "transcript": transcript()}
    assert post(client, acme, body).status_code == 202
    for _ in range(3):
        again = post(client, acme, body)
        assert again.status_code == 200 and again.json()["duplicate"] is True
    assert Handover.objects.count() == 1 and Message.objects.count() == 1


def test_answers_call_api_body_fetches_later_and_is_idempotent_on_the_conversation(client, acme):
    body = {"conversationId": "4461ea29-c09e-4ba8-a751-df86cf0a0eb9", "senderNumber": "385919998888"}
    first = post(client, acme, body)
    assert first.status_code == 202 and first.json()["entries"] is None
    assert post(client, acme, body).json()["duplicate"] is True
    handover = Handover.objects.get()
    assert (handover.provider, handover.transcript_ready) == ("infobip", False)
    assert handover.key == "conversation:4461ea29-c09e-4ba8-a751-df86cf0a0eb9"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing Authorization"),
        ({"HTTP_AUTHORIZATION": "Bearer not-the-secret"}, "wrong bearer token"),
        ({"HTTP_AUTHORIZATION": "Basic Zm9vOmJhcg=="}, "missing Authorization"),
    ],
)
def test_wrong_credentials_are_refused(client, acme, headers, reason):
    response = post(client, acme, {"customer": "+385919998888", "transcript": transcript()}, headers=headers)
    assert response.status_code == 401 and reason in response.json()["error"]
    assert nothing_written()


def test_hmac_and_header_modes(client, acme):
    body = json.dumps({"customer": "+385919998888", "transcript": transcript()}).encode()
    acme.endpoint.auth = HandoverEndpoint.Auth.HMAC
    acme.endpoint.save()
    bad = post(client, acme, None, raw=body, headers={"HTTP_X_HUB_SIGNATURE_256": "sha256=00"})
    assert bad.status_code == 401
    good = post(
        client,
        acme,
        None,
        raw=body,
        headers={"HTTP_X_HUB_SIGNATURE_256": expected_signature(acme.secret, body)},
    )
    assert good.status_code == 202
    acme.endpoint.auth = HandoverEndpoint.Auth.HEADER
    acme.endpoint.save()
    assert post(client, acme, None, raw=body, headers={"HTTP_X_SWITCHBOARD_TOKEN": "nope"}).status_code == 401
    assert (
        post(client, acme, None, raw=body, headers={"HTTP_X_SWITCHBOARD_TOKEN": acme.secret}).status_code
        == 200
    )


def test_an_unknown_or_inactive_endpoint_is_404(client, acme):
    assert (
        client.post("/handover/no-such-key/", data="{}", content_type="application/json").status_code == 404
    )
    acme.endpoint.active = False
    acme.endpoint.save()
    assert post(client, acme, {"customer": "+385919998888", "transcript": transcript()}).status_code == 404


def test_a_key_with_a_nul_is_404_not_500(client, acme):
    """Anyone can write %00 into the URL; PostgreSQL refused the lookup (a 500)."""
    response = client.post("/handover/no%00key/", data="{}", content_type="application/json")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"transcript": transcript()}, "customer", "customer's number"),
        ({"customer": "12", "transcript": transcript()}, "customer", ""),
        ({"customer": "+385919998888"}, "transcript", "conversationId"),
        (
            {"customer": "+385919998888", "channel": "TELEGRAM", "transcript": transcript()},
            "channel",
            "WHATSAPP",
        ),
        (
            {"customer": "+385919998888", "sender": "+447491163443", "transcript": transcript()},
            "sender",
            "No enabled",
        ),
        (
            {
                "customer": "+385919998888",
                "transcript": [{"speaker": "robot", "text": "hi", "time": 1700000000000}],
            },
            "transcript",
            "customer, bot, agent or system",
        ),
        (
            {
                "customer": "+385919998888",
                "transcript": [{"speaker": "bot", "text": "hi", "time": "yesterday"}],
            },
            "transcript",
            "ISO 8601",
        ),
        (
            {
                "customer": "+385919998888",
                "transcript": [
                    {
                        "speaker": "bot",
                        "text": "hi",
                        "time": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                    }
                ],
            },
            "transcript",
            "future",
        ),
        (
            {"customer": "+385919998888", "transcript": [{"speaker": "bot", "time": 1700000000000}]},
            "transcript",
            "text",
        ),
        (
            {
                "customer": "+385919998888",
                "transcript": [{"id": "a", "speaker": "bot", "text": "x", "time": 1700000000000}] * 2,
            },
            "transcript",
            "twice",
        ),
    ],
)
def test_field_errors_say_what_is_wrong_and_write_nothing(client, acme, body, field, says):
    response = post(client, acme, body)
    assert response.status_code == 400, response.content
    errors = response.json()["fields"]
    assert field in errors and says in json.dumps(errors)
    assert nothing_written()


def test_malformed_bodies(client, acme):
    assert post(client, acme, None, raw=b"{not json").status_code == 400
    assert post(client, acme, None, raw=b"[1, 2]").status_code == 400
    assert nothing_written()


def test_several_senders_need_naming_and_another_tenants_sender_is_unknown(client, acme):
    make_sender(acme.sender.account, "+447860099111", channel_address_identifier="cai-2")
    body = {"customer": "+385919998888", "transcript": transcript()}
    assert "several" in json.dumps(post(client, acme, body).json()["fields"])
    globex = make_tenant("Globex", ORG_B)
    make_sender(make_account(globex), "+447860099999", channel_address_identifier="cai-g")
    refused = post(client, acme, {**body, "sender": "+447860099999"})
    assert refused.status_code == 400 and "No enabled" in json.dumps(refused.json()["fields"])
    named = post(client, acme, {**body, "sender": "447860099111"})
    assert named.status_code == 202
    assert Handover.objects.get().conversation.sender.address == "+447860099111"


def test_a_sender_without_a_messaging_channel_is_refused(client, acme):
    acme.sender.channel_address_identifier = ""
    acme.sender.save()
    response = post(client, acme, {"customer": "+385919998888", "transcript": transcript()})
    assert response.status_code == 400 and "Messaging channel" in json.dumps(response.json()["fields"])
    assert nothing_written()


def test_the_admin_shows_the_url_and_secret_once_and_they_work(client, django_user_model):
    tenant = make_tenant("Acme")
    make_sender(make_account(tenant), channel_address_identifier=CAI)
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-1234567")
    client.force_login(admin_user)
    response = client.post(
        "/admin/relay/handoverendpoint/add/",
        {"tenant": tenant.pk, "auth": "header", "active": "on", "history_mode": "auto"},
        follow=True,
    )
    assert response.status_code == 200
    shown = " ".join(str(m) for m in response.context["messages"])
    endpoint = HandoverEndpoint.objects.get(tenant=tenant)
    assert endpoint.path in shown and f"X-Switchboard-Token: {endpoint.secret}" in shown
    client.logout()
    ok = client.post(
        endpoint.path,
        data=json.dumps({"customer": "+385919998888", "transcript": transcript()}),
        content_type="application/json",
        HTTP_X_SWITCHBOARD_TOKEN=str(endpoint.secret),
    )
    assert ok.status_code == 202
    client.force_login(admin_user)
    change = client.get(f"/admin/relay/handoverendpoint/{endpoint.pk}/change/")
    assert change.status_code == 200 and endpoint.path in change.content.decode()
    assert str(endpoint.secret) not in change.content.decode()  # never shown again
