"""The 8x8 adapter against the sandbox's 8x8 simulator, over real HTTP through the fidelity checker's
recording proxy: what it sends, how 8x8's answers become results and errors, and (last) that every
recorded request conforms to 8x8's OpenAPI file with undeclared members failing too."""

from __future__ import annotations

import base64

import pytest

from relay.errors import ExternalError
from relay.providers.base import Button, OutboundContent, TemplateValues
from relay.providers.eightbyeight.client import EightByEightProvider

from .eightbyeight_support import (
    CUSTOMER,
    SUB,
    WA,
    RecordingProxy,
    django_account,
    simulator_account,
)

pytestmark = pytest.mark.django_db
eight = EightByEightProvider()
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def proxy(sandbox_server, tmp_path_factory):
    recorder = RecordingProxy(
        f"{sandbox_server.base_url}/sim/8x8", tmp_path_factory.mktemp("fid") / "8x8.jsonl"
    )
    yield recorder
    recorder.stop()


@pytest.fixture
def acme(sandbox, sim, proxy):
    sink = f"{sandbox.base_url}/__sim/infobip/sink/eight"
    simulator_account(sim, sink, "Basic dTpw")
    sim.post(
        "/__sim/8x8/inbound", json={"channel_id": WA, "from": CUSTOMER, "text": "hi"}
    )  # opens the window
    return django_account(proxy.url)


def sent(sim, umid: str) -> dict:
    return next(m for m in sim.get("/__sim/8x8/messages").json() if m["umid"] == umid)


def send(acme, sender, content):
    return eight.send(
        acme.account, sender, CUSTOMER, content, message_id="0f6c1a52-9d7e-4b1a-8c3d-5e6f7a8b9c0d"
    )


def test_whatsapp_text(acme, sim):
    result = send(acme, acme.whatsapp, OutboundContent(kind="text", text="Hello from Acme"))
    assert result.status == "queued"
    message = sent(sim, result.provider_message_id)
    assert (message["channel"], message["type"], message["content"]) == (
        "whatsapp",
        "text",
        {"text": "Hello from Acme"},
    )
    assert message["clientMessageId"] == "0f6c1a52-9d7e-4b1a-8c3d-5e6f7a8b9c0d"


@pytest.mark.parametrize(
    ("mime", "kind"),
    [("image/png", "image"), ("video/mp4", "video"), ("audio/ogg", "audio"), ("application/pdf", "file")],
)
def test_media(acme, sim, mime, kind):
    content = OutboundContent(
        kind="media", text="see", media_url="https://acme.example/f", media_mime_type=mime
    )
    message = sent(sim, send(acme, acme.whatsapp, content).provider_message_id)
    assert message["type"] == kind and message["content"] == {"url": "https://acme.example/f", "text": "see"}


@pytest.mark.parametrize(
    ("buttons", "interactive"),
    [
        ([Button("Yes", "y"), Button("No", "n")], "button"),
        ([Button(f"Option {i}", f"o{i}") for i in range(5)], "list"),
        ([Button("Open", url="https://acme.example/o")], "cta_url"),
    ],
)
def test_choices_on_whatsapp_are_interactive(acme, sim, buttons, interactive):
    content = OutboundContent(kind="choices", text="Pick one", buttons=buttons)
    message = sent(sim, send(acme, acme.whatsapp, content).provider_message_id)
    assert message["type"] == "interactive" and message["content"]["interactive"]["type"] == interactive


@pytest.mark.parametrize("channel", ["viber", "sms"])
def test_viber_and_sms_get_text_and_choices_as_numbered_text(acme, sim, channel):
    sender = getattr(acme, channel)
    content = OutboundContent(kind="choices", text="Pick", buttons=[Button("Yes", "y"), Button("No", "n")])
    message = sent(sim, send(acme, sender, content).provider_message_id)
    assert (message["channel"], message["type"], message["content"]["text"]) == (
        channel,
        "text",
        "Pick\n1. Yes\n2. No",
    )


def test_template(acme, sim):
    values = TemplateValues(
        name="order_ready",
        language="en_US",
        body_placeholders=["Ana", "42"],
        header_media_url="https://acme.example/p.png",
        header_media_type="IMAGE",
        url_button_parameters=["42"],
        quick_reply_payloads=["thanks"],
    )
    message = sent(
        sim, send(acme, acme.whatsapp, OutboundContent(kind="template", template=values)).provider_message_id
    )
    components = message["content"]["template"]["components"]
    assert [c["type"] for c in components] == ["header", "body", "button", "button"]
    assert components[1]["parameters"] == [{"type": "text", "text": "Ana"}, {"type": "text", "text": "42"}]


def test_templates_on_viber_are_refused_before_sending(acme):
    values = TemplateValues(name="order_ready", language="en_US")
    with pytest.raises(ExternalError) as refused:
        send(acme, acme.viber, OutboundContent(kind="template", template=values))
    assert refused.value.permanent and "WhatsApp" in str(refused.value)


def test_list_templates_in_the_panel_shape(acme):
    (template,) = eight.list_templates(acme.account, acme.whatsapp)
    assert (template.name, template.language, template.status) == ("order_ready", "en_US", "APPROVED")
    assert template.structure["header"]["format"] == "IMAGE"
    assert template.structure["body"] == {
        "text": "Hello {{1}}, order {{2}} is ready",
        "examples": ["Ana", "42"],
    }
    assert [b["type"] for b in template.structure["buttons"]] == ["URL", "QUICK_REPLY"]
    assert eight.list_templates(acme.account, acme.sms) == []


def test_credentials_and_webhook_configuration(acme, sim, proxy):
    eight.check_credentials(acme.account)
    eight.configure_webhooks(acme.account, "https://switchboard.example/webhooks/8x8/k/", "Basic c2I6eA==")
    shown = sim.get(
        f"/sim/8x8/api/v1/accounts/{acme.account.provider_account_id}/webhooks",
        headers={"Authorization": f"Bearer {acme.account.api_key}"},
    ).json()
    assert {
        "type": "MSG",
        "subAccountId": SUB,
        "url": "https://switchboard.example/webhooks/8x8/k/",
        "enabled": True,
        "httpAuthorization": "***",
    } in shown


@pytest.mark.parametrize(
    ("change", "permanent", "words"),
    [
        ({"api_key": "wrong"}, True, "credentials"),
        ({"subaccount_id": "Other_Sub"}, True, "credentials"),
    ],
)
def test_refusals_become_external_errors(acme, change, permanent, words):
    for field, value in change.items():
        setattr(acme.account, field, value)
    with pytest.raises(ExternalError) as refused:
        send(acme, acme.whatsapp, OutboundContent(kind="text", text="x"))
    assert refused.value.permanent is permanent and words in str(refused.value)


@pytest.mark.parametrize("to", ["0123", "447400123456", "+44 7400 123456", "GB.1349120865530274191"])
def test_a_number_8x8_would_refuse_is_refused_before_sending(acme, sim, to):
    before = len(sim.get("/__sim/8x8/messages").json())
    with pytest.raises(ExternalError) as refused:
        eight.send(acme.account, acme.sms, to, OutboundContent(kind="text", text="x"), message_id="m")
    assert refused.value.permanent and "E.164" in str(refused.value)
    assert len(sim.get("/__sim/8x8/messages").json()) == before


def test_a_whatsapp_user_without_a_number_is_addressed_by_bsuid(acme, sim):
    result = eight.send(
        acme.account,
        acme.whatsapp,
        "GB.1349120865530274191",
        OutboundContent(
            kind="template",
            template=TemplateValues(name="order_ready", language="en_US", body_placeholders=["a", "b"]),
        ),
        message_id="m",
    )
    assert result.provider_message_id


def test_download_media_from_the_account_host(acme, sim, sandbox):
    sim.post(
        "/__sim/8x8/inbound",
        json={
            "channel_id": WA,
            "from": CUSTOMER,
            "type": "Image",
            "media": {
                "content_b64": base64.b64encode(PNG).decode(),
                "mime_type": "image/png",
                "filename": "a.png",
            },
        },
    )
    url = [m for m in sim.get("/__sim/8x8/messages").json() if m["type"] == "Image"][0]["content"]["url"]
    account = django_account(f"{sandbox.base_url}/sim/8x8", tenant=acme.account.tenant, name="direct").account
    content, mime, filename = eight.download_media(account, url)
    assert (content, mime) == (PNG, "image/png") and filename.endswith("a.png")


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/files/x.png",
        "http://chatapps.8x8.com/files/x.png",
        "https://chatapps.8x8.com:8443/files/x.png",
        "https://user@chatapps.8x8.com/files/x.png",
        "https://chatapps.8x8.com.evil.example/files/x.png",
        "https://chatapps.8x8.com/files/x\t.png",
        "not a url",
        "https://[::1/x",
    ],
)
def test_media_from_other_hosts_is_refused(acme, url):
    with pytest.raises(ExternalError) as refused:
        eight.download_media(acme.account, url)
    assert refused.value.permanent


def test_zz_every_recorded_request_conforms_to_8x8s_openapi_file(acme, proxy):
    """Runs last in this module: the log holds every request the tests above made."""
    send(acme, acme.whatsapp, OutboundContent(kind="text", text="one more"))
    report = proxy.validate()
    assert report.returncode == 0, report.stdout + report.stderr
    assert "conforming" in report.stdout
