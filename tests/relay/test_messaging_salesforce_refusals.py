"""BYOC Messaging: what the desk does with the Interaction Service's documented refusals of a customer's message.

- A file Salesforce refuses for what it is (ERRORCODES.md: 10008 over 25 MB, 10009 empty, 10051 size
  mismatch, 10095 "The MIME type of the uploaded file cannot be determined"; or 413 before the service reads
  the body) although it passed our own checks: the customer's message reaches the agent as a link with the
  reason, as a file our checks refuse does. Before, the message failed: lost because of its content.
- A file Salesforce accepted (202, "Uploading file...") and then could not store: its MessageUpdated event
  carries an ErrorAttachmentUploadResult (outbound-custom-event-payload.yaml; errorType StorageLimitExceeded,
  AttachmentUploadNotEnabled, ...). The customer's message follows as a link with the reason, once. Before,
  the event was ignored and the agent saw only a failed upload.
- 10019 "The service is in read-only mode because an org migration is in progress. Try again later.": the
  line waits and retries; before, the message failed at once like any other 400.
- 10073 "Invalid message ID. Provide a unique ID for each message entry." on a retry: the entry id is the same on
  every try, so an earlier try's entry is in Salesforce (the call was taken and its answer lost): delivered, not
  failed. On a first try it is a refusal like any other.

The desk runs against the sandbox (Salesforce and Infobip); the sandbox's fault switch gives the refusal once
(``times``) with the code Salesforce documents.
"""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.cache import cache as django_cache
from django.utils import timezone

from portal.demo import ensure_demo_tenant, register_certificate_with_sandbox
from relay import tasks
from relay.desks.registry import desk_for
from relay.models import Conversation, Message, next_sequence
from relay.salesforce.auth import cache_key
from tenants.models import Sender
from tests.e2e.conftest import DEMO_FIXTURE, console_sessions, entry_texts, session_entries
from tests.relay.salesforce_support import PNG

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = "+385919990102"


@pytest.fixture
def demo(sandbox, sim):
    """The demo tenant wired to the sandbox and a WhatsApp conversation of a customer who wrote just now."""
    sandbox.call(sandbox.world.load_fixture, DEMO_FIXTURE)
    tenant = ensure_demo_tenant(sandbox.base_url)
    register_certificate_with_sandbox(tenant, sandbox.base_url)
    django_cache.delete(cache_key(tenant.salesforce))  # a token of an earlier test's sandbox is stale
    sender = Sender.objects.select_related("account").get(tenant=tenant, channel="whatsapp")
    conversation = Conversation.objects.create(
        tenant=tenant, sender=sender, customer=CUSTOMER, last_inbound_at=timezone.now()
    )
    return SimpleNamespace(sandbox=sandbox, sim=sim, tenant=tenant, sender=sender, conversation=conversation)


def photo_message(demo) -> Message:
    """A customer's PNG, stored at Infobip (the sandbox) as a webhook would have announced it."""
    world = demo.sandbox.world.infobip
    account = world.account_for_key(demo.sender.account.api_key)
    assert account is not None
    number = "".join(ch for ch in demo.sender.address if ch.isdigit())
    media = demo.sandbox.call(world.store_media, account, number, "IMAGE", PNG, "image/png", "photo.png")
    url = world.media_url(media)
    content = {
        "kind": "media",
        "media": {"url": url, "kind": "image", "mime_type": "image/png", "filename": "photo.png"},
    }
    return customer_message(demo, content, f"in-photo-{media.media_id}")


def customer_message(demo, content: dict, provider_message_id: str) -> Message:
    """A customer's message stored at the end of the conversation's inbound line, as a webhook stores one."""
    conversation = demo.conversation
    return Message.objects.create(
        tenant=demo.tenant,
        conversation=conversation,
        direction="in",
        sequence=next_sequence(conversation.pk, "in"),
        kind=content["kind"],
        text=content.get("text", ""),
        content=content,
        provider="infobip",
        provider_message_id=provider_message_id,
        expires_at=timezone.now() + timedelta(days=1),
    )


def texts_in_salesforce(demo) -> list[str]:
    sessions = console_sessions(demo.sim, demo.tenant.org_id)
    assert len(sessions) == 1, sessions
    return entry_texts(session_entries(demo.sim, demo.tenant.org_id, sessions[0]["id"]))


def refuse_once(demo, status: int, code: int | None = None) -> None:
    fault: dict = {"service": "scrt", "path": "/interactions", "status": status, "times": 1}
    if code is not None:
        fault["code"] = code
    response = demo.sim.post("/__sim/faults", json=fault)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(("status", "code"), [(400, 10095), (400, 10008), (400, 10051), (413, None)])
def test_a_file_salesforce_refuses_reaches_the_agent_as_a_link(demo, status, code):
    message = photo_message(demo)
    refuse_once(demo, status, code)

    tasks.deliver_inbound(demo.conversation.pk)

    row = Message.objects.get(pk=message.pk)
    assert row.status == Message.Status.DELIVERED, row.last_error
    [note] = texts_in_salesforce(demo)
    assert "photo.png" in note and message.content["media"]["url"] in note and "not attached" in note


def test_a_file_salesforce_takes_is_attached(demo):
    message = photo_message(demo)
    tasks.deliver_inbound(demo.conversation.pk)
    assert Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED
    assert texts_in_salesforce(demo) == []  # an attachment, no link note


def test_read_only_during_an_org_migration_is_retried_not_failed(demo):
    message = photo_message(demo)
    refuse_once(demo, 400, 10019)

    tasks.deliver_inbound(demo.conversation.pk)
    row = Message.objects.get(pk=message.pk)
    assert row.status == Message.Status.PENDING, row.last_error
    assert "10019" in str(row.last_error)

    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())  # the retry falls due
    tasks.deliver_inbound(demo.conversation.pk)
    assert Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED


def published_events(demo) -> list[dict]:
    """The platform events the sandbox org published, as the listener hands them to the desk."""
    connection = demo.tenant.salesforce
    response = demo.sim.get(
        "/__sim/pubsub/events", params={"org": demo.tenant.org_id, "event": connection.platform_event}
    )
    assert response.status_code == 200, response.text
    return [event["fields"] for event in response.json()]


def upload_results(demo) -> list[dict]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # Salesforce publishes the upload's result after its 202
        updates = [f for f in published_events(demo) if "MessageUpdated" in f["Payload__c"]]
        if updates:
            return updates
        time.sleep(0.02)
    raise AssertionError("no MessageUpdated event was published")


def test_a_file_salesforce_could_not_store_follows_as_a_link(demo):
    response = demo.sim.put(
        "/__sim/console/api/scrt/upload-result", json={"errorType": "StorageLimitExceeded"}
    )
    assert response.status_code == 200, response.text
    message = photo_message(demo)
    tasks.deliver_inbound(demo.conversation.pk)
    assert Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED

    desk = desk_for(demo.tenant.salesforce)
    for fields in upload_results(demo) * 2:  # a replayed event adds nothing
        desk.receive(fields)
    tasks.deliver_inbound(demo.conversation.pk)

    [note] = texts_in_salesforce(demo)
    assert "photo.png" in note and message.content["media"]["url"] in note
    assert "StorageLimitExceeded" in note
    assert Message.objects.filter(conversation=demo.conversation, direction="in").count() == 2


def test_a_stored_file_adds_nothing(demo):
    message = photo_message(demo)
    tasks.deliver_inbound(demo.conversation.pk)
    desk = desk_for(demo.tenant.salesforce)
    for fields in upload_results(demo):
        desk.receive(fields)
    assert list(Message.objects.filter(conversation=demo.conversation, direction="in")) == [message]


@pytest.mark.parametrize(
    ("earlier_tries", "status"), [(1, Message.Status.DELIVERED), (0, Message.Status.FAILED)]
)
def test_an_entry_id_salesforce_already_has_on_a_retry_is_delivered(demo, earlier_tries, status):
    message = customer_message(demo, {"kind": "text", "text": "Is my order on its way?"}, "in-retried-1")
    Message.objects.filter(pk=message.pk).update(
        attempts=earlier_tries, last_error="timed out" * earlier_tries
    )
    refuse_once(demo, 400, 10073)

    tasks.deliver_inbound(demo.conversation.pk)

    row = Message.objects.get(pk=message.pk)
    assert row.status == status, row.last_error
    if status == Message.Status.DELIVERED:
        assert row.last_error == ""
    else:
        assert "10073" in row.last_error
