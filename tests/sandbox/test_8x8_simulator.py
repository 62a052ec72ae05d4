"""The 8x8 Chat Apps simulator against 8x8's own files: send and its errors, batch, templates, the webhook
configuration API, inbound v3 webhooks, receipts (v9) with the documented retries, the 24-hour window."""

from __future__ import annotations

import base64

import pytest

from sandbox.eightbyeight.state import RETRY_DELAYS
from sandbox.openapi import load_spec

from .infobip_support import sink_posts, sink_url, wait_for

SPEC = load_spec("sandbox/specs/8x8/business_messaging_api.json")
ACCOUNT_ID = "0f1d2c3b-4a59-4687-a7b8-c9d0e1f2a3b4"
SUB = "Acme_ChatApps"
KEY = "eight-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
WA, VIBER, SMS = (
    "6f3e1c1a-0b1e-4c1a-9d1e-000000000001",
    "6f3e1c1a-0b1e-4c1a-9d1e-000000000002",
    "6f3e1c1a-0b1e-4c1a-9d1e-000000000003",
)
CUSTOMER = "+447400123456"
SEND = f"/sim/8x8/api/v1/subaccounts/{SUB}/messages"
TEMPLATE = {
    "channelId": WA,
    "channelName": "Acme WhatsApp",
    "templateName": "order_ready",
    "language": "en_US",
    "components": [{"type": "BODY", "text": "Your order {{1}} is ready"}],
    "category": "UTILITY",
    "status": "APPROVED",
}


def account_spec(sandbox, authorization: str = "Basic dTpw", status: int | None = None) -> dict:
    return {
        "account_id": ACCOUNT_ID,
        "api_key": KEY,
        "sub_accounts": [
            {
                "id": SUB,
                "channels": [
                    {"id": WA, "channel": "whatsapp", "name": "Acme WhatsApp", "address": "+447860099299"},
                    {"id": VIBER, "channel": "viber", "name": "Acme Viber", "address": "AcmeViber"},
                    {"id": SMS, "channel": "sms", "name": "Acme SMS", "address": "+447491163443"},
                ],
            }
        ],
        "templates": {WA: [TEMPLATE]},
        "webhooks": [
            {
                "subAccountId": "*",
                "url": sink_url(sandbox, "eight", status),
                "httpAuthorization": authorization,
            }
        ],
    }


@pytest.fixture
def account(sim, sandbox):
    response = sim.post("/__sim/8x8/accounts", json=account_spec(sandbox))
    assert response.status_code == 201, response.text


def valid_response(method: str, path: str, response) -> None:
    operation = SPEC.operation(method, path)
    assert operation is not None
    assert operation.validate_response(response.status_code, response.json()) == []


def webhooks(sim, event: str) -> list[dict]:
    return [p for p in sink_posts(sim, "eight") if (p["body"] or {}).get("eventType") == event]


def write(sim, channel=WA, **spec):
    response = sim.post("/__sim/8x8/inbound", json={"channel_id": channel, "from": CUSTOMER, **spec})
    assert response.status_code == 201, response.text
    return response.json()


def test_send_answers_queued_with_umid(sim, account):
    write(sim, text="hi")
    body = {
        "user": {"msisdn": CUSTOMER},
        "type": "text",
        "content": {"text": "Hello"},
        "clientMessageId": "m1",
        "channels": [{"channel": "WhatsApp"}],
    }
    response = sim.post(SEND, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["status"]["state"] == "queued" and data["clientMessageId"] == "m1"
    valid_response("post", SEND[len("/sim/8x8") :], response)
    receipts = wait_for(lambda: webhooks(sim, "outbound_message_status_changed"), lambda r: len(r) >= 2)
    states = [r["body"]["payload"]["status"]["state"] for r in receipts]
    assert states == ["sent", "delivered"]
    assert all(r["body"]["payload"]["umid"] == data["umid"] for r in receipts)
    assert receipts[0]["headers"]["authorization"] == "Basic dTpw"  # verbatim, no signature


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({}, {"user": {"msisdn": CUSTOMER}, "type": "text", "content": {"text": "x"}}, 401, 1200),
        (
            {"Authorization": "Bearer wrong"},
            {"user": {"msisdn": CUSTOMER}, "type": "text", "content": {"text": "x"}},
            401,
            1200,
        ),
        (AUTH, {"user": {"msisdn": "447400123456"}, "type": "text", "content": {"text": "x"}}, 400, 1002),
        (AUTH, {"user": {"msisdn": CUSTOMER}, "type": "sticker", "content": {"text": "x"}}, 400, 1000),
        (AUTH, {"user": {"msisdn": CUSTOMER}, "content": {"text": "x"}}, 400, 1000),
        (AUTH, {"user": {"msisdn": CUSTOMER}, "type": "image", "content": {"text": "x"}}, 400, 1000),
        (
            AUTH,
            {
                "user": {"msisdn": CUSTOMER},
                "type": "template",
                "content": {"template": {"name": "nope", "language": "en_US"}},
            },
            400,
            1000,
        ),
        (
            AUTH,
            {
                "user": {"msisdn": CUSTOMER},
                "type": "template",
                "content": {"template": {"name": "order_ready", "language": "en_US"}},
                "channels": [{"channel": "Viber"}],
            },
            400,
            1000,
        ),
    ],
)
def test_send_refusals_have_8x8_error_shape(sim, account, headers, body, status, code):
    response = sim.post(SEND, json=body, headers=headers)
    assert response.status_code == status
    data = response.json()
    assert data["code"] == code and data["message"] and data["errorId"] and data["timestamp"]
    valid_response("post", SEND[len("/sim/8x8") :], response)
    assert [m for m in sim.get("/__sim/8x8/messages").json() if m["direction"] == "out"] == []


def test_unknown_sub_account_is_refused(sim, account):
    response = sim.post(
        "/sim/8x8/api/v1/subaccounts/Other_Sub/messages",
        json={"user": {"msisdn": CUSTOMER}, "type": "text", "content": {"text": "x"}},
        headers=AUTH,
    )
    assert response.status_code == 401 and response.json()["code"] == 1001


def test_free_text_outside_the_window_fails_with_error_61_and_templates_pass(sim, account):
    body = {
        "user": {"msisdn": CUSTOMER},
        "type": "text",
        "content": {"text": "late"},
        "channels": [{"channel": "WhatsApp"}],
    }
    assert sim.post(SEND, json=body, headers=AUTH).status_code == 200  # 8x8 accepts, the receipt fails it
    failed = wait_for(lambda: webhooks(sim, "outbound_message_status_changed"), lambda r: len(r) >= 1)[0]
    status = failed["body"]["payload"]["status"]
    assert status["state"] == "failed" and status["errorCode"] == 61
    template = {
        "user": {"msisdn": CUSTOMER},
        "type": "template",
        "content": {
            "template": {
                "name": "order_ready",
                "language": "en_US",
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}]}],
            }
        },
    }
    assert sim.post(SEND, json=template, headers=AUTH).status_code == 200
    states = wait_for(
        lambda: [
            r["body"]["payload"]["status"]["state"] for r in webhooks(sim, "outbound_message_status_changed")
        ],
        lambda s: "delivered" in s,
    )
    assert states == ["failed", "sent", "delivered"]


def test_window_closes_after_24_hours_and_sms_has_none(sim, account):
    write(sim, text="hi")
    sim.post(
        "/__sim/8x8/window", json={"sub_account_id": SUB, "channel_id": WA, "customer": CUSTOMER, "hours": 25}
    )
    body = {"user": {"msisdn": CUSTOMER}, "type": "text", "content": {"text": "late"}}
    sim.post(SEND, json={**body, "channels": [{"channel": "WhatsApp"}]}, headers=AUTH)
    sim.post(SEND, json={**body, "channels": [{"channel": "SMS"}]}, headers=AUTH)
    receipts = wait_for(lambda: webhooks(sim, "outbound_message_status_changed"), lambda r: len(r) >= 3)
    by_channel = {
        (r["body"]["payload"]["channel"], r["body"]["payload"]["status"]["state"]) for r in receipts
    }
    assert ("whatsapp", "failed") in by_channel and ("sms", "delivered") in by_channel


def test_inbound_v3_webhook_and_media_download(sim, account):
    png = b"\x89PNG fake"
    write(
        sim,
        type="Image",
        media={"content_b64": base64.b64encode(png).decode(), "mime_type": "image/png", "filename": "a.png"},
    )
    write(sim, channel=VIBER, text="from viber", channel_user_id="ignored-on-viber")
    posts = wait_for(lambda: webhooks(sim, "inbound_message_received"), lambda r: len(r) >= 2)
    image = next(p["body"] for p in posts if p["body"]["payload"]["type"] == "Image")
    assert image["version"] == 3 and image["namespace"] == "ChatApps"
    assert image["payload"]["recipient"] == {"channel": "whatsapp", "channelId": WA}
    assert image["payload"]["subAccountId"] == SUB
    viber = next(p["body"] for p in posts if p["body"]["payload"]["recipient"]["channel"] == "viber")
    assert viber["payload"]["user"] == {"msisdn": CUSTOMER}  # v3: msisdn only on Viber
    url = image["payload"]["content"]["url"]
    downloaded = sim.get(url[url.index("/sim/8x8") :])
    assert downloaded.status_code == 200 and downloaded.content == png
    assert downloaded.headers["content-type"] == "image/png"
    assert sim.get(url[url.index("/sim/8x8") :].split("?")[0]).status_code == 404  # the token is needed


def test_webhooks_retry_on_the_documented_schedule(sim, sandbox):
    sim.post("/__sim/8x8/accounts", json=account_spec(sandbox, status=500))
    write(sim, text="hi")
    delivery = wait_for(
        lambda: sim.get("/__sim/8x8/deliveries").json(), lambda d: d and d[0]["state"] == "failed", timeout=10
    )[0]
    assert len(delivery["attempts"]) == 1 + len(RETRY_DELAYS)
    assert RETRY_DELAYS == (1, 10, 30, 90)


def test_read_receipt_after_the_customer_reads(sim, account):
    write(sim, text="hi")
    umid = sim.post(
        SEND, json={"user": {"msisdn": CUSTOMER}, "type": "text", "content": {"text": "Hello"}}, headers=AUTH
    ).json()["umid"]
    wait_for(lambda: webhooks(sim, "outbound_message_status_changed"), lambda r: len(r) >= 2)
    assert sim.post(f"/__sim/8x8/messages/{umid}/read").status_code == 200
    states = wait_for(
        lambda: [
            r["body"]["payload"]["status"]["state"] for r in webhooks(sim, "outbound_message_status_changed")
        ],
        lambda s: "read" in s,
    )
    assert states[-1] == "read"


def test_templates_and_webhook_configuration_api(sim, account, sandbox):
    path = f"/sim/8x8/api/v1/accounts/{ACCOUNT_ID}/channels/{WA}/templates"
    listed = sim.get(path, headers=AUTH)
    assert listed.status_code == 200 and listed.json()["templates"][0]["templateName"] == "order_ready"
    valid_response("get", path[len("/sim/8x8") :], listed)
    assert sim.get(path).status_code == 401
    hooks = f"/sim/8x8/api/v1/accounts/{ACCOUNT_ID}/webhooks"
    new = [
        {
            "subAccountId": SUB,
            "url": sink_url(sandbox, "other"),
            "httpAuthorization": "Bearer abc",
            "type": "MSG",
        }
    ]
    assert sim.post(hooks, json=new, headers=AUTH).status_code == 200
    shown = sim.get(hooks, headers=AUTH).json()
    assert {
        "type": "MSG",
        "subAccountId": SUB,
        "url": sink_url(sandbox, "other"),
        "enabled": True,
        "httpAuthorization": "***",
    } in shown
    assert sim.post(hooks, json=[{"url": "x"}], headers=AUTH).status_code == 400
    write(sim, text="to the sub-account's own webhook")
    posted = wait_for(lambda: sink_posts(sim, "other"), lambda p: len(p) >= 1)
    assert posted[0]["headers"]["authorization"] == "Bearer abc"


def test_batch_send(sim, account):
    write(sim, text="hi")
    one = {"type": "text", "content": {"text": "Hi all"}, "channels": [{"channel": "WhatsApp"}]}
    body = {
        "clientBatchId": "b1",
        "includeMessagesInResponse": True,
        "messages": [{**one, "user": {"msisdn": CUSTOMER}}, {**one, "user": {"msisdn": "0123"}}],
    }
    response = sim.post(SEND + "/batch", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["acceptedCount"], data["rejectedCount"], data["clientBatchId"]) == (1, 1, "b1")
    assert [m["status"]["state"] for m in data["messages"]] == ["queued", "rejected"]
    valid_response("post", SEND[len("/sim/8x8") :] + "/batch", response)


def test_phone_page_shows_the_conversation_and_writes(sim, account):
    write(sim, text="hello from phone")
    page = sim.get("/__sim/8x8/phone", params={"channel_id": WA, "customer": CUSTOMER})
    assert page.status_code == 200 and "hello from phone" in page.text
    sent = sim.post("/__sim/8x8/phone", data={"channel_id": WA, "customer": CUSTOMER, "text": "second"})
    assert sent.status_code == 303
    assert len(wait_for(lambda: webhooks(sim, "inbound_message_received"), lambda r: len(r) >= 2)) == 2
