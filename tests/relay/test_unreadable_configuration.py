"""A tenant's configuration that cannot be loaded (a secret encrypted with a key no longer in ENCRYPTION_KEYS)
must not hold a line or a notice forever: the head message bears it as an internal error (tried again
RELAY_MAX_INTERNAL_ERRORS times in all, then failed, and the line moves on), or fails at once when its delivery
window is over; a notice is counted and given up the same way. Before, loading raised ahead of every check,
nothing was counted, and the sweeper queued the line again every lease time, for ever."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from relay import tasks
from relay.models import Conversation, Message, SalesforceNotice
from tenants import config_cache
from tenants.models import ProviderAccount, SalesforceConnection
from tests.factories import make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(settings):
    settings.RELAY_MAX_INTERNAL_ERRORS = 2
    tenant = make_tenant()
    SalesforceConnection.objects.create(
        tenant=tenant, instance_url="https://example.my.salesforce.com", consumer_key="ck"
    )
    account = make_account(tenant)
    conversation = Conversation.objects.create(
        tenant=tenant, sender=make_sender(account), customer="+385919990300"
    )
    with connection.cursor() as cursor:  # the account's key, encrypted with a key that has since been retired
        cursor.execute(
            f"UPDATE {ProviderAccount._meta.db_table} SET api_key = %s WHERE id = %s",  # noqa: S608
            ["fernet:retired-key:gAAAA", account.pk],
        )
    config_cache.changed()
    return conversation


def customer_message(conversation, sequence: int, *, expires_in: timedelta) -> Message:
    return Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction="in",
        sequence=sequence,
        kind="text",
        text=f"message {sequence}",
        provider="infobip",
        provider_message_id=f"unreadable-{sequence}",
        expires_at=timezone.now() + expires_in,
    )


def test_a_message_whose_window_is_over_fails_at_once(conversation):
    message = customer_message(conversation, 1, expires_in=-timedelta(minutes=1))
    tasks.deliver_inbound(conversation.pk)
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.last_error == "not delivered within the tenant's delivery window"


def test_the_head_bears_it_as_an_internal_error_then_fails_and_the_line_moves_on(conversation):
    first = customer_message(conversation, 1, expires_in=timedelta(days=1))
    second = customer_message(conversation, 2, expires_in=timedelta(days=1))
    tasks.deliver_inbound(conversation.pk)
    first.refresh_from_db()
    assert (first.status, first.internal_errors) == (Message.Status.PENDING, 1)
    assert "DecryptionError" in first.last_error and "retired-key" in first.last_error
    for _ in range(3):  # the retries the backoff would run later, at once
        Message.objects.filter(status=Message.Status.PENDING).update(next_attempt_at=timezone.now())
        tasks.deliver_inbound(conversation.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Message.Status.FAILED and "gave up after 2 tries" in first.last_error
    assert second.internal_errors >= 1  # the line moved on: the next message is being tried
    assert Conversation.objects.get(pk=conversation.pk).inbound_lease_until is None  # the lease given back


def test_a_notice_is_counted_and_given_up(conversation):
    sent = Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction="out",
        sequence=1,
        kind="text",
        text="hi",
        status="sent",
        content={"entry_identifier": "e-1"},
        provider="infobip",
        provider_message_id="unreadable-out-1",
        expires_at=timezone.now() + timedelta(days=1),
    )
    notice = SalesforceNotice.objects.create(tenant=conversation.tenant, message=sent, kind="delivered")
    for _ in range(3):
        SalesforceNotice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now())
        tasks.notify_salesforce(sent.pk)
    notice.refresh_from_db()
    assert notice.status == SalesforceNotice.Status.FAILED
    assert notice.internal_errors == 2 and "DecryptionError" in notice.last_error
