"""The Infobip adapter against the sandbox's Infobip simulator: real HTTP, what the simulator recorded.

Set ``INFOBIP_FIDELITY_LOG=/path/run.jsonl`` (and ``FIDELITY_PYTHON``, default ``/tmp/fid/bin/python``) to
route every call through the fidelity checker's recording proxy, then run its ``validate.py`` on the log.
"""

from __future__ import annotations

import base64
import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from relay.errors import ExternalError
from relay.events import ReportStatus, StatusReport
from relay.providers.base import Button, OutboundContent, TemplateValues
from relay.providers.infobip.client import raise_for_error
from relay.providers.registry import get_provider
from tests.factories import make_account, make_sender, make_tenant

KEY = "ib-relay-test-key"
WA, SMS, VIBER = "+447860099299", "+447491163443", "AcmeViber"
CUSTOMER = "+447911123456"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
FIDELITY = Path(__file__).resolve().parents[3] / "shared" / "tools" / "fidelity" / "record_proxy.py"

pytestmark = pytest.mark.django_db
infobip = get_provider("infobip")


@pytest.fixture(scope="module")
def api_base(sandbox_server):
    """The simulator's URL, or a recording proxy in front of it when a fidelity log is asked for."""
    target = f"{sandbox_server.base_url}/sim/infobip"
    log = os.environ.get("INFOBIP_FIDELITY_LOG")
    if not log:
        yield target
        return
    python = os.environ.get("FIDELITY_PYTHON", "/tmp/fid/bin/python")
    proxy = subprocess.Popen(  # noqa: S603 - our own tool, fixed arguments
        [
            python,
            str(FIDELITY),
            "--listen",
            "127.0.0.1:0",
            "--target",
            target,
            "--kind",
            "infobip",
            "--log",
            log,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proxy.stdout.readline()
    assert line.startswith("LISTENING "), line
    yield "http://" + line.split()[1]
    proxy.terminate()
    proxy.wait(timeout=10)


@pytest.fixture
def ib(sandbox, sim, api_base):
    """An Infobip account in the simulator and the same account, with its senders, in Django."""
    sink = f"{sandbox.base_url}/__sim/infobip/sink/relay"
    response = sim.post(
        "/__sim/infobip/accounts",
        json={
            "key": "acme",
            "name": "Acme",
            "api_keys": [KEY],
            "senders": [
                {"address": WA, "channels": ["WHATSAPP"]},
                {"address": SMS, "channels": ["SMS"]},
                {"address": VIBER, "channels": ["VIBER"]},
            ],
            "webhook": {"url": sink},
            "settings": {
                "dlr_delay": 0.01,
                "seen_delay": 0.01,
                "batch_window": 0.01,
                "template_checks": "STRICT",
            },
        },
    )
    assert response.status_code == 201, response.text
    window = {"account": "acme", "sender": WA, "customer": CUSTOMER, "hours_ago": 1}
    assert sim.post("/__sim/infobip/window", json=window).json()["open"] is True
    account = make_account(make_tenant(), base_url=api_base, api_key=KEY)
    return SimpleNamespace(
        account=account,
        whatsapp=make_sender(account, WA, "whatsapp"),
        sms=make_sender(account, SMS, "sms"),
        viber=make_sender(account, VIBER, "viber"),
        sink=sink,
        sim=sim,
    )


def sent(ib, message_id: str) -> dict:
    """What the simulator recorded for one of our sends."""
    recorded = [
        m
        for m in ib.sim.get("/__sim/infobip/messages", params={"direction": "OUTBOUND"}).json()
        if m["messageId"] == message_id
    ]
    assert len(recorded) == 1, recorded
    return recorded[0]


def send(ib, sender, content: OutboundContent, message_id: str, notify_url: str = ""):
    return infobip.send(ib.account, sender, CUSTOMER, content, message_id=message_id, notify_url=notify_url)


def wait_for(fetch, predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {value!r}")
        time.sleep(0.02)


# --- WhatsApp ------------------------------------------------------------------------------------------------


def test_whatsapp_text_passes_our_id_and_notify_url(ib):
    result = send(ib, ib.whatsapp, OutboundContent(kind="text", text="Hello from Acme"), "sb-1", ib.sink)
    assert (result.provider_message_id, result.status) == ("sb-1", "PENDING_ENROUTE")
    message = sent(ib, "sb-1")
    assert (message["sender"], message["customer"], message["kind"]) == (
        "447860099299",
        "447911123456",
        "TEXT",
    )
    assert message["content"] == {"text": "Hello from Acme", "previewUrl": False}
    assert message["notifyUrl"] == ib.sink


def test_whatsapp_text_with_a_link_asks_for_a_preview(ib):
    send(ib, ib.whatsapp, OutboundContent(kind="text", text="See https://acme.example.com/faq"), "sb-link")
    assert sent(ib, "sb-link")["content"]["previewUrl"] is True


@pytest.mark.parametrize(
    "mime,filename,kind,content",
    [
        ("image/png", "", "IMAGE", {"mediaUrl": "https://cdn.example.com/a.png", "caption": "Look"}),
        ("video/mp4", "", "VIDEO", {"mediaUrl": "https://cdn.example.com/a.png", "caption": "Look"}),
        (
            "application/pdf",
            "offer.pdf",
            "DOCUMENT",
            {"mediaUrl": "https://cdn.example.com/a.png", "caption": "Look", "filename": "offer.pdf"},
        ),
        (
            "image/gif",
            "anim.gif",
            "DOCUMENT",
            {"mediaUrl": "https://cdn.example.com/a.png", "caption": "Look", "filename": "anim.gif"},
        ),
    ],
)
def test_whatsapp_media_by_mime_type(ib, mime, filename, kind, content):
    media = OutboundContent(
        kind="media",
        text="Look",
        media_url="https://cdn.example.com/a.png",
        media_mime_type=mime,
        media_filename=filename,
    )
    send(ib, ib.whatsapp, media, f"sb-{kind}-{mime}")
    message = sent(ib, f"sb-{kind}-{mime}")
    assert (message["kind"], message["content"]) == (kind, content)


def test_whatsapp_audio_without_caption(ib):
    audio = OutboundContent(
        kind="media", media_url="https://cdn.example.com/a.ogg", media_mime_type="audio/ogg"
    )
    send(ib, ib.whatsapp, audio, "sb-audio")
    assert sent(ib, "sb-audio")["content"] == {"mediaUrl": "https://cdn.example.com/a.ogg"}
    assert sent(ib, "sb-audio")["kind"] == "AUDIO"


def test_whatsapp_up_to_three_choices_are_reply_buttons(ib):
    choices = OutboundContent(
        kind="choices", text="Happy with the answer?", buttons=[Button("Yes", "yes"), Button("No", "no")]
    )
    send(ib, ib.whatsapp, choices, "sb-buttons")
    message = sent(ib, "sb-buttons")
    assert message["kind"] == "INTERACTIVE_BUTTONS"
    assert message["content"] == {
        "body": {"text": "Happy with the answer?"},
        "action": {
            "buttons": [
                {"type": "REPLY", "id": "yes", "title": "Yes"},
                {"type": "REPLY", "id": "no", "title": "No"},
            ]
        },
    }


def test_whatsapp_more_choices_are_a_list(ib):
    buttons = [Button(f"Option {n}", f"opt-{n}") for n in range(1, 6)]
    send(ib, ib.whatsapp, OutboundContent(kind="choices", text="Pick one", buttons=buttons), "sb-list")
    message = sent(ib, "sb-list")
    assert message["kind"] == "INTERACTIVE_LIST"
    rows = message["content"]["action"]["sections"][0]["rows"]
    assert rows == [{"id": f"opt-{n}", "title": f"Option {n}"} for n in range(1, 6)]


@pytest.mark.parametrize(
    "buttons,kind,check",
    [
        (
            [Button("A much longer answer than twenty", "long"), Button("Short", "short")],
            "INTERACTIVE_LIST",
            lambda c: (
                c["action"]["sections"][0]["rows"][0]
                == {
                    "id": "long",
                    "title": "A much longer answer th…",
                    "description": "A much longer answer than twenty",
                }
            ),
        ),
        (
            [Button(f"Choice {n}") for n in range(1, 12)],
            "TEXT",
            lambda c: (
                c["text"].startswith("Pick one\n1. Choice 1\n2. Choice 2")
                and c["text"].endswith("11. Choice 11")
            ),
        ),
        (
            [Button("Track", url="https://track.example.com/1")],
            "TEXT",
            lambda c: c["text"] == "Pick one\n1. Track: https://track.example.com/1",
        ),
    ],
)
def test_whatsapp_choices_that_do_not_fit_buttons(ib, buttons, kind, check):
    send(
        ib,
        ib.whatsapp,
        OutboundContent(kind="choices", text="Pick one", buttons=buttons),
        f"sb-{kind}-{len(buttons)}",
    )
    message = sent(ib, f"sb-{kind}-{len(buttons)}")
    assert message["kind"] == kind and check(message["content"]), message["content"]


def test_whatsapp_choices_with_a_question_over_the_buttons_limit_go_as_numbered_text(ib):
    """An interactive body holds 1,024 characters (InteractiveBodyContent.text), a text message 4,096: a longer
    question goes as numbered text, as the 8x8 adapter sends it, instead of failing the agent's message."""
    question = "Please read our terms before choosing. " * 30  # 1,170 characters
    buttons = [Button("Yes", "yes"), Button("No", "no")]
    send(ib, ib.whatsapp, OutboundContent(kind="choices", text=question, buttons=buttons), "sb-long-question")
    message = sent(ib, "sb-long-question")
    assert message["kind"] == "TEXT"
    assert message["content"]["text"] == f"{question.strip()}\n1. Yes\n2. No"


def test_whatsapp_audio_with_a_caption_goes_as_a_document_to_keep_the_text(ib):
    audio = OutboundContent(
        kind="media",
        text="Listen",
        media_url="https://cdn.example.com/a.ogg",
        media_mime_type="audio/ogg",
        media_filename="a.ogg",
    )
    send(ib, ib.whatsapp, audio, "sb-audio-caption")
    message = sent(ib, "sb-audio-caption")
    assert (message["kind"], message["content"]["caption"]) == ("DOCUMENT", "Listen")


def test_whatsapp_template_with_text_header_and_buttons_in_registered_order(ib):
    values = TemplateValues(
        name="order_shipped",
        language="en",
        body_placeholders=["Maria", "10234", "Friday"],
        header_text_placeholder="10234",
        url_button_parameters=["10234"],
        quick_reply_payloads=["agent"],
    )
    result = send(ib, ib.whatsapp, OutboundContent(kind="template", template=values), "sb-template", ib.sink)
    assert result.provider_message_id == "sb-template"
    message = sent(ib, "sb-template")
    assert message["content"] == {
        "templateName": "order_shipped",
        "language": "en",
        "templateData": {
            "body": {"placeholders": ["Maria", "10234", "Friday"]},
            "header": {"type": "TEXT", "placeholder": "10234"},
            "buttons": [{"type": "URL", "parameter": "10234"}, {"type": "QUICK_REPLY", "parameter": "agent"}],
        },
    }
    assert (
        message["rendered"]["body"] == "Hi Maria, your order 10234 has shipped and should arrive by Friday."
    )


@pytest.mark.parametrize(
    "name,language,header,placeholders",
    [
        (
            "invoice_ready",
            "en",
            {"type": "DOCUMENT", "mediaUrl": "https://cdn.example.com/inv-7.pdf", "filename": "inv-7.pdf"},
            ["INV-7", "EUR 10"],
        ),
        (
            "spring_sale",
            "en",
            {"type": "IMAGE", "mediaUrl": "https://cdn.example.com/sale.jpg"},
            ["Ana", "20%"],
        ),
        ("product_demo", "de", {"type": "VIDEO", "mediaUrl": "https://cdn.example.com/demo.mp4"}, ["Jonas"]),
    ],
)
def test_whatsapp_template_with_media_header(ib, name, language, header, placeholders):
    values = TemplateValues(
        name=name,
        language=language,
        body_placeholders=placeholders,
        header_media_url=header["mediaUrl"],
        header_media_type=header["type"],
        quick_reply_payloads=["question"] if name == "invoice_ready" else [],
        url_button_parameters=["neu"] if name == "product_demo" else [],
    )
    send(ib, ib.whatsapp, OutboundContent(kind="template", template=values), f"sb-{name}")
    assert sent(ib, f"sb-{name}")["content"]["templateData"]["header"] == header


def test_delivery_and_seen_reports_come_back_under_our_id(ib):
    send(ib, ib.whatsapp, OutboundContent(kind="text", text="Tracked"), "sb-tracked", ib.sink)

    def reports():
        posts = ib.sim.get("/__sim/infobip/sink/relay").json()
        return [
            e for post in posts for e in infobip.parse_webhook(post["body"]) if isinstance(e, StatusReport)
        ]

    events = wait_for(
        reports, lambda found: {e.status for e in found} >= {ReportStatus.DELIVERED, ReportStatus.READ}
    )
    assert {e.provider_message_id for e in events} == {"sb-tracked"}


# --- SMS and Viber ---------------------------------------------------------------------------------------------


def test_sms_uses_v3_with_our_id_and_delivery_webhook(ib):
    result = send(ib, ib.sms, OutboundContent(kind="text", text="Your code is 1234"), "sb-sms", ib.sink)
    assert (result.provider_message_id, result.status) == ("sb-sms", "PENDING_ACCEPTED")
    message = sent(ib, "sb-sms")
    assert (message["api"], message["sender"], message["customer"]) == (
        "sms3",
        "447491163443",
        "447911123456",
    )
    assert (message["content"], message["notifyUrl"]) == ({"text": "Your code is 1234"}, ib.sink)


def test_sms_choices_are_numbered_text(ib):
    choices = OutboundContent(kind="choices", text="Rate us", buttons=[Button("Good"), Button("Bad")])
    send(ib, ib.sms, choices, "sb-sms-choices")
    assert sent(ib, "sb-sms-choices")["content"] == {"text": "Rate us\n1. Good\n2. Bad"}


def test_viber_text_and_image(ib):
    send(ib, ib.viber, OutboundContent(kind="text", text="Hi on Viber"), "sb-viber", ib.sink)
    image = OutboundContent(
        kind="media",
        text="Our shop",
        media_url="https://cdn.example.com/shop.jpg",
        media_mime_type="image/jpeg",
    )
    send(ib, ib.viber, image, "sb-viber-image")
    text, picture = sent(ib, "sb-viber"), sent(ib, "sb-viber-image")
    assert (text["api"], text["sender"], text["content"]) == (
        "viber2",
        "AcmeViber",
        {"type": "TEXT", "text": "Hi on Viber"},
    )
    assert text["notifyUrl"] == ib.sink
    assert picture["content"] == {
        "type": "IMAGE",
        "mediaUrl": "https://cdn.example.com/shop.jpg",
        "text": "Our shop",
    }


# --- errors ------------------------------------------------------------------------------------------------------


def test_a_bad_key_is_a_permanent_error(ib):
    ib.account.api_key = "wrong-key"
    with pytest.raises(ExternalError) as caught:
        send(ib, ib.whatsapp, OutboundContent(kind="text", text="Hi"), "sb-bad-key")
    assert (caught.value.permanent, caught.value.status, caught.value.code) == (True, 401, "UNAUTHORIZED")
    assert "API key rejected" in caught.value.message
    assert "wrong-key" not in str(caught.value)
    with pytest.raises(ExternalError):
        infobip.check_credentials(ib.account)


def test_a_bad_key_on_the_e_code_api_is_permanent_too(ib):
    ib.account.api_key = "wrong-key"
    with pytest.raises(ExternalError) as caught:
        send(ib, ib.sms, OutboundContent(kind="text", text="Hi"), "sb-bad-key-sms")
    assert (caught.value.permanent, caught.value.code) == (True, "E401")


def test_validation_errors_are_permanent_and_name_the_field(ib):
    bad = OutboundContent(kind="media", media_url="not a url", media_mime_type="image/png")
    with pytest.raises(ExternalError) as caught:
        send(ib, ib.whatsapp, bad, "sb-invalid")
    assert (caught.value.permanent, caught.value.status, caught.value.code) == (True, 400, "BAD_REQUEST")
    assert "content.mediaUrl: is not a valid url" in caught.value.message


def test_content_a_channel_cannot_carry_is_refused_before_sending(ib):
    with pytest.raises(ExternalError) as caught:
        send(ib, ib.viber, OutboundContent(kind="text", text="x" * 1001), "sb-too-long")
    assert caught.value.permanent and "Viber allows 1000" in caught.value.message
    assert ib.sim.get("/__sim/infobip/messages").json() == []


@pytest.mark.parametrize("status,retry_after", [(429, 7), (500, None), (503, 30)])
def test_rate_limits_and_server_errors_are_transient(ib, status, retry_after):
    fault = {"service": "infobip", "status": status, **({"retry_after": retry_after} if retry_after else {})}
    assert ib.sim.post("/__sim/faults", json=fault).status_code in (200, 201)
    with pytest.raises(ExternalError) as caught:
        send(ib, ib.whatsapp, OutboundContent(kind="text", text="Hi"), f"sb-fault-{status}")
    assert (caught.value.permanent, caught.value.status, caught.value.retry_after) == (
        False,
        status,
        retry_after,
    )


# --- reading ---------------------------------------------------------------------------------------------------------


def test_credentials_templates_and_senders(ib):
    infobip.check_credentials(ib.account)
    templates = {(t.name, t.language): t for t in infobip.list_templates(ib.account, ib.whatsapp)}
    assert templates[("order_shipped", "en")].status == "APPROVED"
    assert templates[("order_shipped", "en")].structure["header"]["format"] == "TEXT"
    assert templates[("feedback_request", "es")].status == "PENDING"
    senders = {(s.channel, s.address) for s in infobip.list_senders(ib.account)}
    assert senders == {("whatsapp", WA), ("sms", SMS)}


def test_senders_are_read_page_by_page(ib, sim):
    numbers = [f"+4478600992{n:02d}" for n in range(30)]
    assert sim.delete("/__sim/infobip/accounts/acme").status_code == 200
    spec = {
        "key": "acme",
        "api_keys": [KEY],
        "senders": [{"address": n, "channels": ["SMS"]} for n in numbers],
    }
    assert sim.post("/__sim/infobip/accounts", json=spec).status_code == 201
    senders = infobip.list_senders(ib.account, page_size=7)
    assert sorted(s.address for s in senders) == numbers
    assert {s.channel for s in senders} == {"sms"}


def test_templates_of_an_unknown_sender_are_not_found(ib):
    stranger = make_sender(ib.account, "+447860099200", "whatsapp")
    with pytest.raises(ExternalError) as caught:
        infobip.list_templates(ib.account, stranger)
    assert (caught.value.permanent, caught.value.status, caught.value.code) == (True, 404, "NOT_FOUND")


def test_inbound_media_is_downloaded_with_the_account_key(ib):
    fired = ib.sim.post(
        "/__sim/infobip/inbound",
        json={
            "account": "acme",
            "from": CUSTOMER,
            "to": WA,
            "media": {
                "type": "IMAGE",
                "caption": "my receipt",
                "content_b64": base64.b64encode(PNG).decode(),
                "content_type": "image/png",
                "filename": "receipt.png",
            },
        },
    )
    assert fired.status_code == 201, fired.text
    url = fired.json()["messages"][0]["content"]["url"]
    content, mime, filename = infobip.download_media(ib.account, url)
    assert (content, mime, filename) == (PNG, "image/png", "receipt.png")


# --- both error envelopes, as Infobip documents them (no network) ------------------------------------------------


def _error(status: int, body: dict, **headers) -> ExternalError:
    with pytest.raises(ExternalError) as caught:
        raise_for_error(httpx.Response(status, json=body, headers=headers), "the whatsapp message")
    return caught.value


def test_legacy_validation_errors_list_every_field():
    error = _error(
        400,
        {
            "requestError": {
                "serviceException": {
                    "messageId": "BAD_REQUEST",
                    "text": "Bad request",
                    "validationErrors": {
                        "content.text": ["size must be between 1 and 4096", "must not be blank"]
                    },
                }
            }
        },
    )
    assert (error.permanent, error.code) == (True, "BAD_REQUEST")
    assert error.message == (
        "Infobip rejected the whatsapp message: content.text: size must be between 1 and 4096, must not be blank"
    )


def test_e_code_violations_are_listed():
    error = _error(
        400,
        {
            "errorCode": "E400",
            "description": "Request cannot be processed.",
            "action": "Check",
            "violations": [{"property": "messages[0].content.text", "violation": "Must not be null."}],
            "resources": [],
        },
    )
    assert (error.permanent, error.code) == (True, "E400")
    assert (
        error.message == "Infobip rejected the whatsapp message: messages[0].content.text: Must not be null."
    )


def test_e_code_429_is_transient_with_retry_after():
    error = _error(
        429,
        {"errorCode": "E429", "description": "Too many requests sent.", "violations": []},
        **{"Retry-After": "12"},
    )
    assert (error.permanent, error.code, error.retry_after) == (False, "E429", 12.0)


# --- the simulator's own webhooks parse ------------------------------------------------------------------------------


@pytest.mark.parametrize("inbound_format", ["CHANNEL", "MESSAGES_API"])
def test_webhooks_the_simulator_sends_parse(ib, inbound_format):
    assert (
        ib.sim.patch("/__sim/infobip/accounts/acme", json={"inbound_format": inbound_format}).status_code
        == 200
    )
    specs = [
        {"text": "hello"},
        {"button_payload": "agent", "button_text": "Talk to an agent"},
        {"interactive_reply": {"id": "yes", "title": "Yes"}},
        {"list_reply": {"id": "opt-2", "title": "Option 2"}},
        {"location": {"latitude": 45.8, "longitude": 15.9, "name": "Zagreb"}},
        {"media": {"type": "IMAGE", "caption": "photo"}},
        {"channel": "SMS", "to": SMS, "text": "sms hello"},
        {"channel": "VIBER", "to": VIBER, "text": "viber hello"},
    ]
    fired = ib.sim.post(
        "/__sim/infobip/inbound", json={"account": "acme", "from": CUSTOMER, "to": WA, "messages": specs}
    )
    assert fired.status_code == 201, fired.text

    def inbound():
        posts = ib.sim.get("/__sim/infobip/sink/relay").json()
        return [
            e
            for post in posts
            for e in infobip.parse_webhook(post["body"])
            if not isinstance(e, StatusReport)
        ]

    events = wait_for(inbound, lambda found: len(found) == len(specs))
    by_text = {e.text: e for e in events}
    assert {e.customer for e in events} == {CUSTOMER}
    assert (by_text["Talk to an agent"].kind, by_text["Talk to an agent"].payload) == ("button", "agent")
    assert (by_text["Yes"].kind, by_text["Option 2"].kind, by_text["photo"].kind) == (
        "button",
        "list_reply",
        "media",
    )
    (location,) = [e for e in events if e.kind == "location"]
    assert (location.location.latitude, location.location.longitude) == (45.8, 15.9)
    assert (by_text["sms hello"].channel, by_text["sms hello"].sender_address) == ("sms", SMS)
    assert (by_text["viber hello"].channel, by_text["viber hello"].sender_address) == ("viber", VIBER)
