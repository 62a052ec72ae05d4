"""One delivery engine (relay/lines/engine.py) for the four kinds of work Switchboard delivers with retries:
a conversation's messages, Salesforce notices, partner webhooks and the template-history import.

For each kind, against the sandbox with the other side failing (a fault switch, or a partner endpoint that
answers 503): every try is recorded as an attempt row, the next try backs off (0.5 s, then 1 s ... ±25 %,
tests/settings.py's base) and nothing is tried before it is due, and the work fails after its bound. The
bound is the kind's own: a message's delivery window, a partner webhook's and the history import's number
of tries, and for a notice (which Salesforce must hear, so a transient outage has no count bound) its
internal errors, ``RELAY_MAX_INTERNAL_ERRORS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from portal.api import webhooks
from portal.api.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from relay.inbound import deliver as inbound
from relay.lines import pipeline
from relay.models import DeliveryAttempt, Message, SalesforceNotice, TemplateHistoryImport
from relay.outbound import notices, template_history
from tests.factories import make_tenant

from .test_internal_errors import BASE, BOUND, add_message, agent_reply, delivered_notice
from .test_internal_errors import demo as wired_demo  # noqa: F401 - a fixture, used by its name

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Kind:
    name: str
    fault: dict | None  # the sandbox fault that fails every try transiently (None: the kind fails on its own)
    setup: object  # demo -> the item (a Message, or a WebhookDelivery)
    run: object  # (demo, item) -> when the engine says to try again (None: done or given up)
    row: object  # item -> (status, next retry time or None) as stored
    tries: object  # item -> the outcomes of the recorded attempts, oldest first
    make_due: object  # item -> None: the stored retry time moves to now
    to_the_bound: object  # (demo, item) -> None: what takes the item to its bound
    failed: str


# --- a conversation's message: to Salesforce, until the tenant's delivery window ends ------------------------


def line_setup(demo):
    return add_message(demo, "in", kind="text", text="Into a Salesforce outage")


def line_run(demo, message):
    return pipeline.run(demo.conversation.pk, Message.Direction.INBOUND, inbound.deliver, inbound.on_failed)


def line_row(message):
    message = Message.objects.get(pk=message.pk)
    return message.status, message.next_attempt_at


def message_tries(message, action=None):
    attempts = DeliveryAttempt.objects.filter(message=message).exclude(action="conversationHistory")
    if action:
        attempts = DeliveryAttempt.objects.filter(message=message, action=action)
    return list(attempts.order_by("id").values_list("outcome", flat=True))


def line_to_the_bound(demo, message):
    Message.objects.filter(pk=message.pk).update(expires_at=timezone.now(), next_attempt_at=timezone.now())
    line_run(demo, message)
    assert "delivery window" in Message.objects.get(pk=message.pk).last_error


# --- a Salesforce notice: retried through any outage; an error of ours fails it after the bound ---------------


def notice_setup(demo):
    message = agent_reply(demo, "Delivered, and Salesforce must hear it", status=Message.Status.DELIVERED)
    delivered_notice(demo, message)
    return message


def notice_row(message):
    notice = SalesforceNotice.objects.get(message=message)
    return notice.status, notice.next_attempt_at


def notice_to_the_bound(demo, message):
    Message.objects.filter(pk=message.pk).update(content={"kind": "text"})  # damaged: an error of ours
    for _ in range(BOUND):
        SalesforceNotice.objects.filter(message=message).update(next_attempt_at=timezone.now())
        notices.notify(message.pk)
    notice = SalesforceNotice.objects.get(message=message)
    assert (notice.internal_errors, f"after {BOUND} tries" in notice.last_error) == (BOUND, True)


# --- a partner webhook: 12 tries ------------------------------------------------------------------------------


def partner_setup(demo):
    subscription = WebhookSubscription(
        tenant=demo.tenant, url=f"{demo.sandbox_url}/__sim/infobip/sink/engine?status=503"
    )
    subscription.rotate_secret()
    subscription.save()
    return WebhookDelivery.objects.create(
        subscription=subscription,
        tenant=demo.tenant,
        event="ping",
        payload={"type": "ping"},
        next_attempt_at=timezone.now(),
    )


def partner_row(delivery):
    delivery = WebhookDelivery.objects.get(pk=delivery.pk)
    return delivery.status, delivery.next_attempt_at


def partner_tries(delivery):
    return ["transient" if a.error else "ok" for a in WebhookAttempt.objects.filter(delivery=delivery)]


def partner_to_the_bound(demo, delivery):
    while WebhookDelivery.objects.get(pk=delivery.pk).status == WebhookDelivery.Status.PENDING:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        webhooks.deliver(delivery.pk)
    assert len(partner_tries(delivery)) == webhooks.MAX_ATTEMPTS


# --- the template-history import: 6 tries --------------------------------------------------------------------


def history_setup(demo):
    return add_message(
        demo,
        "out",
        kind="template",
        text="Your parcel is at the depot.",
        content={
            "kind": "template",
            "messaging_session_id": demo.session["id"],
            "agent": {"id": "005000000000001", "name": "Ada Agent"},
        },
        status=Message.Status.SENT,
    )


def history_run(demo, message):
    return template_history.import_history(message.pk)[1]


def history_row(message):
    row = TemplateHistoryImport.objects.get(message=message)
    return row.status, row.next_attempt_at if row.status == "pending" else None


def history_make_due(message):
    TemplateHistoryImport.objects.filter(message=message).update(next_attempt_at=timezone.now())


def history_to_the_bound(demo, message):
    while TemplateHistoryImport.objects.get(message=message).status == "pending":
        history_make_due(message)
        history_run(demo, message)
    assert len(message_tries(message, "conversationHistory")) == template_history.HISTORY_MAX_ATTEMPTS


KINDS = [
    Kind(
        name="message-line",
        fault={"service": "scrt", "path": "/interactions", "status": 503, "outage": True},
        setup=line_setup,
        run=line_run,
        row=line_row,
        tries=message_tries,
        make_due=lambda m: Message.objects.filter(pk=m.pk).update(next_attempt_at=timezone.now()),
        to_the_bound=line_to_the_bound,
        failed=Message.Status.FAILED,
    ),
    Kind(
        name="salesforce-notice",
        fault={"service": "scrt", "path": "/acknowledgement", "status": 503, "outage": True},
        setup=notice_setup,
        run=lambda demo, message: notices.notify(message.pk),
        row=notice_row,
        tries=message_tries,
        make_due=lambda m: SalesforceNotice.objects.filter(message=m).update(next_attempt_at=timezone.now()),
        to_the_bound=notice_to_the_bound,
        failed=SalesforceNotice.Status.FAILED,
    ),
    Kind(
        name="partner-webhook",
        fault=None,  # the endpoint answers 503
        setup=partner_setup,
        run=lambda demo, delivery: webhooks.deliver(delivery.pk),
        row=partner_row,
        tries=partner_tries,
        make_due=lambda d: WebhookDelivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now()),
        to_the_bound=partner_to_the_bound,
        failed=WebhookDelivery.Status.FAILED,
    ),
    Kind(
        name="template-history",
        fault={"service": "scrt", "path": "/conversationHistory", "status": 503, "outage": True},
        setup=history_setup,
        run=history_run,
        row=history_row,
        tries=lambda m: message_tries(m, "conversationHistory"),
        make_due=history_make_due,
        to_the_bound=history_to_the_bound,
        failed="failed",
    ),
]


@pytest.fixture
def failing(wired_demo, sandbox):  # noqa: F811 - the fixture imported above
    demo = wired_demo
    demo.sandbox_url = sandbox.base_url
    faults = []

    def switch_on(fault):
        if fault:
            faults.append(demo.sim.post("/__sim/faults", json=fault).json()["id"])

    yield demo, switch_on
    for fault_id in faults:
        demo.sim.delete(f"/__sim/faults/{fault_id}")


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_each_kind_records_its_attempts_backs_off_and_fails_after_its_bound(failing, kind):
    demo, switch_on = failing
    item = kind.setup(demo)
    switch_on(kind.fault)
    delays = []
    for number in (1, 2):
        before = timezone.now()
        due = kind.run(demo, item)
        after = timezone.now()
        assert kind.tries(item) == ["transient"] * number  # every try is an attempt row
        status, stored = kind.row(item)
        assert status == "pending" and due is not None
        assert stored in (None, due)  # what the sweep reads is what the engine said
        low, high = 0.75 * BASE * 2 ** (number - 1), 1.25 * BASE * 2 ** (number - 1)
        assert before + timedelta(seconds=low) <= due <= after + timedelta(seconds=high)
        delays.append(due - after)
        if stored is not None:
            kind.run(demo, item)  # not due yet: nothing is tried
            assert len(kind.tries(item)) == number
            kind.make_due(item)
    assert delays[0] < delays[1]  # backing off

    kind.to_the_bound(demo, item)
    assert kind.row(item)[0] == kind.failed
    tried = len(kind.tries(item))
    kind.make_due(item)
    assert kind.run(demo, item) is None
    assert len(kind.tries(item)) == tried  # given up: nothing more is tried


def test_a_partner_webhook_failing_on_an_error_of_ours_gives_up_after_the_internal_bound(settings):
    """A subscription secret that no longer decrypts (a key rotation gone wrong) is Switchboard's own error:
    recorded as an attempt, backed off like a message's, and failed after RELAY_MAX_INTERNAL_ERRORS tries
    instead of being picked up by every sweep forever."""
    settings.RELAY_MAX_INTERNAL_ERRORS = BOUND
    subscription = WebhookSubscription(tenant=make_tenant(), url="https://hooks.example.com/switchboard")
    subscription.rotate_secret()
    subscription.save()
    with connection.cursor() as cursor:  # the stored value itself, past the field's encryption
        cursor.execute(
            "UPDATE partner_api_webhooksubscription SET secret = %s WHERE id = %s",
            ["fernet:retired-key:gAAAA", subscription.pk],
        )
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, event="ping", payload={"type": "ping"}, next_attempt_at=timezone.now()
    )
    before = timezone.now()
    due = webhooks.deliver(delivery.pk)
    assert before + timedelta(seconds=0.75 * BASE) <= due <= timezone.now() + timedelta(seconds=1.25 * BASE)
    for _ in range(BOUND - 1):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        webhooks.deliver(delivery.pk)
    delivery.refresh_from_db()
    errors = list(WebhookAttempt.objects.filter(delivery=delivery).values_list("error", flat=True))
    assert (delivery.status, delivery.attempts, len(errors)) == ("failed", BOUND, BOUND)
    assert all(e.startswith("internal error: DecryptionError") for e in errors)
    assert "gAAAA" not in delivery.last_error
