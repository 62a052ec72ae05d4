"""The agent console API sends messaging components (a FormMessage, ...) as Salesforce publishes them: a
documented abstractMessage, only in a message and format type the channel registered."""

from __future__ import annotations

import pytest

from tests.sandbox.scrt_support import Salesforce, assert_valid_event
from tests.sandbox.test_console_api import accepted_session, register_capabilities

FORM = {
    "messageType": "FormMessage",
    "form": {
        "formatType": "Inputs",
        "formTitle": {"itemType": "TitleItem", "title": "Delivery details"},
        "sections": [{"sectionType": "SingleInputSection", "input": {
            "inputType": "TextInput", "id": "order", "label": {"itemType": "TitleItem", "title": "Order number"}}}],
    },
}  # fmt: skip


@pytest.fixture
def sf(sandbox, sim) -> Salesforce:
    return Salesforce(sandbox, sim)


def reply(sf, sim, session_id: str, message):
    return sim.post(sf.api(f"/sessions/{session_id}/reply"), json={"agent": sf.ada, "message": message})


def test_a_registered_form_is_published_as_documented(sf, sim):
    session_id = accepted_session(sf, sim)
    assert reply(sf, sim, session_id, FORM).status_code == 409  # nothing registered yet
    register_capabilities(
        sf, {"messageType": "FormMessage", "formatTypeCapabilities": [{"formatType": "Inputs"}]}
    )
    sent = reply(sf, sim, session_id, FORM)
    assert sent.status_code == 201, sent.text
    [event] = sf.wait_published("Message")
    assert_valid_event(event)
    message = event["payload"]["entryPayload"]["abstractMessage"]
    assert message["form"] == FORM["form"] and message["id"] == event["payload"]["identifier"]


@pytest.mark.parametrize(
    "message, status, text",
    [
        ("a form", 400, "abstractMessage object"),
        ({"messageType": "HologramMessage"}, 400, "messageType must be one of"),
        ({"messageType": "FormMessage", "form": {"formatType": "Inputs"}}, 400, "not a documented FormMessage"),
        ({"messageType": "ChoicesMessage", "choices": {"formatType": "Buttons", "text": "?", "optionItems": [
            {"itemType": "TitleOptionItem", "optionIdentifier": "y", "titleItem": {"itemType": "TitleItem",
                                                                                  "title": "Yes"}}]}},
         409, "ChoicesMessage/Buttons"),
    ],
    ids=["not an object", "unknown type", "undocumented shape", "unregistered format"],
)  # fmt: skip
def test_a_bad_or_unregistered_component_is_refused_and_publishes_nothing(sf, sim, message, status, text):
    session_id = accepted_session(sf, sim)
    register_capabilities(
        sf, {"messageType": "FormMessage", "formatTypeCapabilities": [{"formatType": "Inputs"}]}
    )
    response = reply(sf, sim, session_id, message)
    assert response.status_code == status and text in response.json()["error"]
    assert [e for e in sf.published() if e["payload"]["entryType"] == "Message"] == []
