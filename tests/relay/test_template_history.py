"""The template-history import's row on the delivery engine (relay/outbound/template_history.py): written in
the transaction that stores the message, claimed by one worker at a time, re-queued by the sweep when its task
was lost, and a task queued before rows existed adopted with the tries it already made. (Backoff and the
bound, against the sandbox: tests/relay/test_delivery_engine.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from relay import tasks
from relay.models import Conversation, DeliveryAttempt, Message, TemplateHistoryImport
from relay.outbound import template_history
from tests.factories import make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def template_message():
    tenant = make_tenant()  # no Salesforce connection: a try that gets as far as Salesforce is skipped
    conversation = Conversation.objects.create(
        tenant=tenant, sender=make_sender(make_account(tenant)), customer="+385919990000"
    )
    return Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        direction="out",
        sequence=1,
        kind="template",
        text="Your parcel is at the depot.",
        content={"kind": "template", "messaging_session_id": "0Mw000000000001", "agent": {"id": "005x"}},
        expires_at=timezone.now() + timedelta(days=1),
    )


@pytest.fixture
def queued(monkeypatch):
    """The messages whose import task goes to the broker (the broker itself is not under test here)."""
    calls: list[int] = []
    monkeypatch.setattr(template_history.record_in_salesforce, "delay", calls.append)
    return calls


def lost(message, **changes):
    """The row as a lost task leaves it: pending, due, untouched for longer than the sweep's head start."""
    ago = timezone.now() - timedelta(seconds=template_history.SWEEP_HEAD_START_SECONDS + 1)
    TemplateHistoryImport.objects.update_or_create(
        message=message,
        defaults={"tenant": message.tenant, "next_attempt_at": ago, **changes},
    )
    TemplateHistoryImport.objects.filter(message=message).update(updated_at=ago)


def test_the_row_is_written_with_the_message_and_its_task_queued_only_after_commit(
    template_message, queued, django_capture_on_commit_callbacks
):
    with pytest.raises(RuntimeError), transaction.atomic():
        template_history.queue(template_message)
        raise RuntimeError("the message's transaction fails")
    assert not TemplateHistoryImport.objects.exists() and queued == []

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        template_history.queue(template_message)
        assert queued == []  # not before the row is visible to a worker
    row = TemplateHistoryImport.objects.get(message=template_message)
    assert (row.status, row.attempts, row.tenant_id) == ("pending", 0, template_message.tenant_id)
    assert queued == [template_message.pk]


def test_the_sweep_requeues_a_lost_import_once_per_head_start(template_message, queued):
    lost(template_message)
    assert tasks.sweep()["template_history"] == 1
    assert tasks.sweep()["template_history"] == 0  # its task is waiting in the broker: no second one
    assert queued == [template_message.pk]

    lost(template_message)  # the head start is over and nothing ran it
    assert tasks.sweep()["template_history"] == 1
    assert queued == [template_message.pk, template_message.pk]


@pytest.mark.parametrize(
    ("changes", "swept"),
    [
        ({"next_attempt_at": timezone.now() + timedelta(hours=1)}, 0),  # backing off: not due
        ({"claimed_until": timezone.now() + timedelta(hours=1)}, 0),  # a worker is on it
        ({"claimed_until": timezone.now() - timedelta(seconds=1)}, 1),  # that worker died
        ({"status": "failed"}, 0),
        ({"status": "recorded"}, 0),
    ],
    ids=["not-due", "claimed", "claim-run-out", "failed", "recorded"],
)
def test_the_sweep_takes_only_a_pending_due_unclaimed_import(template_message, queued, changes, swept):
    lost(template_message, **changes)
    assert tasks.sweep()["template_history"] == swept
    assert len(queued) == swept


def test_a_claimed_import_is_not_tried_by_a_second_worker(template_message):
    lost(template_message, claimed_until=timezone.now() + timedelta(seconds=60))
    assert template_history.import_history(template_message.pk) == ("taken by another worker", None)
    assert not DeliveryAttempt.objects.exists()
    assert TemplateHistoryImport.objects.get(message=template_message).status == "pending"


def test_an_import_not_due_yet_is_not_tried_and_says_when(template_message):
    later = timezone.now() + timedelta(seconds=30)
    lost(template_message, next_attempt_at=later)
    assert template_history.import_history(template_message.pk) == ("not due yet", later)
    assert not DeliveryAttempt.objects.exists()


def test_a_task_queued_before_rows_existed_is_adopted_with_its_tries(template_message):
    for _ in range(2):
        DeliveryAttempt.objects.create(
            tenant=template_message.tenant,
            message=template_message,
            target="salesforce",
            action=template_history.HISTORY_ACTION,
            outcome="transient",
        )
    outcome, due = template_history.import_history(template_message.pk)
    row = TemplateHistoryImport.objects.get(message=template_message)
    # Adopted with its two tries; this tenant has no Messaging desk, so the import ends there.
    assert (outcome, due) == ("no Messaging desk", None)
    assert (row.status, row.attempts, row.claimed_until) == ("skipped", 2, None)
    assert template_history.import_history(template_message.pk) == ("done before (skipped)", None)


def test_a_message_that_is_no_template_of_an_agent_has_nothing_to_import(template_message):
    Message.objects.filter(pk=template_message.pk).update(content={"kind": "text"})
    assert template_history.import_history(template_message.pk) == ("nothing to import", None)
    assert not TemplateHistoryImport.objects.exists()
