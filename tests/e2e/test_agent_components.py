"""An agent's messaging component the customer's channel cannot show natively (issue 13): a form reaches the
customer as readable text; one no text can render faithfully is not sent, and the agent is told why."""

import time

import pytest

from relay.models import Message
from relay.salesforce.interactions import InteractionClient
from tests.e2e.conftest import agent_replies, open_session, phone_received, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CUSTOMER = "385919998831"


def title(text: str) -> dict:
    return {"itemType": "TitleItem", "title": text}


FORM = {
    "messageType": "FormMessage",
    "form": {
        "formatType": "Inputs",
        "formTitle": title("Delivery details"),
        "sections": [
            {"sectionType": "SingleInputSection", "input": {
                "inputType": "TextInput", "id": "order", "label": title("Your order number"), "required": True}},
            {"sectionType": "SingleInputSection", "input": {
                "inputType": "SelectInput", "id": "when", "label": title("When should we come?"), "required": True,
                "optionItems": [
                    {"itemType": "TitleOptionItem", "optionIdentifier": "am", "titleItem": title("Morning")},
                    {"itemType": "TitleOptionItem", "optionIdentifier": "pm", "titleItem": title("Afternoon")}]}},
        ],
    },
}  # fmt: skip
FORM_TEXT = "Delivery details\n\n1. Your order number\n2. When should we come?\n   Morning / Afternoon"
FORM_BY_REFERENCE = {
    "messageType": "FormMessage",
    "form": {"formatType": "MessageDefinition", "messageDefinitionNameOrId": "Address_Form"},
}


def register_form_capabilities(tenant) -> None:
    """Forms registered by hand, MessageDefinition included: the product's registration
    (relay/salesforce/capabilities.py) leaves out what the relay refuses, so only a hand registration lets
    the sandbox's agent send a form by reference and this test reach the relay's refusal."""
    connection = tenant.salesforce
    body = {"capabilities": {"appType": "custom", "channelCapabilities": [{
        "channelType": "custom",
        "customIntegration": {"customIntegrationType": "CustomChannelIntegration",
                              "integrationNamespace": tenant.org_id15,
                              "conversationChannelDefinitionDevName": connection.authorization_context},
        "messageTypeCapabilities": [
            {"messageType": "StaticContentMessage", "formatTypeCapabilities": [{"formatType": "Text"}]},
            {"messageType": "FormMessage",
             "formatTypeCapabilities": [{"formatType": "Inputs"}, {"formatType": "MessageDefinition"}]}]}]}}  # fmt: skip
    InteractionClient(connection)._json("PATCH", "/capabilities", body, action="capabilities")


def test_a_form_reaches_the_customer_as_text_and_an_unshowable_one_fails_with_a_reason(wired, listener):
    register_form_capabilities(wired.tenant)
    before_ms = int(time.time() * 1000)
    session, ada = open_session(wired, "Can someone come by?", customer=CUSTOMER)
    form = agent_replies(wired, session, ada, message=FORM)
    by_reference = agent_replies(wired, session, ada, message=FORM_BY_REFERENCE)
    agent_replies(wired, session, ada, text="Thanks!")

    def texts_on_phone():
        return [
            m["content"].get("text") for m in phone_received(wired.sim, CUSTOMER) if m["content"].get("text")
        ]

    received = wait_for(
        lambda: "Thanks!" in texts_on_phone() and texts_on_phone(), what="the replies on the phone"
    )
    assert received[1:] == [FORM_TEXT, "Thanks!"]  # after the welcome; nothing for the unshowable form

    def failures():
        rows = wired.sim.get(f"/__sim/console/api/orgs/{wired.org_id}/delivery-failures").json()
        return [row for row in rows if row["failedEntryIdentifier"] == by_reference["identifier"]]

    [failure] = wait_for(failures, what="the delivery failure in Salesforce")
    assert failure["errorCode"] == "UNSUPPORTED_MESSAGE"
    assert (
        "cannot show a messaging component sent by reference (MessageDefinition)" in failure["errorMessage"]
    )

    def acknowledged():
        rows = wired.sim.get(f"/__sim/console/api/orgs/{wired.org_id}/acknowledgements").json()
        return {(row["acknowledgedEntryIdentifier"], row["type"]) for row in rows}

    wait_for(lambda: (form["identifier"], "Read") in acknowledged(), what="the form's read receipt")
    assert not {kind for entry, kind in acknowledged() if entry == by_reference["identifier"]}
    refused = Message.objects.get(salesforce_entry_id=by_reference["identifier"])
    assert (
        refused.status == Message.Status.FAILED and refused.delivered_at is None and refused.read_at is None
    )
    assert not refused.delivery_attempts.exclude(target="salesforce").exists()  # never offered to Infobip

    # The relay stamps what it sends Salesforce in epoch milliseconds (the Interaction Service's unit).
    entries = wired.sim.get(f"/__sim/console/api/orgs/{wired.org_id}/sessions/{session['id']}/entries").json()
    customer_stamps = [e["clientTimestamp"] for e in entries if e["sender"]["role"] == "EndUser"]
    assert customer_stamps and all(before_ms <= s <= int(time.time() * 1000) for s in customer_stamps)
