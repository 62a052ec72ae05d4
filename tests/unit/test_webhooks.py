"""Provider webhooks: the right caller gets its messages stored once; every bad input changes nothing."""

import base64
import json
from pathlib import Path

import pytest

from relay.inbound.auth import expected_signature
from relay.models import Conversation, Message
from tenants.models import ProviderAccount
from tests.factories import make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "relay" / "providers" / "infobip" / "fixtures"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def account():
    account = make_account(make_tenant(welcome_text=""))
    make_sender(account, "+41793026731")  # the number the vendor's example writes to
    return account


def post(client, account, body: bytes, **headers):
    return client.post(account.webhook_path, data=body, content_type="application/json", headers=headers)


def signed(account, body: bytes) -> dict:
    return {"X-Hub-Signature-256": expected_signature(str(account.webhook_secret), body)}


def test_signed_whatsapp_text_is_stored_in_a_new_conversation(
    client, account, django_capture_on_commit_callbacks
):
    body = fixture_bytes("whatsapp_text.json")
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, account, body, **signed(account, body))
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 1, "duplicates": 0, "reports": 0}
    message = Message.objects.get()
    assert (message.text, message.direction, message.status) == ("Hello, World!", "in", "pending")
    assert message.conversation.customer == "+385919998888" and message.conversation.customer_name == "Frank"
    assert len(callbacks) == 1  # the delivery is queued after commit, not before


def test_a_broker_that_is_down_does_not_fail_a_stored_message(
    client, account, monkeypatch, django_capture_on_commit_callbacks
):
    """The wake runs once the message is committed; the broker refusing it (Celery's publish gave up) must not
    turn the stored message into a 500 (and the provider's retry into a duplicate): the sweeper queues it."""
    from kombu.exceptions import OperationalError

    from relay import tasks
    from relay.lines import wake

    refused: list[tuple] = []

    def broker_down(*args, **kwargs):
        refused.append(args)
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(tasks.deliver_inbound, "delay", broker_down)
    body = fixture_bytes("whatsapp_text.json")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, account, body, **signed(account, body))
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    message = Message.objects.get()
    assert message.status == "pending"  # the sweeper's to queue
    assert refused == [(message.conversation_id,)]
    wake.finished("in", message.conversation_id)


def test_replayed_webhook_changes_nothing(client, account):
    body = fixture_bytes("whatsapp_text.json")
    post(client, account, body, **signed(account, body))
    response = post(client, account, body, **signed(account, body))
    assert response.json() == {"accepted": 0, "duplicates": 1, "reports": 0}
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({}, 401, "missing X-Hub-Signature-256"),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, 401, "does not match"),
    ],
)
def test_wrong_or_missing_signature_is_refused(client, account, headers, status, error):
    response = post(client, account, fixture_bytes("whatsapp_text.json"), **headers)
    assert response.status_code == status
    assert error in response.json()["error"]
    assert not Message.objects.exists() and not Conversation.objects.exists()


def test_signature_of_another_body_is_refused(client, account):
    body = fixture_bytes("whatsapp_text.json")
    tampered = body.replace(b"Hello, World!", b"Send money now")
    response = post(client, account, tampered, **signed(account, body))
    assert response.status_code == 401
    assert not Message.objects.exists()


def test_malformed_json_is_a_clear_400(client, account):
    body = b'{"results": [ {"from": '
    response = post(client, account, body, **signed(account, body))
    assert response.status_code == 400
    assert response.json()["error"].startswith("malformed JSON")
    assert not Message.objects.exists()


def test_json_that_is_not_an_infobip_webhook_is_a_clear_400(client, account):
    body = json.dumps({"hello": "world"}).encode()
    response = post(client, account, body, **signed(account, body))
    assert response.status_code == 400
    assert response.json()["error"].startswith("not a webhook from Infobip")
    assert not Message.objects.exists()


def test_unknown_account_key_is_404(client, account):
    body = fixture_bytes("whatsapp_text.json")
    response = client.post("/webhooks/infobip/not-a-key/", data=body, content_type="application/json")
    assert response.status_code == 404
    assert "unknown webhook URL" in response.json()["error"]


def test_an_account_key_with_a_nul_is_404_not_500(client, account):
    """Anyone can write %00 into the URL; PostgreSQL refused the lookup (a 500)."""
    body = fixture_bytes("whatsapp_text.json")
    response = client.post("/webhooks/infobip/not%00a-key/", data=body, content_type="application/json")
    assert response.status_code == 404
    assert "unknown webhook URL" in response.json()["error"]
    assert not Message.objects.exists()


def test_oversize_body_is_413(client, account, settings):
    settings.WEBHOOK_MAX_BYTES = 200
    body = fixture_bytes("whatsapp_text.json")
    response = post(client, account, body, **signed(account, body))
    assert response.status_code == 413
    assert not Message.objects.exists()


def test_message_for_a_sender_we_do_not_have_is_422_and_stores_nothing(client, account):
    body = fixture_bytes("whatsapp_text.json").replace(b'"to": "41793026731"', b'"to": "447860099299"')
    response = post(client, account, body, **signed(account, body))
    assert response.status_code == 422
    assert "no whatsapp sender +447860099299" in response.json()["error"]
    assert not Message.objects.exists() and not Conversation.objects.exists()


def test_get_is_not_allowed(client, account):
    assert client.get(account.webhook_path).status_code == 405


def test_basic_credentials(client):
    account = make_account(make_tenant(), webhook_auth=ProviderAccount.WebhookAuth.BASIC)
    make_sender(account, "+41793026731")
    body = fixture_bytes("whatsapp_text.json")
    good = base64.b64encode(f"{account.webhook_username}:{account.webhook_secret}".encode()).decode()
    bad = base64.b64encode(f"{account.webhook_username}:nope".encode()).decode()
    assert post(client, account, body, Authorization=f"Basic {bad}").status_code == 401
    assert not Message.objects.exists()
    assert post(client, account, body, Authorization=f"Basic {good}").status_code == 200
    assert Message.objects.count() == 1


def test_header_token(client):
    account = make_account(make_tenant(), webhook_auth=ProviderAccount.WebhookAuth.HEADER)
    make_sender(account, "+41793026731")
    body = fixture_bytes("whatsapp_text.json")
    assert post(client, account, body, **{"X-Switchboard-Token": "wrong"}).status_code == 401
    assert (
        post(client, account, body, **{"X-Switchboard-Token": str(account.webhook_secret)}).status_code == 200
    )


def test_welcome_text_is_queued_once_for_a_new_conversation(client):
    account = make_account(make_tenant(welcome_text="Hi! An agent will be with you shortly."))
    make_sender(account, "+41793026731")
    body = fixture_bytes("whatsapp_text.json")
    post(client, account, body, **signed(account, body))
    second = body.replace(b"wamid.HBgL", b"wamid.XXXX")
    post(client, account, second, **signed(account, second))
    welcome = Message.objects.filter(direction="out")
    assert [m.text for m in welcome] == ["Hi! An agent will be with you shortly."]
    assert Message.objects.filter(direction="in").count() == 2
