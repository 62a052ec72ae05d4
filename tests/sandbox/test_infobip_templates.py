"""WhatsApp template sends: every check of providers.md's list item 3, strict and asynchronous modes."""

import pytest

from .infobip_support import AUTH, CUSTOMER, WA, assert_valid_response, create_account, wait_results

URL = "/sim/infobip/whatsapp/1/message/template"


def message(name="appointment_reminder", language="en_GB", data=None, **extra):
    data = (
        data
        if data is not None
        else {
            "body": {"placeholders": ["John", "12 May", "10:30"]},
            "buttons": [
                {"type": "QUICK_REPLY", "parameter": "yes"},
                {"type": "QUICK_REPLY", "parameter": "no"},
            ],
        }
    )
    return {
        "from": WA,
        "to": CUSTOMER,
        "content": {"templateName": name, "language": language, "templateData": data},
        **extra,
    }


def errors_of(response):
    assert response.status_code == 400, response.text
    exception = response.json()["requestError"]["serviceException"]
    assert exception["messageId"] == "BAD_REQUEST" and exception["text"] == "Bad request"
    return exception["validationErrors"]


@pytest.fixture
def account(sim, sandbox):
    return create_account(sim, sandbox)


@pytest.fixture
def strict(sim, account):
    sim.patch("/__sim/infobip/accounts/acme", json={"template_checks": "STRICT"})


def test_valid_template_send_outside_the_window(sim, account):
    response = sim.post(URL, json={"messages": [message(messageId="t-1")], "bulkId": "bulk-1"}, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {
        "messages": [
            {
                "to": CUSTOMER,
                "messageCount": 1,
                "messageId": "t-1",
                "status": {
                    "groupId": 1,
                    "groupName": "PENDING",
                    "id": 7,
                    "name": "PENDING_ENROUTE",
                    "description": "Message sent to next instance",
                },
            }
        ],
        "bulkId": "bulk-1",
    }
    assert_valid_response("whatsapp", "post", "/whatsapp/1/message/template", response)
    reports = wait_results(sim, lambda r: r.get("messageId") == "t-1" and "status" in r)
    assert reports[0]["status"]["groupName"] == "DELIVERED"


def test_send_renders_the_template_for_the_phone(sim, account):
    data = {
        "header": {"type": "TEXT", "placeholder": "10234"},
        "body": {"placeholders": ["Maria", "10234", "Friday"]},
        "buttons": [
            {"type": "URL", "parameter": "10234"},
            {"type": "QUICK_REPLY", "parameter": "agent-please"},
        ],
    }
    sim.post(URL, json={"messages": [message("order_shipped", "en", data)]}, headers=AUTH)
    sent = sim.get("/__sim/infobip/messages", params={"direction": "OUTBOUND"}).json()[0]["rendered"]
    assert sent["header"] == {"format": "TEXT", "text": "Order 10234 is on its way"}
    assert sent["body"] == "Hi Maria, your order 10234 has shipped and should arrive by Friday."
    assert sent["footer"] == "Acme Store"
    assert sent["buttons"] == [
        {"type": "URL", "text": "Track parcel", "url": "https://track.example.com/10234"},
        {"type": "QUICK_REPLY", "text": "Talk to an agent", "payload": "agent-please"},
    ]


def test_messages_are_required(sim, account):
    assert errors_of(sim.post(URL, json={}, headers=AUTH)) == {"messages": ["must not be null"]}
    assert errors_of(sim.post(URL, json={"messages": []}, headers=AUTH)) == {
        "messages": ["must not be empty"]
    }


def test_template_name_characters(sim, account):
    response = sim.post(URL, json={"messages": [message("Order-Shipped")]}, headers=AUTH)
    assert errors_of(response) == {
        "content.templateName": ["must contain only lowercase alphanumeric characters and underscores"]
    }


def test_placeholders_required_and_not_blank(sim, account):
    response = sim.post(URL, json={"messages": [message(data={"body": {}})]}, headers=AUTH)
    assert errors_of(response) == {"content.templateData.body.placeholders": ["must not be null"]}
    response = sim.post(
        URL, json={"messages": [message(data={"body": {"placeholders": ["John", " ", "x"]}})]}, headers=AUTH
    )
    assert errors_of(response) == {"content.templateData.body.placeholders[1]": ["must not be blank"]}


def test_text_header_whitespace_rule(sim, account):
    data = {"header": {"type": "TEXT", "placeholder": "a\tb"}, "body": {"placeholders": ["a", "b", "c"]}}
    response = sim.post(URL, json={"messages": [message("order_shipped", "en", data)]}, headers=AUTH)
    assert errors_of(response) == {
        "content.templateData.header.placeholder": [
            "cannot have new-line/tab characters or more than 4 consecutive spaces"
        ]
    }


def test_media_header_url_and_filename(sim, account):
    data = {
        "header": {"type": "DOCUMENT", "mediaUrl": "", "filename": ""},
        "body": {"placeholders": ["a", "b"]},
    }
    response = sim.post(URL, json={"messages": [message("invoice_ready", "en", data)]}, headers=AUTH)
    assert errors_of(response) == {
        "content.templateData.header.mediaUrl": ["size must be between 1 and 2048", "must not be blank"],
        "content.templateData.header.filename": ["size must be between 1 and 240", "must not be blank"],
    }
    data["header"] = {"type": "DOCUMENT", "mediaUrl": "www.example.com/doc.pdf", "filename": "f" * 241}
    response = sim.post(URL, json={"messages": [message("invoice_ready", "en", data)]}, headers=AUTH)
    assert errors_of(response) == {"content.templateData.header.filename": ["size must be between 1 and 240"]}
    data["header"]["filename"] = "invoice.pdf"
    response = sim.post(URL, json={"messages": [message("invoice_ready", "en", data)]}, headers=AUTH)
    assert errors_of(response) == {"content.templateData.header.mediaUrl": ["is not a valid url"]}


def test_quick_reply_parameter_length(sim, account):
    data = {
        "body": {"placeholders": ["a", "b", "c"]},
        "buttons": [{"type": "QUICK_REPLY", "parameter": "p" * 129}],
    }
    response = sim.post(URL, json={"messages": [message(data=data)]}, headers=AUTH)
    assert errors_of(response) == {
        "content.templateData.buttons[0].parameter": ["size must be between 1 and 128"]
    }


def test_button_count_limits(sim, account):
    data = {"body": {"placeholders": ["a", "b", "c"]}, "buttons": [{"type": "URL", "parameter": "x"}] * 3}
    response = sim.post(URL, json={"messages": [message(data=data)]}, headers=AUTH)
    assert list(errors_of(response)) == ["content.templateData.buttons"]


@pytest.mark.parametrize(
    "msg,path,fragment",
    [
        (message("no_such_template"), "content.templateName", "does not exist"),
        (message(language="en"), "content.templateName", "does not exist"),
        (
            message("feedback_request", "es", {"body": {"placeholders": ["x"]}}),
            "content.templateName",
            "not approved (status PENDING)",
        ),
        (
            message("win_back_offer", "en", {"body": {"placeholders": ["x"]}}),
            "content.templateName",
            "not approved (status REJECTED)",
        ),
        (
            message(
                data={
                    "body": {"placeholders": ["John"]},
                    "buttons": [{"type": "QUICK_REPLY", "parameter": "y"}] * 2,
                }
            ),
            "content.templateData.body.placeholders",
            "expects 3 placeholders, got 1",
        ),
        (
            message(
                "spring_sale",
                "en",
                {
                    "header": {"type": "DOCUMENT", "mediaUrl": "https://e.com/a.pdf", "filename": "a.pdf"},
                    "body": {"placeholders": ["a", "b"]},
                },
            ),
            "content.templateData.header.type",
            "format is IMAGE, got DOCUMENT",
        ),
        (
            message("spring_sale", "en", {"body": {"placeholders": ["a", "b"]}}),
            "content.templateData.header",
            "IMAGE header",
        ),
        (
            message(
                data={
                    "body": {"placeholders": ["a", "b", "c"]},
                    "buttons": [{"type": "QUICK_REPLY", "parameter": "y"}],
                }
            ),
            "content.templateData.buttons",
            "[QUICK_REPLY, QUICK_REPLY]",
        ),
        (
            message(
                "order_shipped",
                "en",
                {
                    "header": {"type": "TEXT", "placeholder": "1"},
                    "body": {"placeholders": ["a", "b", "c"]},
                    "buttons": [{"type": "QUICK_REPLY", "parameter": "q"}, {"type": "URL", "parameter": "u"}],
                },
            ),
            "content.templateData.buttons",
            "[URL, QUICK_REPLY] in this order",
        ),
    ],
)
def test_registered_template_checks_strict_mode(sim, strict, msg, path, fragment):
    errors = errors_of(sim.post(URL, json={"messages": [msg]}, headers=AUTH))
    assert list(errors) == [path]
    assert fragment in errors[path][0]
    assert sim.get("/__sim/infobip/messages").json() == []


def test_registered_template_checks_async_mode_fail_in_the_dlr(sim, account):
    response = sim.post(
        URL,
        json={
            "messages": [
                message("win_back_offer", "en", {"body": {"placeholders": ["x"]}}, messageId="bad-1")
            ]
        },
        headers=AUTH,
    )
    assert response.status_code == 200
    report = wait_results(sim, lambda r: r.get("messageId") == "bad-1")[0]
    assert report["status"]["groupName"] == "REJECTED"
    assert report["error"]["name"] == "EC_TEMPLATE_DOES_NOT_EXIST" and report["error"]["permanent"] is True
    response = sim.post(
        URL,
        json={"messages": [message(data={"body": {"placeholders": ["x"]}}, messageId="bad-2")]},
        headers=AUTH,
    )
    assert response.status_code == 200
    report = wait_results(sim, lambda r: r.get("messageId") == "bad-2")[0]
    assert report["error"]["name"] == "EC_TEMPLATE_PARAM_COUNT_MISMATCH"


def test_one_bad_message_refuses_the_whole_bulk(sim, account):
    response = sim.post(URL, json={"messages": [message(), message("Bad Name")]}, headers=AUTH)
    assert response.status_code == 400
    assert sim.get("/__sim/infobip/messages").json() == []


def test_control_api_changes_template_status(sim, strict):
    templates = sim.get(f"/sim/infobip/whatsapp/2/senders/{WA}/templates", headers=AUTH).json()["templates"]
    pending = next(t for t in templates if t["name"] == "feedback_request")
    msg = message(
        "feedback_request",
        "es",
        {
            "body": {"placeholders": ["Lucía"]},
            "buttons": [{"type": "QUICK_REPLY", "parameter": p} for p in "abc"],
        },
    )
    assert sim.post(URL, json={"messages": [msg]}, headers=AUTH).status_code == 400
    changed = sim.patch(
        f"/__sim/infobip/accounts/acme/templates/{pending['id']}", json={"status": "APPROVED"}
    )
    assert changed.status_code == 200 and changed.json()["status"] == "APPROVED"
    assert sim.post(URL, json={"messages": [msg]}, headers=AUTH).status_code == 200


def test_control_api_adds_a_template(sim, strict):
    created = sim.post(
        "/__sim/infobip/accounts/acme/templates",
        json={
            "sender": WA,
            "name": "new_one",
            "language": "it",
            "status": "APPROVED",
            "category": "UTILITY",
            "structure": {"body": {"text": "Ciao {{1}}"}, "type": "TEXT"},
        },
    )
    assert created.status_code == 201
    listed = sim.get(f"/sim/infobip/whatsapp/2/senders/{WA}/templates", headers=AUTH).json()["templates"]
    assert any(t["name"] == "new_one" and t["language"] == "it" for t in listed)
    response = sim.post(
        URL,
        json={"messages": [message("new_one", "it", {"body": {"placeholders": ["Marco"]}})]},
        headers=AUTH,
    )
    assert response.status_code == 200
