"""Change Data Capture events of Case the Cases desk must not trip over (Change Data Capture Developer Guide,
"ChangeEventHeader Fields" and "Other Types of Change Events: Gap and Overflow Events"): an old Case of the
conversation reopened while a newer one is open, an undeleted Case, and an overflow event (no record ids)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from relay.desks.cases import current_link
from relay.desks.cases_models import CaseEntry, CaseLink
from relay.desks.cases_transcript import sweep_transcripts
from relay.models import Conversation, Message
from tests.relay.salesforce_support import (  # noqa: F401 - fixtures
    ORG_ID,
    create_sandbox_org,
    make_connected_tenant,
    salesforce_urls,
)
from tests.relay.test_cases_desk import (  # noqa: F401 - the Cases desk's sandbox fixtures, shared
    conversation,
    deliver,
    desk,
    org,
    replay_change_events,
    tenant,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _two_cases(tenant, conversation, org):  # noqa: F811
    """The conversation's first Case closed, and a newer one open (the customer wrote after the close)."""
    deliver(tenant, conversation, "first")
    old = CaseLink.objects.get()
    org.agent_updates(old.case_id, Status="Closed")
    replay_change_events(tenant, org)
    CaseLink.objects.filter(pk=old.pk).update(closed_at=timezone.now() - timedelta(days=2))
    deliver(tenant, conversation, "second")
    new = current_link(conversation)
    assert new.case_id != old.case_id and not new.is_closed
    return old, new


def test_an_old_case_reopened_while_a_newer_one_is_open_blocks_nothing(tenant, conversation, org):  # noqa: F811
    """An agent sets an old, closed Case of the conversation back to New (its UPDATE event: IsClosed false)
    while the conversation is on a newer open Case. A conversation has one open Case: reopening the old
    link broke that constraint, so the event failed until the listener set it aside (with whatever else it
    carried). Now the old link takes the status and stays closed; the conversation stays on its open Case."""
    old, new = _two_cases(tenant, conversation, org)
    org.agent_updates(old.case_id, Status="New")
    replay_change_events(tenant, org)

    old.refresh_from_db()
    assert old.is_closed and old.status == "New"
    assert current_link(conversation).pk == new.pk
    deliver(tenant, conversation, "third")
    assert org.rows("FeedItem", ParentId=new.case_id)[-1]["Body"].endswith("third")


def _event(change_type: str, record_ids: list[str], key: str, **body) -> dict:
    """A CaseChangeEvent as decoded from Pub/Sub: the header, and the body's fields (None when empty)."""
    header = {
        "entityName": "Case",
        "recordIds": record_ids,
        "changeType": change_type,
        "transactionKey": key,
        "sequenceNumber": 1,
        "commitTimestamp": int(timezone.now().timestamp() * 1000),
    }
    return {"ChangeEventHeader": header, "Status": None, "OwnerId": None, "IsClosed": None, **body}


def test_a_gap_undelete_event_does_not_close_the_conversation(tenant, conversation, org):  # noqa: F811
    """GAP_UNDELETE ends in "DELETE" but brings a Case back: it was taken for a deletion, so a restored Case
    closed its link, sent the customer the closing text and ended the conversation."""
    deliver(tenant, conversation, "help")
    link = CaseLink.objects.get()
    for _ in range(2):
        desk(tenant).receive(_event("GAP_UNDELETE", [link.case_id], "gap-undelete-1"))
    link.refresh_from_db()
    assert not link.is_closed
    assert Conversation.objects.get(pk=conversation.pk).status != Conversation.Status.CLOSED
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_an_undeleted_case_is_open_again_and_takes_what_waited_for_it(tenant, conversation, org, sandbox):  # noqa: F811
    """A Case deleted (its DELETE event closed the link; the closing text's entry waits for a Case) and then
    restored from the Recycle Bin: its UNDELETE event carries the record's fields. It was ignored, so the
    link stayed closed: the panel refused replies on an open Case. Now the link opens again, and the entry
    that waited is written on the restored Case."""
    deliver(tenant, conversation, "help")
    link = CaseLink.objects.get()
    core = sandbox.world.orgs.get(ORG_ID)
    [row] = org.rows("Case", Id=link.case_id)
    sandbox.call(core.records.delete, "Case", link.case_id)
    replay_change_events(tenant, org)
    link.refresh_from_db()
    assert link.is_closed
    closing = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert CaseEntry.objects.get(message=closing).written_at is None  # waits: the Case is gone

    sandbox.call(
        core.records.insert, "Case", {k: v for k, v in row.items() if k != "Id"}, record_id=row["Id"]
    )
    undelete = _event(
        "UNDELETE", [link.case_id], "undelete-1", Status=row["Status"], OwnerId=row["OwnerId"], IsClosed=False
    )
    desk(tenant).receive(undelete)
    link.refresh_from_db()
    assert not link.is_closed
    assert sweep_transcripts() == 1
    entry = CaseEntry.objects.get(message=closing)
    assert entry.written_at is not None and entry.case_link_id == link.pk
    assert org.rows("FeedItem", ParentId=link.case_id)[-1]["Body"].endswith("Thanks, your case is closed.")


def test_an_overflow_event_reads_the_open_cases_again(tenant, conversation, org, sandbox):  # noqa: F811
    """An overflow event (GAP_OVERFLOW: a transaction of more than 100,000 changes) names no record: a mass
    close beyond the threshold reached us as that one event, which was ignored, so the conversation stayed on
    a Case closed in Salesforce. Now the open Cases are read again and applied."""
    deliver(tenant, conversation, "help")
    link = CaseLink.objects.get()
    core = sandbox.world.orgs.get(ORG_ID)
    sandbox.call(setattr, core, "change_events", set())  # the change reached us only as the overflow event
    org.agent_updates(link.case_id, Status="Closed")
    overflow = _event("GAP_OVERFLOW", [], "overflow-1")
    for _ in range(2):
        desk(tenant).receive(overflow)
    link.refresh_from_db()
    assert link.is_closed and link.status == "Closed"
    closing = Message.objects.filter(
        direction=Message.Direction.OUTBOUND, text="Thanks, your case is closed."
    )
    assert closing.count() == 1
