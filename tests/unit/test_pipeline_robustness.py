"""The delivery loops end cleanly whatever fails inside them: a failing ``on_failed`` does not keep a
message pending, a notice for a deleted message ends the task, and a notice of a kind this code does not
know fails after the bound instead of breaking every notice of its message."""

from datetime import timedelta

import pytest
from django.utils import timezone

from relay import tasks
from relay.inbound import deliver as inbound
from relay.lines import pipeline
from relay.models import Conversation, DeliveryAttempt, Message, SalesforceNotice
from tenants.models import SalesforceConnection
from tests.factories import make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation():
    tenant = make_tenant()
    # Never called: the messages below fail before any call to Salesforce.
    SalesforceConnection.objects.create(
        tenant=tenant, instance_url="https://example.my.salesforce.com", consumer_key="ck"
    )
    return Conversation.objects.create(
        tenant=tenant, sender=make_sender(make_account(tenant)), customer="+385919990200"
    )


def message(conversation, sequence, **fields):
    defaults = {"direction": "in", "kind": "text", "text": f"message {sequence}", "content": {}}
    defaults.update(fields)
    return Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        sequence=sequence,
        provider="infobip",
        provider_message_id=f"robust-{sequence}",
        expires_at=timezone.now() + timedelta(days=1),
        **defaults,
    )


def test_a_failing_on_failed_does_not_keep_the_message_pending(conversation, settings, caplog):
    settings.RELAY_MAX_INTERNAL_ERRORS = 1
    poison = message(conversation, 1, kind="history", content={"kind": "history", "handover": 987654321})
    behind = message(conversation, 2, kind="history", content={"kind": "history", "handover": 987654322})

    def on_failed(message, reason, error):
        raise RuntimeError("the other side's notice could not be queued")

    pipeline.run(conversation.pk, "in", inbound.deliver, on_failed)

    poison.refresh_from_db()
    assert poison.status == "failed" and "gave up after 1 tries" in poison.last_error
    assert "telling the other side that message" in caplog.text  # logged with its traceback
    behind.refresh_from_db()  # the line moved on: the next message was tried (and given up in turn)
    assert behind.status == "failed" and behind.internal_errors == 1


def test_a_notice_for_a_deleted_message_ends_the_task(conversation):
    tasks.notify_salesforce(987654321)  # nothing raised, nothing to do


def test_a_notice_of_an_unknown_kind_fails_after_the_bound(conversation, settings):
    settings.RELAY_MAX_INTERNAL_ERRORS = 2
    sent = message(conversation, 1, direction="out", status="sent", content={"entry_identifier": "e-1"})
    notice = SalesforceNotice.objects.create(tenant=conversation.tenant, message=sent, kind="recalled")

    tasks.notify_salesforce(sent.pk)
    notice.refresh_from_db()
    assert (
        notice.status == "pending" and notice.internal_errors == 1 and notice.next_attempt_at > timezone.now()
    )
    SalesforceNotice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now())
    tasks.notify_salesforce(sent.pk)

    notice.refresh_from_db()
    assert notice.status == "failed" and "gave up after 2 tries" in notice.last_error
    assert (
        list(DeliveryAttempt.objects.filter(message=sent).values_list("action", "outcome"))
        == [("notice_recalled", "internal")] * 2
    )
