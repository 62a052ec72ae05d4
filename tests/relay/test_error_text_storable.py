"""What the other side says when it refuses (and what an exception says) is stored on the message and its
attempt: a NUL byte or half a surrogate pair in it - PostgreSQL stores neither - must not make that write
fail. If it did, the bookkeeping of a failure would itself fail, outside the bound of
RELAY_MAX_INTERNAL_ERRORS: the message stays pending and every later try fails the same way.

Salesforce's error ``message`` is taken as sent, Infobip's goes through ``http.short_text`` (which drops
control characters, not surrogates), and an exception's text can quote anything. Run on SQLite and on
PostgreSQL (DATABASE_URL); only PostgreSQL refuses these characters.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from relay.errors import ExternalError
from relay.lines import pipeline
from relay.lines.attempts import attempt
from relay.models import Conversation, DeliveryAttempt, Message
from tests.factories import make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db(transaction=True)

TEXTS = {
    "NUL": ("refused\x00 it", "refused it"),
    "lone surrogate": ("refused \ud800 it", "refused \ufffd it"),
    "NUL and surrogate pair halves": ("a\x00\ud83d\ude00b\udfff", "a\U0001f600b\ufffd"),
}


@pytest.fixture
def conversation():
    tenant = make_tenant()
    return Conversation.objects.create(
        tenant=tenant, sender=make_sender(make_account(tenant)), customer="+385919990300"
    )


def add(conversation, sequence):
    return Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction="out",
        sequence=sequence,
        kind="text",
        text=f"message {sequence}",
        content={},
        provider="infobip",
        provider_message_id=f"storable-{sequence}",
        expires_at=timezone.now() + timedelta(days=1),
        next_attempt_at=timezone.now(),
    )


def raising(error: Exception, *, recorded: bool):
    """A delivery step that fails with ``error`` on message 1 (inside a recorded attempt, as the providers'
    and desks' calls are, or outside one) and succeeds on the others."""

    def deliver(message: Message) -> None:
        if message.sequence != 1:
            Message.objects.filter(pk=message.pk).update(status=Message.Status.SENT)
            return
        if recorded:
            with attempt(message, target="infobip", action="send"):
                raise error
        raise error

    return deliver


def told(message, reason, error):
    pass


@pytest.mark.parametrize("recorded", [True, False], ids=["inside-an-attempt", "outside-an-attempt"])
@pytest.mark.parametrize("case", TEXTS, ids=list(TEXTS))
def test_a_permanent_refusal_fails_the_message_with_the_text_stored_and_the_line_moves_on(
    conversation, case, recorded
):
    said, stored = TEXTS[case]
    first, second = add(conversation, 1), add(conversation, 2)
    error = ExternalError(f"Salesforce refused the send: {said}", permanent=True, status=400, code="x\x00")
    pipeline.run(conversation.pk, "out", raising(error, recorded=recorded), told)

    first.refresh_from_db()
    assert first.status == Message.Status.FAILED and first.internal_errors == 0
    assert stored in first.last_error
    if recorded:
        logged = DeliveryAttempt.objects.get(message=first)
        assert logged.outcome == DeliveryAttempt.Outcome.PERMANENT and stored in logged.error
    second.refresh_from_db()
    assert second.status == Message.Status.SENT


@pytest.mark.parametrize("recorded", [True, False], ids=["inside-an-attempt", "outside-an-attempt"])
@pytest.mark.parametrize("case", TEXTS, ids=list(TEXTS))
def test_a_transient_failure_is_retried_as_the_other_side_s_not_counted_as_ours(conversation, case, recorded):
    said, stored = TEXTS[case]
    first = add(conversation, 1)
    error = ExternalError(f"Infobip is down: {said}", permanent=False, status=503)
    due = pipeline.run(conversation.pk, "out", raising(error, recorded=recorded), told)

    first.refresh_from_db()
    assert due is not None and first.status == Message.Status.PENDING
    assert first.attempts == 1 and first.internal_errors == 0 and stored in first.last_error
    if recorded:
        assert DeliveryAttempt.objects.get(message=first).outcome == DeliveryAttempt.Outcome.TRANSIENT


@pytest.mark.parametrize("case", TEXTS, ids=list(TEXTS))
def test_an_exception_quoting_such_text_is_an_internal_error_within_the_bound(conversation, case, settings):
    settings.RELAY_MAX_INTERNAL_ERRORS = 1
    said, stored = TEXTS[case]
    first, second = add(conversation, 1), add(conversation, 2)
    pipeline.run(conversation.pk, "out", raising(ValueError(f"cannot read {said}"), recorded=False), told)

    first.refresh_from_db()
    assert first.status == Message.Status.FAILED and first.internal_errors == 1
    assert stored in first.last_error
    assert stored in DeliveryAttempt.objects.get(message=first).error
    second.refresh_from_db()
    assert second.status == Message.Status.SENT
