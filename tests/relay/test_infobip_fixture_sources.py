"""Where every Infobip fixture comes from: a webhook example of Infobip's OpenAPI files, copied verbatim, or
a body written from the webhook's schema (listed below with the schema it follows), and checked against the
schema of the webhook that posts it, so a hand-written fixture cannot drift from the vendor."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from sandbox.openapi import OpenApiSpec

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "relay" / "providers" / "infobip" / "fixtures"
SPECS = ROOT.parent / "shared" / "reference" / "infobip-openapi"
if not SPECS.exists():  # a checkout without the shared reference folder next to it
    SPECS = Path("/work/shared/reference/infobip-openapi")
SPEC_FILES = ("whatsapp", "sms", "viber", "messages-api")

WHATSAPP_MO = ("whatsapp", "receive-inbound-whatsapp-messages")
VIBER_BOT_MO = ("viber", "receive-viber-bot-api-incoming-messages")

# Fixtures that are not a verbatim example: (spec, webhook) and the schema or example they follow.
WRITTEN_FROM_SCHEMA = {
    "whatsapp_contacts_several": (
        WHATSAPP_MO,
        "InboundContact: the CONTACT example's card, one named by firstName/middleName/lastName/nameSuffix "
        "with two phones and two emails, one with a formattedName only",
    ),
    "whatsapp_unsupported": (WHATSAPP_MO, "WhatsAppInboundUnsupportedContent in the TEXT example's envelope"),
    "viber_bot_text": (VIBER_BOT_MO, "ViberBotTextNestedInboundMessage"),
    "viber_bot_image": (VIBER_BOT_MO, "ViberBotImageNestedInboundMessage"),
    "viber_bot_video": (VIBER_BOT_MO, "ViberBotVideoNestedInboundMessage"),
    "viber_bot_file": (VIBER_BOT_MO, "ViberBotFileNestedInboundMessage"),
    "viber_bot_sticker": (VIBER_BOT_MO, "ViberBotStickerNestedInboundMessage"),
    "viber_bot_location": (VIBER_BOT_MO, "ViberBotLocationNestedInboundMessage"),
    "viber_bot_contact": (VIBER_BOT_MO, "ViberBotContactNestedInboundMessage"),
    "viber_bot_conversation_started": (VIBER_BOT_MO, "ViberBotInboundConversationStartedContent"),
    "viber_bot_subscribed": (VIBER_BOT_MO, "ViberBotInboundSubscribedContent"),
    "viber_bot_unsubscribed": (VIBER_BOT_MO, "ViberBotInboundUnsubscribedContent"),
    "viber_bot_delivered": (VIBER_BOT_MO, "ViberBotInboundDeliveredContent"),
    "viber_bot_image_without_url": (VIBER_BOT_MO, "ViberBotImageNestedInboundMessage without url"),
    "viber_inbound_file_without_url": (
        ("viber", "receive-inbound-viber-messages"),
        "ViberInboundFileContent without url (only type is required) in the FILE example's envelope",
    ),
    "whatsapp_delivery_report_outside_window": (
        ("whatsapp", "receive-whatsapp-delivery-reports"),
        "the delivery-report example with status and error replaced (fixtures/README.md)",
    ),
    "sms_delivery_report_expired": (
        ("sms", "receive-outbound-sms-message-reports"),
        "the delivery-report example with status and error replaced (fixtures/README.md)",
    ),
    "viber_delivery_report_rejected": (
        ("viber", "receive-outbound-viber-message-delivery-reports"),
        "the delivery-report example with status and error replaced (fixtures/README.md)",
    ),
}


@cache
def spec(name: str) -> OpenApiSpec:
    return OpenApiSpec.from_file(SPECS / f"infobip-{name}-openapi.json")


def body_schema(name: str, webhook: str) -> str:
    return spec(name).doc["webhooks"][webhook]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]["$ref"]


@cache
def vendor_examples() -> dict[str, tuple[str, str, str]]:
    """Every webhook example of Infobip's files, by its canonical JSON: (spec, webhook, example title)."""
    found = {}
    for name in SPEC_FILES:
        for webhook, item in spec(name).doc.get("webhooks", {}).items():
            content = item["post"]["requestBody"]["content"]["application/json"]
            for title, example in (content.get("examples") or {}).items():
                found[json.dumps(example["value"], sort_keys=True)] = (name, webhook, title)
    return found


def fixture_names() -> list[str]:
    return sorted(path.stem for path in FIXTURES.glob("*.json"))


def source(name: str) -> tuple[str, str, str]:
    """(spec, webhook, what the fixture follows)."""
    if name in WRITTEN_FROM_SCHEMA:
        (spec_name, webhook), follows = WRITTEN_FROM_SCHEMA[name]
        return spec_name, webhook, f"schema: {follows}"
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    spec_name, webhook, title = vendor_examples()[json.dumps(data, sort_keys=True)]
    return spec_name, webhook, f"example: {title}"


@pytest.mark.parametrize("name", fixture_names())
def test_every_fixture_is_a_vendor_example_or_written_from_a_named_schema(name):
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    verbatim = json.dumps(data, sort_keys=True) in vendor_examples()
    assert verbatim != (name in WRITTEN_FROM_SCHEMA), (
        f"{name}: a verbatim example must not be listed in WRITTEN_FROM_SCHEMA, and any other fixture must be"
    )


@pytest.mark.parametrize("name", sorted(WRITTEN_FROM_SCHEMA))
def test_every_written_fixture_matches_the_schema_of_the_webhook_that_posts_it(name):
    # Only the written ones: three of Infobip's own examples break its schema (a flow reply's ``flow-data``
    # as a string, INTERACTIVE_PAYMENT_ACKNOWLEDGEMENT missing from the type enum); they stay verbatim.
    spec_name, webhook, _ = source(name)
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    violations = spec(spec_name).validate(body_schema(spec_name, webhook), data)
    assert [f"{v.dotted()}: {v.message}" for v in violations] == []
