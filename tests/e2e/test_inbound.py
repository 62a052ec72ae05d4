"""Customer → agent through the whole product: sandbox phone, webhook, worker, Interaction Service."""

import pytest

from relay.models import Message
from tests.e2e.conftest import console_sessions, customer_writes, entry_texts, session_entries, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_whatsapp_text_reaches_the_agent_console(wired):
    customer_writes(wired.sim, "Hello, my parcel has not arrived")
    sessions = wait_for(lambda: console_sessions(wired.sim, wired.org_id), what="a session in the console")
    session_id = sessions[0]["id"] if "id" in sessions[0] else sessions[0]["Id"]
    entries = wait_for(
        lambda: entry_texts(session_entries(wired.sim, wired.org_id, session_id)), what="the entry"
    )
    assert entries == ["Hello, my parcel has not arrived"]
    # Salesforce answers before the worker records it: wait for our side too.
    wait_for(
        lambda: Message.objects.filter(direction="in", status="delivered").exists(),
        what="the delivered status",
    )
    message = Message.objects.get(direction="in")
    assert message.conversation.messaging_session_id[:15] == session_id[:15]
