"""No content holds a line forever: an exception that is not the other side's (a bug of ours, a stored row
we cannot handle) is recorded, retried with backoff RELAY_MAX_INTERNAL_ERRORS times, then the message (or
notice) fails with the reason, the other side is told, and what comes after it goes through.

Parametrized over where it is raised: the desk delivering an inbound message (before any call), the
provider sending an outbound message (inside the recorded call), and a Salesforce notice. Everything runs
against the sandbox (Salesforce and Infobip); the tasks run in this process, and instead of waiting for a
retry to fall due, the test moves the retry time into the past.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.cache import cache as django_cache
from django.utils import timezone

from portal.demo import ensure_demo_tenant, register_certificate_with_sandbox
from relay import tasks
from relay.models import Conversation, DeliveryAttempt, Message, SalesforceNotice, next_sequence
from relay.salesforce.auth import cache_key
from tenants.models import Sender
from tests.e2e.conftest import (
    DEMO_FIXTURE,
    agent_id,
    console_sessions,
    entry_texts,
    phone_received,
    session_entries,
)

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = "+385919990101"
BOUND = 3  # RELAY_MAX_INTERNAL_ERRORS in these tests
BASE = 0.5  # tests/settings.py: RELAY_RETRY_BASE_SECONDS


@pytest.fixture
def demo(sandbox, sim, settings):
    """The demo tenant wired to the sandbox, and a WhatsApp conversation whose customer wrote just now,
    already known to Salesforce, with an agent who has accepted it."""
    settings.RELAY_MAX_INTERNAL_ERRORS = BOUND
    sandbox.call(sandbox.world.load_fixture, DEMO_FIXTURE)
    tenant = ensure_demo_tenant(sandbox.base_url)
    register_certificate_with_sandbox(tenant, sandbox.base_url)
    django_cache.delete(cache_key(tenant.salesforce))  # a token of an earlier test's sandbox is stale
    sender = Sender.objects.get(tenant=tenant, channel="whatsapp")
    conversation = Conversation.objects.create(
        tenant=tenant, sender=sender, customer=CUSTOMER, last_inbound_at=timezone.now()
    )
    demo = SimpleNamespace(sim=sim, tenant=tenant, org_id=tenant.org_id, conversation=conversation)
    hello = add_message(demo, "in", kind="text", text="Hello")
    tasks.deliver_inbound(conversation.pk)
    assert Message.objects.get(pk=hello.pk).status == Message.Status.DELIVERED
    demo.session = console_sessions(sim, demo.org_id)[0]
    demo.ada = agent_id(sim, demo.org_id)
    accepted = sim.post(
        f"/__sim/console/api/orgs/{demo.org_id}/sessions/{demo.session['id']}/accept",
        json={"agent": demo.ada},
    )
    assert accepted.status_code == 200, accepted.text
    return demo


def add_message(demo, direction: str, *, kind: str, text: str = "", content: dict | None = None, **fields):
    """A stored row, as the webhook or the listener would have written it (or a damaged one)."""
    conversation = demo.conversation
    return Message.objects.create(
        tenant=demo.tenant,
        conversation=conversation,
        direction=direction,
        sequence=next_sequence(conversation.pk, direction),
        kind=kind,
        text=text,
        content={"kind": kind, "text": text} if content is None else content,
        provider="infobip",
        provider_message_id=f"{direction}-{Message.objects.count() + 1}",
        expires_at=timezone.now() + timedelta(days=1),
        next_attempt_at=timezone.now() if direction == "out" else None,
        **fields,
    )


def agent_entry(demo, text: str) -> str:
    """The agent answers in the console: the conversation entry an outbound row stands for."""
    response = demo.sim.post(
        f"/__sim/console/api/orgs/{demo.org_id}/sessions/{demo.session['id']}/reply",
        json={"agent": demo.ada, "text": text},
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    return entry.get("identifier") or entry["id"]


def agent_reply(demo, text: str, **fields):
    """An agent's text reply: its console entry in Salesforce and the outbound row that stands for it."""
    entry = agent_entry(demo, text)
    content = {"kind": "text", "text": text, "entry_identifier": entry}
    return add_message(
        demo, "out", kind="text", text=text, content=content, salesforce_entry_id=entry, **fields
    )


def delivered_notice(demo, message) -> SalesforceNotice:
    return SalesforceNotice.objects.create(
        tenant=demo.tenant, message=message, kind=SalesforceNotice.Kind.DELIVERED
    )


def console_list(demo, what: str) -> list[dict]:
    response = demo.sim.get(f"/__sim/console/api/orgs/{demo.org_id}/{what}")
    assert response.status_code == 200, response.text
    body = response.json()
    return body[what.replace("-", "_")] if isinstance(body, dict) else body


@dataclass
class Case:
    """Where the exception comes from, and what the line and the other side look like afterwards."""

    name: str
    exception: str  # the exception's type, as the attempt records it
    target: str  # the attempt row's target
    action: str  # the attempt row's action
    setup: object  # demo -> (poison row, row behind it); the poison's state lives on ``row`` below
    run: object  # (demo, poison, behind) -> None: the task a worker would run
    row: object  # poison -> the model row whose status, retry time and error are checked
    failed: str  # the row's failed status
    told: object  # (demo, poison, reason) -> None: the other side heard of the failure
    next_went: object  # (demo, behind) -> None: what was queued behind it went through


# --- inbound: the desk cannot handle the stored row (raised before any call to Salesforce) -------------------


def inbound_setup(demo):
    # A chatbot transcript row whose handover is gone: the desk's handover importer cannot find it.
    poison = add_message(demo, "in", kind="history", content={"kind": "history", "handover": 987654321})
    behind = add_message(demo, "in", kind="text", text="Second, after the broken one")
    return poison, behind


def inbound_told(demo, poison, reason):
    assert demo.tenant.no_agent_text in [
        m["content"].get("text") for m in phone_received(demo.sim, "385919990101")
    ]


def inbound_next_went(demo, behind):
    assert Message.objects.get(pk=behind.pk).status == Message.Status.DELIVERED
    texts = entry_texts(session_entries(demo.sim, demo.org_id, demo.session["id"]))
    assert texts[-1] == "Second, after the broken one"


# --- outbound: the provider adapter trips over the stored content (raised inside the recorded call) ----------


def outbound_setup(demo):
    # Buttons whose title is a number: the Infobip payload builder measures the title and raises TypeError.
    entry = agent_entry(demo, "Pick one")
    poison = add_message(
        demo,
        "out",
        kind="choices",
        text="Pick one",
        content={
            "kind": "choices",
            "text": "Pick one",
            "buttons": [{"title": 7, "payload": "seven"}],
            "entry_identifier": entry,
        },
        salesforce_entry_id=entry,
    )
    return poison, agent_reply(demo, "The good reply")


def outbound_told(demo, poison, reason):
    notice = SalesforceNotice.objects.get(message=poison, kind=SalesforceNotice.Kind.FAILED)
    assert notice.reason == reason and notice.status == SalesforceNotice.Status.DONE
    failures = console_list(demo, "delivery-failures")
    assert poison.salesforce_entry_id in str(failures)  # the agent sees MessageDeliveryFailed on that entry


def outbound_next_went(demo, behind):
    assert Message.objects.get(pk=behind.pk).status == Message.Status.SENT
    texts = [m["content"].get("text") for m in phone_received(demo.sim, "385919990101")]
    assert "The good reply" in texts and "Pick one" not in texts


# --- a Salesforce notice: the message it reports on lost its entry identifier --------------------------------


def notice_setup(demo):
    poison = add_message(demo, "out", kind="text", text="Sent, then damaged", status=Message.Status.SENT)
    behind = agent_reply(demo, "Sent fine", status=Message.Status.SENT)
    for message in (poison, behind):
        delivered_notice(demo, message)
    return poison, behind


def notice_row(poison):
    return SalesforceNotice.objects.get(message=poison)


def notice_told(demo, poison, reason):
    pass  # the notice was the telling: Salesforce cannot be told that telling it failed


def notice_next_went(demo, behind):
    tasks.notify_salesforce(behind.pk)
    assert notice_row(behind).status == SalesforceNotice.Status.DONE
    assert behind.salesforce_entry_id in str(console_list(demo, "acknowledgements"))


CASES = [
    Case(
        name="inbound-desk",
        exception="DoesNotExist: Handover matching query does not exist.",
        target="salesforce",
        action="deliver",
        setup=inbound_setup,
        run=lambda demo, poison, behind: tasks.deliver_inbound(demo.conversation.pk),
        row=lambda poison: Message.objects.get(pk=poison.pk),
        failed=Message.Status.FAILED,
        told=inbound_told,
        next_went=inbound_next_went,
    ),
    Case(
        name="outbound-provider-send",
        exception="TypeError: object of type 'int' has no len()",
        target="infobip",
        action="send",
        setup=outbound_setup,
        run=lambda demo, poison, behind: tasks.deliver_outbound(demo.conversation.pk),
        row=lambda poison: Message.objects.get(pk=poison.pk),
        failed=Message.Status.FAILED,
        told=outbound_told,
        next_went=outbound_next_went,
    ),
    Case(
        name="salesforce-notice",
        exception="KeyError: 'entry_identifier'",
        target="salesforce",
        action="acknowledgement_delivered",
        setup=notice_setup,
        run=lambda demo, poison, behind: tasks.notify_salesforce(poison.pk),
        row=notice_row,
        failed=SalesforceNotice.Status.FAILED,
        told=notice_told,
        next_went=notice_next_went,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_an_unexpected_exception_fails_the_row_after_the_bound_and_the_line_moves_on(demo, case):
    poison, behind = case.setup(demo)
    delays = []
    for attempt_number in range(1, BOUND + 1):
        before = timezone.now()
        case.run(demo, poison, behind)
        after = timezone.now()
        row = case.row(poison)
        assert row.internal_errors == attempt_number
        assert case.exception in row.last_error
        if attempt_number < BOUND:
            assert row.status == "pending"
            # Backoff: 0.5 s, 1 s, 2 s ... ±25 %, counted from the try.
            low, high = 0.75 * BASE * 2 ** (attempt_number - 1), 1.25 * BASE * 2 ** (attempt_number - 1)
            assert before + timedelta(seconds=low) <= row.next_attempt_at <= after + timedelta(seconds=high)
            delays.append(row.next_attempt_at - after)
            case.run(demo, poison, behind)  # not due yet: nothing is tried
            assert case.row(poison).internal_errors == attempt_number
            type(row).objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())  # the retry falls due
    assert delays == sorted(delays)

    row = case.row(poison)
    assert row.status == case.failed
    assert case.exception in row.last_error and f"after {BOUND} tries" in row.last_error
    internal = list(DeliveryAttempt.objects.filter(message=poison, outcome="internal").order_by("created_at"))
    assert [(a.target, a.action) for a in internal] == [(case.target, case.action)] * BOUND
    assert all(a.error.startswith("internal error: ") and case.exception in a.error for a in internal)
    case.told(demo, poison, row.last_error)
    case.next_went(demo, behind)


def test_the_recorded_error_is_redacted_and_capped(demo):
    """An exception's message can carry anything (a header, a key): the attempt and the row get it redacted
    and at most a few hundred characters long."""
    from relay.lines.attempts import INTERNAL_ERROR_MAX_CHARS, describe_internal_error

    text = describe_internal_error(
        ValueError("Authorization: Bearer abcdefghijklmnop0123456789 " + "x" * 5000)
    )
    assert "abcdefghijklmnop0123456789" not in text and "[redacted]" in text
    assert len(text) <= INTERNAL_ERROR_MAX_CHARS + len("internal error: ")
    assert text.startswith("internal error: ValueError: ")
