"""Agents' buttons reach WhatsApp once the wizard's live check has registered the channel's capabilities:
before it, Salesforce (the sandbox) does not let the agent send them; no test registers anything by hand."""

import pytest

from portal import livechecks
from portal.console.wizard import checks
from tests.e2e.conftest import agent_replies, open_session, phone_received, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CUSTOMER = "385919998877"
BUTTONS = {
    "messageType": "ChoicesMessage",
    "choices": {
        "formatType": "Buttons",
        "text": "Was this helpful?",
        "optionItems": [
            {"itemType": "TitleOptionItem", "optionIdentifier": "yes", "titleItem": {"itemType": "TitleItem", "title": "Yes"}},
            {"itemType": "TitleOptionItem", "optionIdentifier": "no", "titleItem": {"itemType": "TitleItem", "title": "No"}},
        ],
    },
}  # fmt: skip


def test_after_the_wizards_registration_an_agents_buttons_go_out_as_whatsapp_buttons(wired, listener):
    session, ada = open_session(wired, "Is my parcel on its way?", customer=CUSTOMER)
    refused = wired.sim.post(
        f"/__sim/console/api/orgs/{wired.org_id}/sessions/{session['id']}/reply",
        json={"agent": ada, "message": BUTTONS},
    )
    assert refused.status_code == 409 and "did not register ChoicesMessage/Buttons" in refused.text

    check = livechecks.start(wired.tenant, checks.CAPABILITIES)  # what saving the channel queues
    done = wait_for(
        lambda: (c := livechecks.get(wired.tenant, check.id)) is not None and c.done and c,
        what="the capabilities registration in the worker",
    )
    assert done.ok, done.message
    agent_replies(wired, session, ada, message=BUTTONS)

    def buttons_on_phone():
        return [m for m in phone_received(wired.sim, CUSTOMER) if "Was this helpful?" in str(m)]

    [sent] = wait_for(buttons_on_phone, what="the buttons on the phone")
    assert (sent["channel"], sent["kind"]) == ("WHATSAPP", "INTERACTIVE_BUTTONS")
    assert [(b["id"], b["title"]) for b in sent["content"]["action"]["buttons"]] == [
        ("yes", "Yes"),
        ("no", "No"),
    ]
