"""The template panel's data for an 8x8 WhatsApp sender: the sync fills the cache from 8x8's templates list
in the shape the panel reads, and the values the panel collects become an 8x8 template send."""

from __future__ import annotations

import pytest
from django.utils import timezone

from relay.outbound.template_sync import sync_sender
from relay.outbound.template_values import shape_of, template_values
from relay.providers.base import OutboundContent
from relay.providers.eightbyeight import payloads
from relay.providers.registry import get_provider
from tenants.models import WhatsAppTemplate

from .eightbyeight_support import CUSTOMER, WA, django_account, simulator_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(sandbox, sim):
    simulator_account(sim)
    sim.post("/__sim/8x8/inbound", json={"channel_id": WA, "from": CUSTOMER, "text": "hi"})
    return django_account(f"{sandbox.base_url}/sim/8x8")


def test_sync_then_send_a_template_from_the_panels_values(acme, sim):
    assert sync_sender(acme.whatsapp).fetched == 1
    cached = WhatsAppTemplate.objects.get(sender=acme.whatsapp)
    assert (cached.name, cached.language, cached.status) == ("order_ready", "en_US", "APPROVED")
    shape = shape_of(cached.structure)
    assert shape.header_format == "IMAGE" and shape.footer == "Acme"
    assert {"header_media_url", "body_1", "body_2"} <= set(shape.field_names)
    values = template_values(
        cached.name,
        cached.language,
        cached.structure,
        {
            "header_media_url": "https://acme.example/p.png",
            "body_1": "Ana",
            "body_2": "42",
            **{f.name: "42" for f in shape.fields if f.name.startswith("url_")},
            **{f.name: "thanks" for f in shape.fields if f.name.startswith("reply_")},
        },
    )
    result = get_provider("8x8").send(
        acme.account,
        acme.whatsapp,
        CUSTOMER,
        OutboundContent(kind="template", template=values),
        message_id="t1",
    )
    sent = next(m for m in sim.get("/__sim/8x8/messages").json() if m["umid"] == result.provider_message_id)
    components = sent["content"]["template"]["components"]
    assert components[1] == {
        "type": "body",
        "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "42"}],
    }
    buttons = [(c["index"], c["subType"]) for c in components if c["type"] == "button"]
    assert buttons == [(0, "Url"), (1, "QuickReply")]


def test_viber_and_sms_senders_have_no_templates(acme):
    assert sync_sender(acme.viber).error and sync_sender(acme.sms).error


@pytest.mark.parametrize(
    ("buttons", "values", "expected"),
    [
        (  # a phone button first: the link's value is button 1's
            [
                {"type": "PHONE_NUMBER", "text": "Call us"},
                {"type": "URL", "text": "Track", "url": "https://a.example/{{1}}"},
            ],
            {"url_1": "A123"},
            [(1, "Url")],
        ),
        (  # a static link first: the quick reply is button 1
            [
                {"type": "URL", "text": "Website", "url": "https://a.example/"},
                {"type": "QUICK_REPLY", "text": "Stop"},
            ],
            {"reply_1": "stop"},
            [(1, "QuickReply")],
        ),
    ],
)
def test_a_button_value_takes_its_button_s_registered_position(acme, buttons, values, expected):
    """8x8's ``components[].index`` is the "Position index of the button" among all the template's buttons
    (business_messaging_api.json): fixed buttons count. Numbered from 0 among the values alone, the value went to
    the wrong button and WhatsApp refused the template."""
    structure = {"body": {"text": "Your order shipped."}, "buttons": buttons}
    WhatsAppTemplate.objects.create(
        tenant=acme.account.tenant,
        sender=acme.whatsapp,
        name="order_update",
        language="en_US",
        structure=structure,
        fetched_at=timezone.now(),
    )
    checked = template_values("order_update", "en_US", structure, values)
    content = OutboundContent(kind="template", template=checked)
    registered = get_provider("8x8")._registered_buttons(acme.account, acme.whatsapp, content)
    assert registered == buttons  # from the templates the panel keeps: no call to 8x8
    components = payloads.template(checked, registered)["components"]
    assert [(c["index"], c["subType"]) for c in components if c["type"] == "button"] == expected
