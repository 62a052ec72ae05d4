"""The template panel's data for an 8x8 WhatsApp sender: the sync fills the cache from 8x8's templates list
in the shape the panel reads, and the values the panel collects become an 8x8 template send."""

from __future__ import annotations

import pytest

from relay.outbound.template_sync import sync_sender
from relay.outbound.template_values import shape_of, template_values
from relay.providers.base import OutboundContent
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
