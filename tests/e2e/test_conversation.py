"""A whole conversation: the customer writes, the agent answers, receipts flow back to Salesforce."""

import pytest

from relay.models import Message
from tests.e2e.conftest import agent_replies, open_session, phone_received, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_agent_reply_reaches_the_phone_and_receipts_reach_salesforce(wired, listener):
    session, ada = open_session(wired)
    agent_replies(wired, session, ada, text="Hi Frank, let me check that for you.")

    def texts_on_phone():
        return [m["content"].get("text") for m in phone_received(wired.sim) if m["content"].get("text")]

    received = wait_for(
        lambda: "Hi Frank, let me check that for you." in texts_on_phone() and texts_on_phone(),
        what="the reply on the phone",
    )
    assert received.count("Hi Frank, let me check that for you.") == 1
    # The welcome text went first, the agent's reply after it.
    assert received[0] == wired.tenant.welcome_text

    def acknowledgements():
        rows = wired.sim.get(f"/__sim/console/api/orgs/{wired.org_id}/acknowledgements").json()
        return sorted(row["type"] for row in rows)

    assert wait_for(
        lambda: acknowledgements() == ["Delivered", "Read"] and acknowledgements(),
        what="Delivered and Read receipts in Salesforce",
    ) == ["Delivered", "Read"]
    reply = Message.objects.get(direction="out", text="Hi Frank, let me check that for you.")
    assert reply.status == "read" and reply.salesforce_entry_id
