"""SMS and Viber both ways, and media both ways, through the whole product."""

import base64

import pytest

from tests.e2e.conftest import (
    SMS,
    VIBER,
    agent_replies,
    customer_entries,
    entry_texts,
    open_session,
    phone_received,
    session_entries,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# A real 1×1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.mark.parametrize(
    ("channel", "sender", "customer"),
    [("SMS", SMS, "385919998801"), ("VIBER", VIBER, "385919998802")],
)
def test_text_both_ways(wired, listener, channel, sender, customer):
    session, ada = open_session(
        wired, f"Hi over {channel}", channel=channel, sender=sender, customer=customer
    )
    texts = wait_for(lambda: entry_texts(customer_entries(wired, session["id"])), what="the customer's entry")
    assert texts == [f"Hi over {channel}"]

    agent_replies(wired, session, ada, text=f"Answer over {channel}")

    def replies():
        return [
            m
            for m in phone_received(wired.sim, customer, channel=channel)
            if m["content"].get("text") == f"Answer over {channel}"
        ]

    sent = wait_for(replies, what=f"the agent's answer on the phone over {channel}")
    assert len(sent) == 1 and sent[0]["sender"] == sender


def test_customer_image_arrives_as_an_attachment(wired):
    media = {
        "type": "IMAGE",
        "caption": "the damaged box",
        "content_b64": base64.b64encode(PNG).decode(),
        "content_type": "image/png",
        "filename": "box.png",
    }
    response = wired.sim.post(
        "/__sim/infobip/inbound",
        json={
            "account": "demo-account-key",
            "channel": "WHATSAPP",
            "from": "385919998803",
            "to": "447860099299",
            "media": media,
            "name": "Frank",
        },
    )
    assert response.status_code == 201, response.text

    def attachment_entries():
        sessions = [
            s
            for s in wired.sim.get(f"/__sim/console/api/orgs/{wired.org_id}/sessions").json()
            if (s.get("endUserClientId") or "").endswith("385919998803")
        ]
        if not sessions:
            return []
        return [e for e in session_entries(wired.sim, wired.org_id, sessions[0]["id"]) if e.get("files")]

    entries = wait_for(attachment_entries, what="the image in Salesforce")
    files = entries[0]["files"]
    assert len(files) == 1
    assert files[0].get("mimeType", files[0].get("mime_type")) == "image/png"


def test_agent_file_reaches_the_phone_as_media(wired, listener):
    session, ada = open_session(wired, "Can you send the invoice?", customer="385919998804")
    agent_replies(
        wired,
        session,
        ada,
        text="Here it is",
        attachment={
            "name": "invoice.pdf",
            "mimeType": "application/pdf",
            "contentBase64": base64.b64encode(b"%PDF-1.4 invoice").decode(),
        },
    )

    def media_sent():
        return [m for m in phone_received(wired.sim, "385919998804") if m["kind"] not in ("TEXT",)]

    sent = wait_for(media_sent, what="the file on the phone")
    assert sent[0]["kind"] == "DOCUMENT", sent[0]
    assert "/sim/files/" in str(sent[0]["content"])
