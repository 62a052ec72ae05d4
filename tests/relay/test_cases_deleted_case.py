"""A Case deleted in Salesforce (its Change Data Capture DELETE event closes the link) cannot be reopened: the
customer's next message within the reopen window opens a new Case instead of failing, so it is not lost."""

from __future__ import annotations

import httpx
import pytest

from relay import http
from relay.desks.cases import current_link, reply_from_panel
from relay.desks.cases_models import CaseEntry, CaseLink
from relay.desks.cases_transcript import WAITS_FOR_NEXT_CASE, queue_entry, sweep_transcripts
from relay.errors import ExternalError
from relay.models import Message
from relay.outbound.record import queue_outbound
from tenants.models import SalesforceConnection
from tests.relay.salesforce_support import (  # noqa: F401 - fixtures
    ORG_ID,
    create_sandbox_org,
    make_connected_tenant,
    salesforce_urls,
)
from tests.relay.test_cases_desk import (  # noqa: F401 - the Cases desk's sandbox fixtures, shared
    conversation,
    deliver,
    org,
    replay_change_events,
    tenant,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_message_after_the_case_was_deleted_opens_a_new_case(tenant, conversation, org):  # noqa: F811
    SalesforceConnection.objects.filter(tenant=tenant).update(case_reopen_hours=24)
    deliver(tenant, conversation, "first")
    deleted = CaseLink.objects.get().case_id
    org.sandbox.call(org.sandbox.world.orgs.get(ORG_ID).records.delete, "Case", deleted)  # deleted in Setup
    replay_change_events(tenant, org)
    assert CaseLink.objects.get(case_id=deleted).is_closed

    message = deliver(tenant, conversation, "are you there?")
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED, (message.status, message.last_error)
    link = current_link(conversation)
    assert link.case_id and link.case_id != deleted and not link.is_closed
    [case] = org.rows("Case")
    assert case["Id"] == link.case_id


def test_a_case_deleted_without_its_change_event_takes_no_message_down_with_it(tenant, conversation, org):  # noqa: F811
    """The DELETE change event never came (deleted beyond the 72-hour replay window, or before Change Data
    Capture covered Case): the link still says open. Salesforce refuses a record whose lookup names a deleted
    record (StatusCode ENTITY_IS_DELETED, "entity is deleted", for one in the Recycle Bin; an id it no longer
    knows: INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY, which the sandbox answers). The message goes on a new
    Case instead of failing, and so does every later one: before, each failed for good."""
    deliver(tenant, conversation, "first")
    deleted = CaseLink.objects.get().case_id
    org.sandbox.call(org.sandbox.world.orgs.get(ORG_ID).records.delete, "Case", deleted)  # no event replayed

    for text in ("are you there?", "hello?"):
        message = deliver(tenant, conversation, text)
        message.refresh_from_db()
        assert message.status == Message.Status.DELIVERED, (message.status, message.last_error)
    old = CaseLink.objects.get(case_id=deleted)
    assert old.is_closed
    link = current_link(conversation)
    assert link.case_id and link.case_id != deleted and not link.is_closed
    [case] = org.rows("Case")
    assert case["Id"] == link.case_id
    posts = org.rows("FeedItem", ParentId=link.case_id)
    assert sorted(p["Body"].rsplit("\n", 1)[-1] for p in posts) == ["are you there?", "hello?"]
    assert {
        e.case_link_id for e in CaseEntry.objects.filter(message__text__in=["are you there?", "hello?"])
    } == {link.pk}


def test_a_case_the_write_is_refused_on_but_still_there_is_not_replaced(
    tenant,  # noqa: F811
    conversation,  # noqa: F811
    org,  # noqa: F811
    monkeypatch,
):
    """The same refusal on a Case a query still finds (say a trigger that names ENTITY_IS_DELETED for a
    record of its own) is the refusal it is: no second Case, the link stays open."""
    deliver(tenant, conversation, "first")
    case_id = CaseLink.objects.get().case_id
    real = http.request

    def salesforce(system, method, url, **kwargs):  # Salesforce's answer to the FeedItem insert, nothing else
        if method == "POST" and url.endswith("/sobjects/FeedItem"):
            body = [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}]
            return httpx.Response(400, json=body, request=httpx.Request(method, url))
        return real(system, method, url, **kwargs)

    monkeypatch.setattr(http, "request", salesforce)
    with pytest.raises(ExternalError) as refused:
        deliver(tenant, conversation, "second")
    assert refused.value.code == "ENTITY_IS_DELETED" and refused.value.permanent
    assert [row["Id"] for row in org.rows("Case")] == [case_id]
    assert not CaseLink.objects.get(case_id=case_id).is_closed


def _bodies(sandbox_org, case_id: str) -> list[str]:
    """The Case's feed posts, oldest first (the order Salesforce shows them in)."""
    return [row["Body"] for row in sandbox_org.rows("FeedItem", ParentId=case_id)]


def test_an_agent_reply_refused_on_a_deleted_case_goes_on_the_next_case_in_order(tenant, conversation, org):  # noqa: F811
    """A reply's transcript entry written on a Case deleted without its change event: Salesforce refuses the
    post (ENTITY_IS_DELETED / INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY). It was given up for good, so the
    agent's message vanished from the record; now it waits and goes on the conversation's next Case, before
    the customer's message that opened it."""
    deliver(tenant, conversation, "first")
    deleted = CaseLink.objects.get().case_id
    org.sandbox.call(org.sandbox.world.orgs.get(ORG_ID).records.delete, "Case", deleted)  # no event replayed
    agent = org.id_of("User", Username="ada@acme.test")
    reply = reply_from_panel(conversation, agent, "On its way!", user_name="Ada Agent")

    entry = CaseEntry.objects.get(message=reply)  # the task ran (eager) and was refused
    assert entry.written_at is None and entry.next_attempt_at is None
    assert CaseLink.objects.get(case_id=deleted).is_closed
    assert sweep_transcripts() == 0  # waits for a Case, not retried against the deleted one

    message = deliver(tenant, conversation, "thanks")
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED, (message.status, message.last_error)
    link = current_link(conversation)
    assert link.case_id != deleted
    assert _bodies(org, link.case_id) == [
        "Agent Ada Agent:\nOn its way!",
        "Customer Jo Bloggs (+447700900123) via WhatsApp:\nthanks",
    ]
    entry.refresh_from_db()
    assert entry.case_link_id == link.pk and entry.written_at is not None and entry.last_error == ""


def test_the_closing_text_of_a_case_deleted_with_its_event_goes_on_the_next_case(tenant, conversation, org):  # noqa: F811
    """The DELETE change event closes the link and sends the closing text, whose transcript entry names the
    deleted Case: refused, it now waits for the next Case instead of being dropped."""
    deliver(tenant, conversation, "first")
    deleted = CaseLink.objects.get().case_id
    org.sandbox.call(org.sandbox.world.orgs.get(ORG_ID).records.delete, "Case", deleted)
    replay_change_events(tenant, org)
    closing = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert closing.text == "Thanks, your case is closed."
    assert CaseEntry.objects.get(message=closing).written_at is None

    deliver(tenant, conversation, "hello again")
    link = current_link(conversation)
    assert link.case_id != deleted
    assert _bodies(org, link.case_id) == [
        "Switchboard to the customer:\nThanks, your case is closed.",
        "Customer Jo Bloggs (+447700900123) via WhatsApp:\nhello again",
    ]


def test_entries_pending_on_a_deleted_case_move_with_the_customer_message(tenant, conversation, org, sim):  # noqa: F811
    """Replies whose entries were still pending (Salesforce was away) when the Case was deleted go on the new
    Case the customer's next message opens, oldest first and before that message."""
    deliver(tenant, conversation, "first")
    deleted = CaseLink.objects.get().case_id
    agent = org.id_of("User", Username="ada@acme.test")
    fault = sim.post("/__sim/faults", json={"service": "core", "path": "sobjects", "outage": True}).json()[
        "id"
    ]
    replies = [reply_from_panel(conversation, agent, text, user_name="Ada") for text in ("one", "two")]
    sim.delete(f"/__sim/faults/{fault}")
    assert all(CaseEntry.objects.get(message=r).next_attempt_at is not None for r in replies)
    org.sandbox.call(org.sandbox.world.orgs.get(ORG_ID).records.delete, "Case", deleted)

    deliver(tenant, conversation, "still there?")
    link = current_link(conversation)
    assert link.case_id != deleted
    assert _bodies(org, link.case_id) == [
        "Agent Ada:\none",
        "Agent Ada:\ntwo",
        "Customer Jo Bloggs (+447700900123) via WhatsApp:\nstill there?",
    ]
    assert sweep_transcripts() == 0


def test_an_entry_for_a_deleted_case_goes_on_the_open_one(tenant, conversation, org):  # noqa: F811
    """An entry written for an old Case that has since been deleted while the conversation is on a new open
    Case (a template sent from the panel on the old Case page) goes on the open Case."""
    deliver(tenant, conversation, "first")
    old = CaseLink.objects.get()
    org.agent_updates(old.case_id, Status="Closed")
    replay_change_events(tenant, org)
    deliver(tenant, conversation, "second")  # no reopen window: a new Case
    link = current_link(conversation)
    assert link.case_id != old.case_id
    org.sandbox.call(org.sandbox.world.orgs.get(ORG_ID).records.delete, "Case", old.case_id)

    message = queue_outbound(conversation, {"kind": "text", "text": "A late word", "system": "test"})
    queue_entry(message, old)
    entry = CaseEntry.objects.get(message=message)
    assert entry.case_link_id == link.pk and entry.written_at is not None
    assert _bodies(org, link.case_id)[-1] == "Switchboard to the customer:\nA late word"


def test_an_entry_left_waiting_beside_an_open_case_is_taken_by_the_sweep(tenant, conversation, org):  # noqa: F811
    """An entry refused on a deleted Case just as the customer's message opened the new one (which found
    nothing waiting yet) waits beside an open Case: the sweep moves it there and writes it."""
    deliver(tenant, conversation, "first")
    deleted = CaseLink.objects.get().case_id
    org.sandbox.call(org.sandbox.world.orgs.get(ORG_ID).records.delete, "Case", deleted)
    deliver(tenant, conversation, "second")  # the new Case
    link = current_link(conversation)
    message = queue_outbound(conversation, {"kind": "text", "text": "Late", "system": "test"})
    CaseEntry.objects.create(  # refused on the deleted Case and, in the race, left waiting
        tenant=tenant,
        message=message,
        case_link=CaseLink.objects.get(case_id=deleted),
        last_error=f"{WAITS_FOR_NEXT_CASE} (ENTITY_IS_DELETED).",
    )
    assert sweep_transcripts() == 1
    entry = CaseEntry.objects.get(message=message)
    assert entry.written_at is not None and entry.case_link_id == link.pk
    assert _bodies(org, link.case_id).count("Switchboard to the customer:\nLate") == 1
