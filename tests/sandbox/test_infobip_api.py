"""Contract tests of the simulated Infobip API: a valid call and each documented error, exact bodies."""

import pytest

from .infobip_support import (
    AUTH,
    CUSTOMER,
    SMS,
    VIBER,
    WA,
    assert_valid_response,
    create_account,
    open_window,
)

BASE = "/sim/infobip"
LEGACY_401 = {"requestError": {"serviceException": {"messageId": "UNAUTHORIZED", "text": "Unauthorized"}}}
LEGACY_403 = {"requestError": {"serviceException": {"messageId": "FORBIDDEN", "text": "Forbidden"}}}
LEGACY_404 = {"requestError": {"serviceException": {"messageId": "NOT_FOUND", "text": "Not found"}}}
LEGACY_429 = {
    "requestError": {"serviceException": {"messageId": "TOO_MANY_REQUESTS", "text": "Too many requests"}}
}
E401 = {
    "errorCode": "E401",
    "description": "The request lacks valid authentication credentials for the requested resource.",
    "action": "Check the resources and adjust authentication credentials.",
    "violations": [],
    "resources": [
        {"name": "API Authentication", "url": "https://www.infobip.com/docs/essentials/api-authentication"}
    ],
}
PENDING_ENROUTE = {
    "groupId": 1,
    "groupName": "PENDING",
    "id": 7,
    "name": "PENDING_ENROUTE",
    "description": "Message sent to next instance",
}
PENDING_ACCEPTED = {**PENDING_ENROUTE, "id": 26, "name": "PENDING_ACCEPTED"}

TEXT = {"from": WA, "to": CUSTOMER, "content": {"text": "Hello"}}
SMS3 = {"messages": [{"sender": SMS, "destinations": [{"to": CUSTOMER}], "content": {"text": "Hi"}}]}
SMS2 = {"messages": [{"from": SMS, "destinations": [{"to": CUSTOMER}], "text": "Hi"}]}
VIBER2 = {
    "messages": [
        {"sender": VIBER, "destinations": [{"to": CUSTOMER}], "content": {"type": "TEXT", "text": "Hi"}}
    ]
}
MESSAGES_API = {
    "messages": [
        {
            "channel": "SMS",
            "sender": SMS,
            "destinations": [{"to": CUSTOMER}],
            "content": {"body": {"type": "TEXT", "text": "Hi"}},
        }
    ]
}


@pytest.fixture
def account(sim, sandbox):
    return create_account(sim, sandbox, api_keys=["test-api-key", {"key": "sms-only-key", "senders": [SMS]}])


# --- auth, envelopes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("post", "/whatsapp/1/message/text", TEXT),
        ("get", f"/whatsapp/2/senders/{WA}/templates", None),
        ("post", "/sms/2/text/advanced", SMS2),
        ("get", "/numbers/1/numbers", None),
        ("get", "/ccaas/1/conversations/abc/messages", None),
    ],
)
@pytest.mark.parametrize("header", [None, "App wrong-key", "Bearer test-api-key", "App"])
def test_legacy_endpoints_answer_401_in_the_legacy_envelope(sim, account, method, path, body, header):
    headers = {"Authorization": header} if header else {}
    response = sim.request(method.upper(), BASE + path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == LEGACY_401


@pytest.mark.parametrize(
    "path,body",
    [("/sms/3/messages", SMS3), ("/viber/2/messages", VIBER2), ("/messages-api/1/messages", MESSAGES_API)],
)
def test_new_endpoints_answer_E401(sim, account, path, body):
    response = sim.post(BASE + path, json=body, headers={"Authorization": "App nope"})
    assert response.status_code == 401
    assert response.json() == E401


def test_key_scoped_to_other_senders_gets_403(sim, account):
    scoped = {"Authorization": "App sms-only-key"}
    response = sim.post(BASE + "/whatsapp/1/message/text", json=TEXT, headers=scoped)
    assert response.status_code == 403
    assert response.json() == LEGACY_403
    response = sim.get(f"{BASE}/whatsapp/2/senders/{WA}/templates", headers=scoped)
    assert response.status_code == 403 and response.json() == LEGACY_403
    response = sim.post(BASE + "/viber/2/messages", json=VIBER2, headers=scoped)
    assert response.status_code == 403
    assert response.json()["errorCode"] == "E403"
    assert sim.post(BASE + "/sms/3/messages", json=SMS3, headers=scoped).status_code == 200


def test_unknown_whatsapp_sender_is_forbidden(sim, account):
    response = sim.post(
        BASE + "/whatsapp/1/message/text", json={**TEXT, "from": "441134960000"}, headers=AUTH
    )
    assert response.status_code == 403 and response.json() == LEGACY_403


def test_rate_limit_switch_answers_429_in_each_envelope(sim, account):
    assert sim.patch("/__sim/infobip/accounts/acme", json={"rate_limited": True}).status_code == 200
    response = sim.post(BASE + "/whatsapp/1/message/text", json=TEXT, headers=AUTH)
    assert response.status_code == 429 and response.json() == LEGACY_429
    response = sim.post(BASE + "/sms/3/messages", json=SMS3, headers=AUTH)
    assert response.status_code == 429
    assert (
        response.json()["errorCode"] == "E429" and response.json()["description"] == "Too many requests sent."
    )
    sim.patch("/__sim/infobip/accounts/acme", json={"rate_limited": False})
    assert sim.post(BASE + "/whatsapp/1/message/text", json=TEXT, headers=AUTH).status_code == 200


def test_unknown_path_is_404(sim, account):
    response = sim.post(BASE + "/whatsapp/9/nothing", json={}, headers=AUTH)
    assert response.status_code == 404 and response.json() == LEGACY_404


def test_malformed_json_is_a_plain_bad_request(sim, account):
    response = sim.post(
        BASE + "/whatsapp/1/message/text",
        content=b"{nope",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "requestError": {"serviceException": {"messageId": "BAD_REQUEST", "text": "Bad request"}}
    }
    response = sim.post(BASE + "/sms/3/messages", content=b"[", headers=AUTH)
    assert response.status_code == 400 and response.json()["errorCode"] == "E400"


# --- WhatsApp free-form sends -----------------------------------------------------------------------------------


def test_text_send_echoes_the_message_id(sim, account):
    open_window(sim)
    body = {**TEXT, "messageId": "a28dd97c-1ffb-4fcf-99f1-0b557ed381da"}
    response = sim.post(BASE + "/whatsapp/1/message/text", json=body, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {
        "to": CUSTOMER,
        "messageCount": 1,
        "messageId": "a28dd97c-1ffb-4fcf-99f1-0b557ed381da",
        "status": PENDING_ENROUTE,
    }
    assert_valid_response("whatsapp", "post", "/whatsapp/1/message/text", response)
    sent = sim.get("/__sim/infobip/messages", params={"account": "acme", "direction": "OUTBOUND"}).json()
    assert [m["content"]["text"] for m in sent] == ["Hello"]


def test_text_send_generates_a_message_id(sim, account):
    first = sim.post(BASE + "/whatsapp/1/message/text", json=TEXT, headers=AUTH).json()["messageId"]
    second = sim.post(BASE + "/whatsapp/1/message/text", json=TEXT, headers=AUTH).json()["messageId"]
    assert first and second and first != second


@pytest.mark.parametrize(
    "content,errors",
    [
        ({"text": ""}, {"content.text": ["size must be between 1 and 4096", "must not be blank"]}),
        ({"text": "x" * 4097}, {"content.text": ["size must be between 1 and 4096"]}),
        ({}, {"content.text": ["must not be null"]}),
        (
            {"text": "no link", "previewUrl": True},
            {
                "content.text": [
                    "must contain a URL starting with https:// or http:// when previewUrl is true"
                ]
            },
        ),
    ],
)
def test_text_validation_errors_use_the_validation_map(sim, account, content, errors):
    response = sim.post(BASE + "/whatsapp/1/message/text", json={**TEXT, "content": content}, headers=AUTH)
    assert response.status_code == 400
    assert response.json() == {
        "requestError": {
            "serviceException": {
                "messageId": "BAD_REQUEST",
                "text": "Bad request",
                "validationErrors": errors,
            }
        }
    }


def test_missing_from_and_too_long_to(sim, account):
    response = sim.post(
        BASE + "/whatsapp/1/message/text", json={"to": "1" * 151, "content": {"text": "x"}}, headers=AUTH
    )
    assert response.json()["requestError"]["serviceException"]["validationErrors"] == {
        "from": ["must not be null"],
        "to": ["size must be between 1 and 150"],
    }


@pytest.mark.parametrize(
    "kind,content",
    [
        ("image", {"mediaUrl": "https://example.com/a.jpg", "caption": "A"}),
        ("document", {"mediaUrl": "https://example.com/a.pdf", "filename": "a.pdf"}),
        ("video", {"mediaUrl": "https://example.com/a.mp4"}),
        ("audio", {"mediaUrl": "https://example.com/a.mp3"}),
        ("sticker", {"mediaUrl": "https://example.com/a.webp"}),
        ("location", {"latitude": 45.8, "longitude": 15.9, "name": "Zagreb"}),
        ("contact", {"contacts": [{"name": {"firstName": "Ana", "formattedName": "Ana B"}}]}),
        (
            "interactive/buttons",
            {"body": {"text": "Pick"}, "action": {"buttons": [{"type": "REPLY", "id": "1", "title": "Yes"}]}},
        ),
        (
            "interactive/list",
            {
                "body": {"text": "Choose"},
                "action": {
                    "title": "Options",
                    "sections": [{"title": "S", "rows": [{"id": "r1", "title": "Row 1"}]}],
                },
            },
        ),
    ],
)
def test_free_form_sends_accept_valid_content(sim, account, kind, content):
    open_window(sim)
    response = sim.post(f"{BASE}/whatsapp/1/message/{kind}", json={**TEXT, "content": content}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == PENDING_ENROUTE
    assert_valid_response("whatsapp", "post", f"/whatsapp/1/message/{kind}", response)


def test_image_url_rules(sim, account):
    response = sim.post(
        BASE + "/whatsapp/1/message/image",
        json={**TEXT, "content": {"mediaUrl": "ftp://x/y.jpg"}},
        headers=AUTH,
    )
    assert response.status_code == 400
    assert response.json()["requestError"]["serviceException"]["validationErrors"] == {
        "content.mediaUrl": ["is not a valid url"]
    }
    long_url = "https://example.com/" + "a" * 2048
    response = sim.post(
        BASE + "/whatsapp/1/message/image", json={**TEXT, "content": {"mediaUrl": long_url}}, headers=AUTH
    )
    assert response.json()["requestError"]["serviceException"]["validationErrors"] == {
        "content.mediaUrl": ["size must be between 1 and 2048"]
    }
    response = sim.post(
        BASE + "/whatsapp/1/message/image",
        json={**TEXT, "content": {"mediaUrl": "https://e.com/a.jpg", "caption": "c" * 3001}},
        headers=AUTH,
    )
    assert response.json()["requestError"]["serviceException"]["validationErrors"] == {
        "content.caption": ["size must be between 0 and 3000"]
    }


def test_outside_window_sync_mode_refuses_free_form(sim, account):
    sim.patch("/__sim/infobip/accounts/acme", json={"window_mode": "SYNC"})
    response = sim.post(BASE + "/whatsapp/1/message/text", json=TEXT, headers=AUTH)
    assert response.status_code == 400
    exception = response.json()["requestError"]["serviceException"]
    assert exception["messageId"] == "BAD_REQUEST" and "24-hour" in exception["text"]
    open_window(sim)
    assert sim.post(BASE + "/whatsapp/1/message/text", json=TEXT, headers=AUTH).status_code == 200


# --- templates list, media, mark as read ---------------------------------------------------------------------------


def test_templates_list_v2(sim, account):
    response = sim.get(f"{BASE}/whatsapp/2/senders/{WA}/templates", headers=AUTH)
    assert response.status_code == 200
    templates = response.json()["templates"]
    assert {t["status"] for t in templates} >= {"APPROVED", "PENDING", "REJECTED"}
    assert {t["structure"]["header"]["format"] for t in templates if t["structure"].get("header")} >= {
        "TEXT",
        "IMAGE",
        "VIDEO",
        "DOCUMENT",
    }
    assert len({t["language"] for t in templates}) >= 3
    buttons = [b for t in templates for b in t["structure"].get("buttons", [])]
    assert any(b["type"] == "QUICK_REPLY" for b in buttons)
    assert any(b["type"] == "URL" and "{{1}}" in b["url"] for b in buttons)
    assert any(b["type"] == "URL" and "{{1}}" not in b["url"] for b in buttons)
    assert_valid_response("whatsapp", "get", f"/whatsapp/2/senders/{WA}/templates", response)


def test_templates_list_unknown_sender_is_404(sim, account):
    response = sim.get(f"{BASE}/whatsapp/2/senders/441134960000/templates", headers=AUTH)
    assert response.status_code == 404 and response.json() == LEGACY_404
    response = sim.get(f"{BASE}/whatsapp/2/senders/{SMS}/templates", headers=AUTH)
    assert response.status_code == 404


def test_account_templates_paged_with_filters(sim, account):
    response = sim.get(
        f"{BASE}/whatsapp/1/templates", params={"status": "APPROVED", "size": 2, "page": 1}, headers=AUTH
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == 2 and all(t["status"] == "APPROVED" for t in body["results"])
    assert body["paging"]["page"] == 1 and body["paging"]["size"] == 2 and body["paging"]["totalResults"] >= 5
    assert_valid_response("whatsapp", "get", "/whatsapp/1/templates", response)
    bad = sim.get(f"{BASE}/whatsapp/1/templates", params={"status": "NOPE"}, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["errorCode"] == "E400"
    assert bad.json()["violations"][0]["property"] == "status"


def test_inbound_media_is_served_with_auth(sim, account):
    fired = sim.post(
        "/__sim/infobip/inbound",
        json={
            "channel": "WHATSAPP",
            "from": CUSTOMER,
            "to": WA,
            "media": {
                "type": "DOCUMENT",
                "content_b64": "JVBERi0xLjQK",
                "content_type": "application/pdf",
                "filename": "x.pdf",
            },
        },
    ).json()["messages"][0]
    url = fired["content"]["url"]
    assert url.startswith(f"{sim.base_url}{BASE}/whatsapp/1/senders/{WA}/media/")
    response = sim.get(url, headers=AUTH)
    assert response.status_code == 200
    assert response.content == b"%PDF-1.4\n" and response.headers["content-type"] == "application/pdf"
    head = sim.head(url, headers=AUTH)
    assert head.status_code == 200 and head.headers["content-length"] == "9"
    assert sim.get(url).status_code == 401
    missing = sim.get(f"{BASE}/whatsapp/1/senders/{WA}/media/does-not-exist", headers=AUTH)
    assert missing.status_code == 404 and missing.json() == LEGACY_404


def test_mark_as_read(sim, account):
    fired = sim.post(
        "/__sim/infobip/inbound", json={"channel": "WHATSAPP", "from": CUSTOMER, "to": WA, "text": "hi"}
    ).json()
    message_id = fired["messages"][0]["messageId"]
    response = sim.post(f"{BASE}/whatsapp/1/senders/{WA}/message/{message_id}/read", headers=AUTH)
    assert response.status_code == 204
    assert sim.post(f"{BASE}/whatsapp/1/senders/{WA}/message/nope/read", headers=AUTH).status_code == 404


# --- SMS, Viber, Messages API ------------------------------------------------------------------------------------


def test_sms_v3(sim, account):
    response = sim.post(BASE + "/sms/3/messages", json=SMS3, headers=AUTH)
    assert response.status_code == 200
    message = response.json()["messages"][0]
    assert message["status"] == PENDING_ACCEPTED and message["destination"] == CUSTOMER
    assert_valid_response("sms", "post", "/sms/3/messages", response)


def test_sms_v3_bulk_id_and_message_id_echoed(sim, account):
    body = {
        "messages": [
            {"sender": SMS, "destinations": [{"to": CUSTOMER, "messageId": "m-1"}], "content": {"text": "x"}}
        ],
        "options": {"schedule": {"bulkId": "bulk-7"}},
    }
    answer = sim.post(BASE + "/sms/3/messages", json=body, headers=AUTH).json()
    assert answer["bulkId"] == "bulk-7" and answer["messages"][0]["messageId"] == "m-1"


def test_sms_v3_errors_use_e_codes(sim, account):
    body = {"messages": [{"sender": SMS, "destinations": [{"to": CUSTOMER}], "content": {}}]}
    response = sim.post(BASE + "/sms/3/messages", json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json() == {
        "errorCode": "E400",
        "description": "Request cannot be processed.",
        "action": "Check the syntax, violations and adjust the request.",
        "violations": [{"property": "messages[0].content.text", "violation": "Must not be null."}],
        "resources": [],
    }


def test_sms_v2(sim, account):
    body = {
        "bulkId": "b-1",
        "messages": [
            {
                "from": SMS,
                "destinations": [{"to": CUSTOMER, "messageId": "s-1"}, {"to": "447700900124"}],
                "text": "Hi",
            }
        ],
    }
    response = sim.post(BASE + "/sms/2/text/advanced", json=body, headers=AUTH)
    assert response.status_code == 200
    answer = response.json()
    assert answer["bulkId"] == "b-1"
    assert [(m["to"], m["status"]["name"]) for m in answer["messages"]] == [
        (CUSTOMER, "PENDING_ACCEPTED"),
        ("447700900124", "PENDING_ACCEPTED"),
    ]
    assert answer["messages"][0]["messageId"] == "s-1"
    assert_valid_response("sms", "post", "/sms/2/text/advanced", response)


def test_sms_v2_errors_use_the_legacy_envelope(sim, account):
    response = sim.post(
        BASE + "/sms/2/text/advanced", json={"messages": [{"from": SMS, "text": "x"}]}, headers=AUTH
    )
    assert response.status_code == 400
    assert response.json() == {
        "requestError": {
            "serviceException": {
                "messageId": "BAD_REQUEST",
                "text": "Bad request",
                "validationErrors": {"messages[0].destinations": ["must not be null"]},
            }
        }
    }


def test_viber_v2(sim, account):
    response = sim.post(BASE + "/viber/2/messages", json=VIBER2, headers=AUTH)
    assert response.status_code == 200
    answer = response.json()
    assert answer["bulkId"] and answer["messages"][0]["status"] == PENDING_ACCEPTED
    assert answer["messages"][0]["destination"] == CUSTOMER
    assert_valid_response("viber", "post", "/viber/2/messages", response)
    bad = sim.post(
        BASE + "/viber/2/messages",
        json={"messages": [{"sender": VIBER, "destinations": [{"to": CUSTOMER}]}]},
        headers=AUTH,
    )
    assert bad.status_code == 400
    assert bad.json()["violations"] == [{"property": "messages[0].content", "violation": "Must not be null."}]


def test_messages_api(sim, account):
    response = sim.post(BASE + "/messages-api/1/messages", json=MESSAGES_API, headers=AUTH)
    assert response.status_code == 200
    message = response.json()["messages"][0]
    assert message["status"]["name"] == "MESSAGE_ACCEPTED" and message["destination"] == CUSTOMER
    assert_valid_response("messages-api", "post", "/messages-api/1/messages", response)
    bad = sim.post(BASE + "/messages-api/1/messages", json={"messages": [{"channel": "SMS"}]}, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["errorCode"] == "E400"
    assert {v["property"] for v in bad.json()["violations"]} == {
        "messages[0].content",
        "messages[0].destinations",
    }


# --- numbers, conversations --------------------------------------------------------------------------------------


def test_numbers_list_with_capabilities(sim, account):
    response = sim.get(BASE + "/numbers/1/numbers", headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert body["numberCount"] == 2
    by_number = {n["number"]: n for n in body["numbers"]}
    assert "WHATSAPP" in by_number[WA]["capabilities"] and "SMS" in by_number[SMS]["capabilities"]
    assert by_number[WA]["country"] == "GB"
    assert_valid_response("numbers", "get", "/numbers/1/numbers", response)
    filtered = sim.get(BASE + "/numbers/1/numbers", params={"number": SMS}, headers=AUTH).json()
    assert [n["number"] for n in filtered["numbers"]] == [SMS]
    paged = sim.get(BASE + "/numbers/1/numbers", params={"limit": 1, "page": 1}, headers=AUTH).json()
    assert len(paged["numbers"]) == 1 and paged["numberCount"] == 2


def _seed_conversation(sim):
    created = sim.post(
        "/__sim/infobip/conversations",
        json={
            "account": "acme",
            "channel": "WHATSAPP",
            "sender": WA,
            "customer": CUSTOMER,
            "messages": [
                {"direction": "INBOUND", "text": "Hi, my order is late"},
                {"direction": "OUTBOUND", "authorType": "BOT", "text": "Sorry! What is your order number?"},
                {"direction": "INBOUND", "text": "10234"},
                {"direction": "OUTBOUND", "authorType": "BOT", "text": "Connecting you to an agent."},
            ],
        },
    )
    assert created.status_code == 201
    return created.json()["id"]


def test_conversation_history_paged_and_filtered(sim, account):
    conversation_id = _seed_conversation(sim)
    path = f"{BASE}/ccaas/1/conversations/{conversation_id}/messages"
    response = sim.get(path, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert [m["content"]["text"] for m in body["messages"]][:2] == [
        "Hi, my order is late",
        "Sorry! What is your order number?",
    ]
    assert body["pagination"] == {"totalItems": 4, "page": 0, "limit": 10, "orderBy": "id:ASC"}
    assert body["messages"][1]["authorType"] == "BOT" and body["messages"][0]["authorType"] == "CUSTOMER"
    assert_valid_response("conversations", "get", path.removeprefix(BASE), response)
    inbound = sim.get(path, params={"direction": "INBOUND", "limit": 1, "page": 1}, headers=AUTH).json()
    assert [m["content"]["text"] for m in inbound["messages"]] == ["10234"]
    assert inbound["pagination"]["totalItems"] == 2
    desc = sim.get(path, params={"orderBy": "id:desc"}, headers=AUTH).json()
    assert desc["messages"][0]["content"]["text"] == "Connecting you to an agent."
    later = sim.get(path, params={"createdAfter": "2099-01-01T00:00:00.000+0000"}, headers=AUTH).json()
    assert later["messages"] == [] and later["pagination"]["totalItems"] == 0


def test_conversation_unknown_id_and_bad_page_size(sim, account):
    response = sim.get(
        f"{BASE}/ccaas/1/conversations/e43bc422-09c9-4591-8b9d-82debcf04e0d/messages", headers=AUTH
    )
    assert response.status_code == 400
    assert response.json() == {
        "requestError": {
            "serviceException": {
                "messageId": "NOT_FOUND",
                "text": "Invalid id 'e43bc422-09c9-4591-8b9d-82debcf04e0d' given! No such entity exists.",
            }
        }
    }
    conversation_id = _seed_conversation(sim)
    response = sim.get(
        f"{BASE}/ccaas/1/conversations/{conversation_id}/messages", params={"limit": -1}, headers=AUTH
    )
    assert response.status_code == 400
    assert response.json() == {
        "requestError": {
            "serviceException": {
                "messageId": "BAD_REQUEST",
                "text": "Page size has to be bigger or equal to zero!",
            }
        }
    }
    response = sim.get(
        f"{BASE}/ccaas/1/conversations/{conversation_id}/messages", params={"limit": 1000}, headers=AUTH
    )
    assert response.status_code == 400
    assert response.json()["requestError"]["serviceException"]["validationErrors"] == {
        "limit": ["must be less than or equal to 999"]
    }


def test_live_messages_are_recorded_in_the_customer_conversation(sim, account):
    sim.post(
        "/__sim/infobip/inbound",
        json={"channel": "WHATSAPP", "from": CUSTOMER, "to": WA, "text": "Need help"},
    )
    sim.post(BASE + "/whatsapp/1/message/text", json={**TEXT, "content": {"text": "On it"}}, headers=AUTH)
    conversations = sim.get(
        "/__sim/infobip/conversations", params={"account": "acme", "customer": CUSTOMER}
    ).json()
    assert len(conversations) == 1
    history = sim.get(f"{BASE}/ccaas/1/conversations/{conversations[0]['id']}/messages", headers=AUTH).json()
    assert [(m["direction"], m["content"]["text"]) for m in history["messages"]] == [
        ("INBOUND", "Need help"),
        ("OUTBOUND", "On it"),
    ]


def test_other_accounts_conversation_is_not_found(sim, sandbox, account):
    conversation_id = _seed_conversation(sim)
    create_account(
        sim,
        sandbox,
        key="other",
        api_keys=["other-key"],
        senders=[{"address": "447700900999", "channels": ["WHATSAPP"]}],
    )
    response = sim.get(
        f"{BASE}/ccaas/1/conversations/{conversation_id}/messages", headers={"Authorization": "App other-key"}
    )
    assert response.status_code == 400
    assert response.json()["requestError"]["serviceException"]["messageId"] == "NOT_FOUND"
