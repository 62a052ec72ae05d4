"""Webhooks from the simulated Infobip: MO, delivery and seen reports, auth, batching, retries, the window."""

import base64
import hashlib
import hmac
import json

import pytest

from sandbox.infobip.webhooks import retry_delay

from .infobip_support import (
    AUTH,
    CUSTOMER,
    SMS,
    VIBER,
    WA,
    assert_valid_webhook,
    create_account,
    open_window,
    sink_posts,
    sink_url,
    wait_for,
    wait_results,
)

BASE = "/sim/infobip"


def inbound(sim, **spec):
    response = sim.post(
        "/__sim/infobip/inbound", json={"channel": "WHATSAPP", "from": CUSTOMER, "to": WA, **spec}
    )
    assert response.status_code == 201, response.text
    return response.json()["messages"][0]


@pytest.fixture
def account(sim, sandbox):
    return create_account(sim, sandbox)


# --- MO -----------------------------------------------------------------------------------------------------


def test_whatsapp_text_mo_reaches_the_portal_and_opens_the_window(sim, account):
    sent = inbound(sim, text="Hello, World!", name="Frank")
    posts = wait_for(lambda: sink_posts(sim), lambda p: len(p) == 1)
    body = posts[0]["body"]
    assert body["messageCount"] == 1 and body["pendingMessageCount"] == 0
    result = body["results"][0]
    assert result["from"] == CUSTOMER and result["to"] == WA and result["integrationType"] == "WHATSAPP"
    assert result["message"] == {"text": "Hello, World!", "type": "TEXT"}
    assert result["contact"] == {"name": "Frank", "phoneNumber": CUSTOMER}
    assert result["messageId"] == sent["messageId"] and result["messageId"].startswith("wamid.")
    assert result["receivedAt"].endswith("+0000")
    assert_valid_webhook("whatsapp", "receive-inbound-whatsapp-messages", body)
    window = sim.get(
        "/__sim/infobip/window", params={"account": "acme", "sender": WA, "customer": CUSTOMER}
    ).json()
    assert window["open"] is True


@pytest.mark.parametrize(
    "spec,expected",
    [
        ({"media": {"type": "IMAGE", "caption": "Look"}}, {"type": "IMAGE", "caption": "Look"}),
        ({"media": {"type": "DOCUMENT"}}, {"type": "DOCUMENT"}),
        ({"media": {"type": "VIDEO"}}, {"type": "VIDEO"}),
        ({"media": {"type": "AUDIO"}}, {"type": "AUDIO"}),
        ({"media": {"type": "VOICE"}}, {"type": "VOICE"}),
        ({"media": {"type": "STICKER"}}, {"type": "STICKER"}),
        (
            {"button_payload": "yes-please", "button_text": "Yes"},
            {"type": "BUTTON", "payload": "yes-please", "text": "Yes"},
        ),
        (
            {"interactive_reply": {"id": "b1", "title": "Yes"}},
            {"type": "INTERACTIVE_BUTTON_REPLY", "id": "b1", "title": "Yes"},
        ),
        (
            {"list_reply": {"id": "r1", "title": "Row", "description": "D"}},
            {"type": "INTERACTIVE_LIST_REPLY", "id": "r1", "title": "Row"},
        ),
        (
            {"location": {"latitude": 45.8, "longitude": 15.97, "name": "Office"}},
            {"type": "LOCATION", "latitude": 45.8, "name": "Office"},
        ),
        ({"contacts": [{"name": "Ana B", "phone": "+385911111111"}]}, {"type": "CONTACT"}),
    ],
)
def test_whatsapp_mo_message_types(sim, account, spec, expected):
    inbound(sim, **spec)
    result = wait_results(sim, lambda r: r.get("integrationType") == "WHATSAPP")[0]
    assert expected.items() <= result["message"].items()
    if spec.get("media"):
        assert result["message"]["url"].startswith(f"{sim.base_url}{BASE}/whatsapp/1/senders/{WA}/media/")
        assert sim.get(result["message"]["url"], headers=AUTH).status_code == 200
    assert_valid_webhook("whatsapp", "receive-inbound-whatsapp-messages", {"results": [result]})


def test_button_reply_echoes_the_quick_reply_parameter_sent(sim, account):
    template = {
        "from": WA,
        "to": CUSTOMER,
        "content": {
            "templateName": "appointment_reminder",
            "language": "en_GB",
            "templateData": {
                "body": {"placeholders": ["John", "12 May", "10:30"]},
                "buttons": [
                    {"type": "QUICK_REPLY", "parameter": "CONFIRM-42"},
                    {"type": "QUICK_REPLY", "parameter": "MOVE-42"},
                ],
            },
        },
    }
    message_id = sim.post(
        f"{BASE}/whatsapp/1/message/template", json={"messages": [template]}, headers=AUTH
    ).json()["messages"][0]["messageId"]
    shown = sim.get("/__sim/infobip/messages", params={"direction": "OUTBOUND"}).json()[0]["rendered"][
        "buttons"
    ][0]
    inbound(sim, button_payload=shown["payload"], button_text=shown["text"], context_message_id=message_id)
    result = wait_results(sim, lambda r: r.get("message", {}).get("type") == "BUTTON")[0]
    assert result["message"]["payload"] == "CONFIRM-42" and result["message"]["text"] == "Yes, I'll be there"
    assert result["message"]["context"]["id"] == message_id


def test_sms_mo(sim, account):
    response = sim.post(
        "/__sim/infobip/inbound", json={"channel": "SMS", "from": CUSTOMER, "to": SMS, "text": "STOP"}
    )
    assert response.status_code == 201
    body = wait_for(lambda: sink_posts(sim), lambda p: p)[0]["body"]
    result = body["results"][0]
    assert result["text"] == "STOP" and result["from"] == CUSTOMER and result["to"] == SMS
    assert "integrationType" not in result and "message" not in result
    assert_valid_webhook("sms", "receive-inbound-sms-messages", body)


def test_viber_mo(sim, account):
    sim.post("/__sim/infobip/inbound", json={"channel": "VIBER", "from": CUSTOMER, "to": VIBER, "text": "Hi"})
    body = wait_for(lambda: sink_posts(sim), lambda p: p)[0]["body"]
    result = body["results"][0]
    assert result["sender"] == CUSTOMER and result["to"] == VIBER and result["integrationType"] == "VIBER"
    assert result["message"] == {"text": "Hi", "type": "TEXT"}
    assert_valid_webhook("viber", "receive-inbound-viber-messages", body)


def test_messages_api_inbound_format(sim, account):
    sim.patch("/__sim/infobip/accounts/acme", json={"inbound_format": "MESSAGES_API"})
    inbound(sim, text="Hello")
    sim.post("/__sim/infobip/inbound", json={"channel": "SMS", "from": CUSTOMER, "to": SMS, "text": "Hi"})
    wait_results(sim, lambda r: r.get("channel") == "SMS")
    results = wait_results(sim, lambda r: r.get("event") == "MO")
    whatsapp = next(r for r in results if r["channel"] == "WHATSAPP")
    assert whatsapp["sender"] == CUSTOMER and whatsapp["destination"] == WA
    assert whatsapp["content"] == [{"type": "TEXT", "text": "Hello", "cleanText": "Hello"}]
    assert "messageCount" not in sink_posts(sim)[0]["body"]
    for result in results:
        assert_valid_webhook("messages-api", "receive-messages-api-incoming-messages", {"results": [result]})


def test_several_results_batched_in_one_post(sim, account):
    response = sim.post(
        "/__sim/infobip/inbound",
        json={
            "channel": "WHATSAPP",
            "from": CUSTOMER,
            "to": WA,
            "messages": [{"text": "one"}, {"text": "two"}, {"text": "three"}],
        },
    )
    assert response.status_code == 201
    posts = wait_for(lambda: sink_posts(sim), lambda p: p)
    assert len(posts) == 1
    assert [r["message"]["text"] for r in posts[0]["body"]["results"]] == ["one", "two", "three"]
    assert posts[0]["body"]["messageCount"] == 3


def test_a_batch_is_at_most_the_profiles_bucket_size(sim, account):
    """Infobip's notification profile: maxBucketSize is "a maximum number of messages to be sent within a single
    request" (1..2000); a burst beyond it leaves in several POSTs, in order."""
    assert sim.patch("/__sim/infobip/accounts/acme", json={"max_bucket_size": 2}).status_code == 200
    texts = ["one", "two", "three", "four", "five"]
    response = sim.post(
        "/__sim/infobip/inbound",
        json={"channel": "WHATSAPP", "from": CUSTOMER, "to": WA, "messages": [{"text": t} for t in texts]},
    )
    assert response.status_code == 201
    posts = wait_for(lambda: sink_posts(sim), lambda p: sum(len(x["body"]["results"]) for x in p) == 5)
    assert sorted(len(post["body"]["results"]) for post in posts) == [1, 2, 2]
    received = [r["message"]["text"] for post in posts for r in post["body"]["results"]]
    assert sorted(received) == sorted(texts)


@pytest.mark.parametrize("size", [0, 2001, "x"])
def test_a_bucket_size_outside_infobips_range_is_refused(sim, account, size):
    response = sim.patch("/__sim/infobip/accounts/acme", json={"max_bucket_size": size})
    assert response.status_code == 400, response.text
    assert sim.get("/__sim/infobip/accounts/acme").json()["max_bucket_size"] == 2000


@pytest.mark.parametrize(
    "spec,error",
    [
        ({"channel": "WHATSAPP", "from": CUSTOMER, "to": WA}, "give text"),
        ({"channel": "FAX", "from": CUSTOMER, "to": WA, "text": "x"}, "channel must be"),
        ({"channel": "WHATSAPP", "to": WA, "text": "x"}, "from"),
        (
            {"channel": "WHATSAPP", "from": CUSTOMER, "to": "441134960000", "text": "x"},
            "no account has the sender",
        ),
        ({"channel": "SMS", "from": CUSTOMER, "to": WA, "text": "x"}, "has no SMS channel"),
    ],
)
def test_bad_inbound_specs_are_refused(sim, account, spec, error):
    response = sim.post("/__sim/infobip/inbound", json=spec)
    assert response.status_code == 400 and error in response.json()["error"]
    assert sim.get("/__sim/infobip/messages").json() == []


# --- delivery and seen reports ---------------------------------------------------------------------------------


def test_delivery_and_seen_reports_after_a_send(sim, account):
    open_window(sim)
    body = {"from": WA, "to": CUSTOMER, "messageId": "m-1", "content": {"text": "Hi"}, "callbackData": "cb"}
    sim.post(f"{BASE}/whatsapp/1/message/text", json=body, headers=AUTH)
    dlr = wait_results(sim, lambda r: r.get("messageId") == "m-1" and "status" in r)[0]
    assert (
        dlr["status"]
        == {
            "id": 5,
            "groupId": 3,
            "groupName": "DELIVERED",
            "name": "DELIVERED_TO_HANDSET",
            "description": "Message delivered to handset",
        }
        or dlr["status"]["name"] == "DELIVERED_TO_HANDSET"
    )
    assert dlr["error"]["name"] == "NO_ERROR" and dlr["callbackData"] == "cb" and dlr["to"] == CUSTOMER
    assert dlr["sentAt"].endswith("+0000") and dlr["doneAt"].endswith("+0000")
    assert_valid_webhook("whatsapp", "receive-whatsapp-delivery-reports", {"results": [dlr]})
    seen = wait_results(sim, lambda r: r.get("messageId") == "m-1" and "seenAt" in r)[0]
    assert seen["from"] == CUSTOMER and seen["to"] == WA
    assert_valid_webhook("whatsapp", "receive-whatsapp-seen-reports", {"results": [seen]})


def test_reports_go_to_the_notify_url_when_given(sim, sandbox, account):
    open_window(sim)
    body = {
        "from": WA,
        "to": CUSTOMER,
        "messageId": "m-2",
        "content": {"text": "Hi"},
        "notifyUrl": sink_url(sandbox, "per-message"),
    }
    sim.post(f"{BASE}/whatsapp/1/message/text", json=body, headers=AUTH)
    wait_results(sim, lambda r: r.get("messageId") == "m-2", name="per-message")
    assert not any(r.get("messageId") == "m-2" for p in sink_posts(sim) for r in p["body"]["results"])


@pytest.mark.parametrize(
    "path,body,spec_name,webhook",
    [
        (
            "/sms/3/messages",
            {
                "messages": [
                    {
                        "sender": SMS,
                        "destinations": [{"to": CUSTOMER, "messageId": "x-1"}],
                        "content": {"text": "Hi"},
                        "webhooks": {"callbackData": "cb"},
                    }
                ]
            },
            "sms",
            "receive-outbound-sms-message-reports-v3",
        ),
        (
            "/sms/2/text/advanced",
            {
                "messages": [
                    {"from": SMS, "destinations": [{"to": CUSTOMER, "messageId": "x-1"}], "text": "Hi"}
                ]
            },
            "sms",
            "receive-outbound-sms-message-reports",
        ),
        (
            "/viber/2/messages",
            {
                "messages": [
                    {
                        "sender": VIBER,
                        "destinations": [{"to": CUSTOMER, "messageId": "x-1"}],
                        "content": {"type": "TEXT", "text": "Hi"},
                    }
                ]
            },
            "viber",
            "receive-outbound-viber-message-delivery-reports",
        ),
        (
            "/messages-api/1/messages",
            {
                "messages": [
                    {
                        "channel": "SMS",
                        "sender": SMS,
                        "destinations": [{"to": CUSTOMER, "messageId": "x-1"}],
                        "content": {"body": {"type": "TEXT", "text": "Hi"}},
                    }
                ]
            },
            "messages-api",
            "receive-messages-api-delivery-reports",
        ),
    ],
)
def test_delivery_reports_of_other_channels_match_the_vendor_schemas(
    sim, account, path, body, spec_name, webhook
):
    assert sim.post(BASE + path, json=body, headers=AUTH).status_code == 200
    dlr = wait_results(sim, lambda r: r.get("messageId") == "x-1" and "status" in r)[0]
    assert dlr["status"]["groupName"] == "DELIVERED"
    assert_valid_webhook(spec_name, webhook, {"results": [dlr]})


def test_sms_v3_report_goes_to_the_webhooks_delivery_url(sim, sandbox, account):
    body = {
        "messages": [
            {
                "sender": SMS,
                "destinations": [{"to": CUSTOMER, "messageId": "s-9"}],
                "content": {"text": "Hi"},
                "webhooks": {"delivery": {"url": sink_url(sandbox, "sms-dlr")}},
            }
        ]
    }
    sim.post(BASE + "/sms/3/messages", json=body, headers=AUTH)
    assert wait_results(sim, lambda r: r.get("messageId") == "s-9", name="sms-dlr")


@pytest.mark.parametrize("outcome,group", [("FAILED", "UNDELIVERABLE"), ("REJECTED", "REJECTED")])
def test_configured_failure_outcome(sim, account, outcome, group):
    sim.patch("/__sim/infobip/accounts/acme", json={"dlr_outcome": outcome})
    open_window(sim)
    sim.post(
        f"{BASE}/whatsapp/1/message/text",
        json={"from": WA, "to": CUSTOMER, "messageId": "f-1", "content": {"text": "x"}},
        headers=AUTH,
    )
    dlr = wait_results(sim, lambda r: r.get("messageId") == "f-1")[0]
    assert dlr["status"]["groupName"] == group and dlr["error"]["permanent"] is True


def test_outside_the_window_free_form_is_accepted_then_fails_in_the_report(sim, account):
    inbound(sim, text="old message")
    moved = sim.post(
        "/__sim/infobip/window", json={"account": "acme", "sender": WA, "customer": CUSTOMER, "hours_ago": 25}
    )
    assert moved.json()["open"] is False
    response = sim.post(
        f"{BASE}/whatsapp/1/message/text",
        json={"from": WA, "to": CUSTOMER, "messageId": "w-1", "content": {"text": "late"}},
        headers=AUTH,
    )
    assert response.status_code == 200 and response.json()["status"]["name"] == "PENDING_ENROUTE"
    dlr = wait_results(sim, lambda r: r.get("messageId") == "w-1")[0]
    assert dlr["status"]["groupName"] == "UNDELIVERABLE"
    assert dlr["error"]["name"] == "EC_OUTSIDE_24H_WINDOW" and "24-hour" in dlr["error"]["description"]
    assert not any(
        r.get("messageId") == "w-1" and "seenAt" in r for p in sink_posts(sim) for r in p["body"]["results"]
    )
    sim.patch(
        "/__sim/infobip/accounts/acme",
        json={"window_status": "REJECTED", "window_error": {"id": 470, "name": "EC_470"}},
    )
    sim.post(
        f"{BASE}/whatsapp/1/message/image",
        json={"from": WA, "to": CUSTOMER, "messageId": "w-2", "content": {"mediaUrl": "https://e.com/a.png"}},
        headers=AUTH,
    )
    dlr = wait_results(sim, lambda r: r.get("messageId") == "w-2")[0]
    assert (
        dlr["status"]["groupName"] == "REJECTED"
        and dlr["error"]["id"] == 470
        and dlr["error"]["name"] == "EC_470"
    )


def test_no_reports_when_switched_off(sim, account):
    sim.patch("/__sim/infobip/accounts/acme", json={"dlr_outcome": "NONE"})
    open_window(sim)
    sim.post(
        f"{BASE}/whatsapp/1/message/text",
        json={"from": WA, "to": CUSTOMER, "messageId": "n-1", "content": {"text": "x"}},
        headers=AUTH,
    )
    inbound(sim, text="marker after the send")
    wait_results(sim, lambda r: r.get("message", {}).get("text") == "marker after the send")
    assert not any(r.get("messageId") == "n-1" for p in sink_posts(sim) for r in p["body"]["results"])


# --- webhook authentication ---------------------------------------------------------------------------------------


def test_basic_auth(sim, sandbox):
    create_account(
        sim,
        sandbox,
        webhook={"url": sink_url(sandbox), "auth": {"type": "BASIC", "username": "ib", "password": "s3cret"}},
    )
    inbound(sim, text="hi")
    post = wait_for(lambda: sink_posts(sim), lambda p: p)[0]
    assert post["headers"]["authorization"] == "Basic " + base64.b64encode(b"ib:s3cret").decode()


def test_static_header(sim, sandbox):
    create_account(
        sim,
        sandbox,
        webhook={
            "url": sink_url(sandbox),
            "auth": {"type": "HEADER", "headers": {"X-Portal-Webhook-Token": "tok-1"}},
        },
    )
    inbound(sim, text="hi")
    post = wait_for(lambda: sink_posts(sim), lambda p: p)[0]
    assert post["headers"]["x-portal-webhook-token"] == "tok-1"


def test_hmac_default_header_signs_the_raw_body(sim, sandbox):
    create_account(
        sim,
        sandbox,
        webhook={"url": sink_url(sandbox), "auth": {"type": "HMAC", "secret": "demo-webhook-secret"}},
    )
    inbound(sim, text="hi")
    post = wait_for(lambda: sink_posts(sim), lambda p: p)[0]
    expected = hmac.new(b"demo-webhook-secret", post["raw"].encode(), hashlib.sha256).hexdigest()
    assert post["headers"]["x-hub-signature-256"] == f"sha256={expected}"
    assert json.loads(post["raw"]) == post["body"]


def test_hmac_header_prefix_encoding_and_algorithm_are_configurable(sim, sandbox):
    auth = {
        "type": "HMAC",
        "secret": "k",
        "header_name": "X-Infobip-Signature",
        "prefix": "",
        "encoding": "base64",
        "algorithm": "HMAC_SHA_512",
    }
    create_account(sim, sandbox, webhook={"url": sink_url(sandbox), "auth": auth})
    inbound(sim, text="hi")
    post = wait_for(lambda: sink_posts(sim), lambda p: p)[0]
    expected = base64.b64encode(hmac.new(b"k", post["raw"].encode(), hashlib.sha512).digest()).decode()
    assert post["headers"]["x-infobip-signature"] == expected


def test_bad_auth_config_is_refused(sim, sandbox):
    response = sim.post("/__sim/infobip/accounts", json={"key": "x", "webhook": {"auth": {"type": "OAUTH"}}})
    assert response.status_code == 400
    assert sim.get("/__sim/infobip/accounts").json() == []


# --- retries and the delivery log -------------------------------------------------------------------------------


def test_retry_delay_follows_infobips_formula():
    assert [retry_delay(n, 1.0) for n in range(4)] == [60, 120, 300, 600]
    assert retry_delay(2, 0.001) == pytest.approx(0.3)


def test_non_2xx_is_retried_then_given_up(sim, sandbox):
    create_account(sim, sandbox, webhook={"url": sink_url(sandbox, "down", status=503), "max_attempts": 3})
    inbound(sim, text="hi")
    log = wait_for(
        lambda: sim.get("/__sim/infobip/webhooks", params={"kind": "MO"}).json(),
        lambda d: d and d[0]["state"] == "failed",
    )
    assert [a["status"] for a in log[0]["attempts"]] == [503, 503, 503]
    assert len(sink_posts(sim, "down")) == 3


def test_unreachable_url_is_logged_as_errors(sim, sandbox):
    create_account(sim, sandbox, webhook={"url": "http://127.0.0.1:9/nothing", "max_attempts": 2})
    inbound(sim, text="hi")
    log = wait_for(
        lambda: sim.get("/__sim/infobip/webhooks").json(), lambda d: d and d[0]["state"] == "failed"
    )
    assert len(log[0]["attempts"]) == 2 and all(a["error"] for a in log[0]["attempts"])


def test_delivered_webhooks_are_logged(sim, account):
    inbound(sim, text="hi")
    log = wait_for(
        lambda: sim.get("/__sim/infobip/webhooks", params={"account": "acme"}).json(),
        lambda d: d and d[0]["state"] == "delivered",
    )
    assert log[0]["kind"] == "MO" and log[0]["attempts"][0]["status"] == 200
    assert log[0]["body"]["results"][0]["message"]["text"] == "hi"


# --- Answers "Call API", control API ------------------------------------------------------------------------------


def test_answers_call_api_posts_the_handover(sim, sandbox, account):
    inbound(sim, text="I want a human")
    response = sim.post(
        "/__sim/infobip/answers/call-api",
        json={"account": "acme", "customer": CUSTOMER, "url": sink_url(sandbox, "handover")},
    )
    assert response.status_code == 200 and response.json()["status"] == 200
    conversation_id = sim.get("/__sim/infobip/conversations", params={"customer": CUSTOMER}).json()[0]["id"]
    assert sink_posts(sim, "handover")[0]["body"] == {
        "conversationId": conversation_id,
        "senderNumber": CUSTOMER,
    }
    custom = {
        "conversationId": "{{conversationId}}",
        "endUserNumber": "{{phoneNumber}}",
        "channel": "{{channel}}",
        "sender": "{{sender}}",
        "attributes": {"lang": "{{lang}}"},
    }
    sim.post(
        "/__sim/infobip/answers/call-api",
        json={
            "account": "acme",
            "customer": CUSTOMER,
            "url": sink_url(sandbox, "handover"),
            "body": custom,
            "attributes": {"lang": "en"},
            "headers": {"Authorization": "Bearer t"},
        },
    )
    second = sink_posts(sim, "handover")[1]
    assert second["body"] == {
        "conversationId": conversation_id,
        "endUserNumber": CUSTOMER,
        "channel": "WHATSAPP",
        "sender": WA,
        "attributes": {"lang": "en"},
    }
    assert second["headers"]["authorization"] == "Bearer t"
    history = sim.get(f"{BASE}/ccaas/1/conversations/{conversation_id}/messages", headers=AUTH).json()
    assert history["messages"][0]["content"]["text"] == "I want a human"


def test_control_api_lists_and_configures_accounts(sim, account):
    listed = sim.get("/__sim/infobip/accounts").json()
    assert [a["key"] for a in listed] == ["acme"]
    assert sim.patch("/__sim/infobip/accounts/acme", json={"dlr_outcome": "bogus"}).status_code == 400
    assert sim.patch("/__sim/infobip/accounts/acme", json={"nonsense": 1}).status_code == 400
    assert sim.get("/__sim/infobip/accounts/nope").status_code == 404
    assert sim.post("/__sim/infobip/accounts", json={"key": "acme"}).status_code == 409


def test_demo_fixture_account(sim):
    with open("sandbox/fixtures/demo.json") as handle:
        fixture = json.load(handle)
    assert sim.post("/__sim/fixture", json={"infobip": fixture["infobip"]}).status_code == 201
    account = sim.get("/__sim/infobip/accounts/demo-account-key").json()
    assert {s["address"] for s in account["senders"]} == {"447860099299", "447491163443", "AcmeViber"}
    assert (
        account["auth"]["type"] == "HMAC"
        and account["webhook_url"] == "http://127.0.0.1:8000/webhooks/infobip/demo-account-key/"
    )
    response = sim.get(
        f"{BASE}/whatsapp/2/senders/447860099299/templates",
        headers={"Authorization": "App demo-infobip-api-key"},
    )
    assert response.status_code == 200 and response.json()["templates"]
