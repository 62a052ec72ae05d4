"""The Cases desk against the sandbox's REST API and its Change Data Capture events, without a worker:
the Case created once (Contact matched or created, routing owner, field mapping), the transcript exactly once
(feed items or case comments, a lost answer adopted), status sync from CaseChangeEvent (texts, closing,
replays), the reopen window, replies from the panel, and a Salesforce outage."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from relay.desks.cases import CasesDesk, PanelReplyError, current_link, link_for_case, reply_from_panel
from relay.desks.cases_models import CaseEntry, CaseLink
from relay.desks.cases_transcript import sweep_transcripts
from relay.errors import ExternalError
from relay.models import Conversation, ListenerCursor, Message
from relay.salesforce.cursors import topic_name
from relay.salesforce.pubsub import is_complete
from tenants.models import RoutingRule, SalesforceConnection
from tests.factories import make_account, make_sender
from tests.relay.salesforce_support import (  # noqa: F401 - fixtures
    ORG_ID,
    create_sandbox_org,
    make_connected_tenant,
    salesforce_urls,
)

pytestmark = pytest.mark.django_db(transaction=True)
CUSTOMER = "+447700900123"
AGENT_NAME = "Ada Agent"


class Org:
    """The sandbox org as a test reads it (on the sandbox's loop)."""

    def __init__(self, sandbox) -> None:
        self.sandbox = sandbox

    def rows(self, sobject: str, **equals) -> list[dict]:
        org = self.sandbox.world.orgs.get(ORG_ID)
        return self.sandbox.call(lambda: [dict(r) for r in org.records.filter(sobject, **equals)])

    def id_of(self, sobject: str, **equals) -> str:
        [row] = self.rows(sobject, **equals)
        return row["Id"]

    def change_events(self) -> list[dict]:
        return self.sandbox.call(self.sandbox.world.pubsub.events, ORG_ID, "CaseChangeEvent")

    def agent_updates(self, case_id: str, **fields) -> None:
        """What an agent's save in the console does: the record changes (and its change event follows)."""
        org = self.sandbox.world.orgs.get(ORG_ID)
        values = dict(fields)
        if "Status" in fields:
            values["IsClosed"] = fields["Status"] == "Closed"
            # Now, not a fixed date: the reopen window counts from the close.
            closed = timezone.now().strftime("%Y-%m-%dT%H:%M:%S.000+0000")
            values["ClosedDate"] = closed if values["IsClosed"] else None
        self.sandbox.call(org.records.update, "Case", case_id, values)


@pytest.fixture
def org(sandbox, sim):
    create_sandbox_org(sim)
    sim.post(f"/__sim/orgs/{ORG_ID}/settings", json={"change_data_capture": ["Case"]})
    return Org(sandbox)


@pytest.fixture
def tenant(org, salesforce_urls):  # noqa: F811
    queue = org.id_of("Group", Name="Support")
    tenant = make_connected_tenant(
        salesforce_urls,
        desk=SalesforceConnection.Desk.CASES,
        case_default_queue_id=queue,
        case_origins={"whatsapp": "WhatsApp"},
        case_field_mapping={"Description": "Reached us on {channel} at {sender}"},
        case_status_texts={"Working": "An agent is looking at your request."},
    )
    tenant.closing_text = "Thanks, your case is closed."
    tenant.save()
    return tenant


@pytest.fixture
def conversation(tenant):
    sender = make_sender(make_account(tenant))
    return Conversation.objects.create(
        tenant=tenant, sender=sender, customer=CUSTOMER, customer_name="Jo Bloggs"
    )


def desk(tenant) -> CasesDesk:
    return CasesDesk(SalesforceConnection.objects.select_related("tenant").get(tenant=tenant))


def inbound(conversation: Conversation, text: str) -> Message:
    now = timezone.now()
    return Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction=Message.Direction.INBOUND,
        sequence=Message.objects.filter(conversation=conversation, direction="in").count() + 1,
        kind="text",
        text=text,
        content={"kind": "text", "text": text},
        provider="infobip",
        provider_message_id=f"in-{uuid.uuid4()}",
        expires_at=now + conversation.tenant.delivery_window,
    )


def deliver(tenant, conversation: Conversation, text: str) -> Message:
    message = inbound(conversation, text)
    desk(tenant).deliver(Message.objects.select_related("conversation__sender__account").get(pk=message.pk))
    return message


def replay_change_events(tenant, org: Org) -> None:
    for event in org.change_events():
        desk(tenant).receive(event)


def test_the_first_message_creates_the_case_and_every_message_goes_on_it_once(tenant, conversation, org):
    first = deliver(tenant, conversation, "My order 1234 isn't here")
    [case] = org.rows("Case")
    assert case["Subject"] == "WhatsApp: My order 1234 isn't here"
    assert case["Origin"] == "WhatsApp" and case["SuppliedPhone"] == CUSTOMER
    assert case["OwnerId"] == org.id_of("Group", Name="Support")  # no rule: the tenant's default queue
    assert case["Description"] == "Reached us on WhatsApp at +447860099299"
    [contact] = org.rows("Contact")  # none had the number: created from the channel's profile name
    assert (contact["FirstName"], contact["LastName"], contact["MobilePhone"]) == ("Jo", "Bloggs", CUSTOMER)
    assert case["ContactId"] == contact["Id"]
    link = CaseLink.objects.get()
    assert (link.case_id, link.case_number, link.contact_id) == (
        case["Id"],
        case["CaseNumber"],
        contact["Id"],
    )
    assert link_for_case(tenant.pk, case["Id"][:15]) == link

    desk(tenant).deliver(Message.objects.get(pk=first.pk))  # a retry of the same message
    deliver(tenant, conversation, "Any news?")
    feed = [row["Body"] for row in org.rows("FeedItem", ParentId=case["Id"])]
    assert feed == [
        "Customer Jo Bloggs (+447700900123) via WhatsApp:\nMy order 1234 isn't here",
        "Customer Jo Bloggs (+447700900123) via WhatsApp:\nAny news?",
    ]
    assert len(org.rows("Case")) == 1 and len(org.rows("Contact")) == 1
    assert Message.objects.get(pk=first.pk).status == Message.Status.DELIVERED


def test_a_known_number_finds_its_contact_and_a_rule_routes_the_case(tenant, conversation, org, sandbox):
    ids = sandbox.call(
        lambda: sandbox.world.orgs.get(ORG_ID).records.insert(
            "Contact", {"LastName": "Known", "Phone": CUSTOMER}
        )
    )
    queue = org.id_of("Group", Name="Support")
    agent = org.id_of("User", Username="ada@acme.test")
    rule = RoutingRule.objects.create(
        tenant=tenant, sender=conversation.sender, target_type=RoutingRule.Target.QUEUE, target_id=queue
    )
    deliver(tenant, conversation, "hello")
    [case] = org.rows("Case")
    assert case["ContactId"] == ids["Id"] and len(org.rows("Contact")) == 1
    assert case["OwnerId"] == queue

    # A sticky rule and a customer whose last Case an agent took: the next Case goes to that agent.
    rule.sticky_agent = True
    rule.save()
    org.agent_updates(case["Id"], OwnerId=agent)
    org.agent_updates(case["Id"], Status="Closed")
    replay_change_events(tenant, org)
    assert Conversation.objects.get(pk=conversation.pk).last_agent_id == agent
    deliver(tenant, conversation, "me again")
    newest = max(org.rows("Case"), key=lambda row: row["CaseNumber"])
    assert newest["Id"] != case["Id"] and newest["OwnerId"] == agent


def test_a_lost_answer_is_adopted_not_repeated(tenant, conversation, org, sandbox):
    """The Case and the feed item were made but their answers never reached us (a timeout): the retry finds
    them on the Case instead of making second ones."""
    message = inbound(conversation, "hello there")
    started = timezone.now()
    core = sandbox.world.orgs.get(ORG_ID)
    case = sandbox.call(
        core.records.insert,
        "Case",
        {"Subject": "WhatsApp: hello there", "SuppliedPhone": CUSTOMER, "Status": "New"},
    )
    link = CaseLink.objects.create(
        tenant=tenant, conversation=conversation, subject="WhatsApp: hello there", create_started_at=started
    )
    body = "Customer Jo Bloggs (+447700900123) via WhatsApp:\nhello there"
    item = sandbox.call(
        core.records.insert, "FeedItem", {"ParentId": case["Id"], "Body": body, "Type": "TextPost"}
    )
    CaseEntry.objects.create(tenant=tenant, message=message, case_link=link, started_at=started)

    desk(tenant).deliver(Message.objects.get(pk=message.pk))
    assert len(org.rows("Case")) == 1 and len(org.rows("FeedItem")) == 1
    assert CaseLink.objects.get().case_id == case["Id"]
    assert CaseEntry.objects.get().record_id == item["Id"]


def test_case_comments_when_the_admin_chose_them(tenant, conversation, org):
    SalesforceConnection.objects.filter(tenant=tenant).update(case_transcript="comment")
    deliver(tenant, conversation, "x" * 5000)  # longer than a comment takes: cut, never refused
    [comment] = org.rows("CaseComment")
    # 4,000 bytes, the comment body's limit ("…" is three of them)
    assert len(comment["CommentBody"].encode("utf-8")) == 4000 and comment["CommentBody"].endswith("…")
    assert comment["IsPublished"] is False and not org.rows("FeedItem")


def test_status_changes_reach_the_customer_once_and_closing_ends_the_conversation(tenant, conversation, org):
    deliver(tenant, conversation, "help")
    case_id = CaseLink.objects.get().case_id
    org.agent_updates(case_id, Status="Working")
    org.agent_updates(case_id, Status="Closed")
    for _ in range(2):  # a listener restart replays what it had not acknowledged: nothing happens twice
        replay_change_events(tenant, org)

    texts = list(
        Message.objects.filter(direction=Message.Direction.OUTBOUND)
        .order_by("sequence")
        .values_list("text", flat=True)
    )
    assert texts == ["An agent is looking at your request.", "Thanks, your case is closed."]
    link = CaseLink.objects.get()
    assert link.is_closed and link.status == "Closed" and link.closed_at is not None
    assert Conversation.objects.get(pk=conversation.pk).status == Conversation.Status.CLOSED
    # Both texts are on the Case's transcript too, once each.
    bodies = [row["Body"] for row in org.rows("FeedItem", ParentId=case_id)]
    assert bodies.count("Switchboard to the customer:\nThanks, your case is closed.") == 1


def test_a_customer_writing_after_the_close_reopens_within_the_window_else_a_new_case(
    tenant, conversation, org
):
    SalesforceConnection.objects.filter(tenant=tenant).update(case_reopen_hours=24)
    deliver(tenant, conversation, "first")
    first_case = CaseLink.objects.get().case_id
    org.agent_updates(first_case, Status="Closed")
    replay_change_events(tenant, org)

    deliver(tenant, conversation, "one more thing")
    [case] = org.rows("Case")
    assert case["Id"] == first_case and case["Status"] == "New" and case["IsClosed"] is False
    link = current_link(conversation)
    assert link.case_id == first_case and not link.is_closed and link.reopened_count == 1

    org.agent_updates(first_case, Status="Closed")
    replay_change_events(tenant, org)
    CaseLink.objects.filter(pk=link.pk).update(closed_at=timezone.now() - timedelta(hours=25))
    deliver(tenant, conversation, "and again")
    assert len(org.rows("Case")) == 2
    assert current_link(conversation).case_id != first_case
    assert CaseLink.objects.filter(conversation=conversation).count() == 2


def test_a_reply_from_the_panel_is_sent_and_written_on_the_case(tenant, conversation, org):
    deliver(tenant, conversation, "hi")
    agent = org.id_of("User", Username="ada@acme.test")
    message = reply_from_panel(
        conversation, agent, "On its way!", choices=["Thanks", "Where is it?"], user_name=AGENT_NAME
    )
    assert message.direction == Message.Direction.OUTBOUND and message.kind == "choices"
    assert [b["title"] for b in message.content["buttons"]] == ["Thanks", "Where is it?"]
    assert message.content["agent"] == {"id": agent, "name": AGENT_NAME}
    assert Conversation.objects.get(pk=conversation.pk).last_agent_id == agent
    entry = CaseEntry.objects.get(message=message)  # written by the task (eager in tests) after commit
    assert entry.written_at is not None
    [row] = org.rows("FeedItem", Id=entry.record_id)
    assert row["Body"] == "Agent Ada Agent:\nOn its way!\n• Thanks\n• Where is it?"


@pytest.mark.parametrize(
    ("user", "text", "kwargs", "says"),
    [
        ("not-an-id", "hi", {}, "not a Salesforce user"),
        ("00G000000000001", "hi", {}, "not a Salesforce user"),  # a queue's id
        (None, "   ", {}, "Write a reply"),
        (None, "x" * 4097, {}, "at most 4096"),
        (None, "pick", {"choices": ["x" * 81]}, "Quick replies"),
        (None, "pick", {"choices": [str(n) for n in range(11)]}, "Quick replies"),
        (None, "", {"attachment": {"media_url": "file:///etc/passwd"}}, "no link"),
    ],
)
def test_a_reply_the_panel_cannot_send_stores_nothing(tenant, conversation, org, user, text, kwargs, says):
    CaseLink.objects.create(tenant=tenant, conversation=conversation, case_id="5008d0000000001AAA")
    agent = user or org.id_of("User", Username="ada@acme.test")
    with pytest.raises(PanelReplyError, match=says):
        reply_from_panel(conversation, agent, text, **kwargs)
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_a_salesforce_outage_delays_and_loses_nothing(tenant, conversation, org, sim):
    fault = sim.post("/__sim/faults", json={"service": "core", "path": "sobjects", "outage": True}).json()[
        "id"
    ]
    message = inbound(conversation, "are you there?")
    with pytest.raises(ExternalError) as raised:
        desk(tenant).deliver(Message.objects.get(pk=message.pk))
    assert not raised.value.permanent and not org.rows("Case")
    sim.delete(f"/__sim/faults/{fault}")
    desk(tenant).deliver(Message.objects.get(pk=message.pk))
    assert len(org.rows("Case")) == 1 and len(org.rows("FeedItem")) == 1

    # An agent's reply while Salesforce is away: sent to the customer now, on the Case once it is back.
    fault = sim.post("/__sim/faults", json={"service": "core", "path": "sobjects", "outage": True}).json()[
        "id"
    ]
    reply = reply_from_panel(conversation, org.id_of("User", Username="ada@acme.test"), "Yes!")
    entry = CaseEntry.objects.get(message=reply)
    assert entry.written_at is None and entry.attempts == 1 and entry.next_attempt_at is not None
    sim.delete(f"/__sim/faults/{fault}")
    CaseEntry.objects.filter(pk=entry.pk).update(next_attempt_at=timezone.now())
    assert sweep_transcripts() == 1
    entry.refresh_from_db()
    assert entry.written_at is not None and len(org.rows("FeedItem")) == 2


def test_the_listener_subscribes_a_cases_tenant_to_the_case_change_events(tenant):
    """No platform event is needed: the desk names its topic, and the cursor starts when the connection is saved."""
    connection = SalesforceConnection.objects.get(tenant=tenant)
    connection.platform_event = ""
    connection.save()
    assert topic_name(connection) == "/data/CaseChangeEvent" and is_complete(connection)
    cursor = ListenerCursor.objects.get(tenant=tenant)
    assert cursor.topic == "/data/CaseChangeEvent" and cursor.deliver_since is not None


def test_a_gap_event_reads_the_case_again(tenant, conversation, org, sandbox):
    """A gap event has no field values: the desk reads the Case and applies what it finds, once."""
    deliver(tenant, conversation, "help")
    case_id = CaseLink.objects.get().case_id
    core = sandbox.world.orgs.get(ORG_ID)
    sandbox.call(setattr, core, "change_events", set())  # the change itself produced no event
    org.agent_updates(case_id, Status="Closed")
    gap = {
        "ChangeEventHeader": {
            "entityName": "Case",
            "recordIds": [case_id],
            "changeType": "GAP_UPDATE",
            "transactionKey": "gap-1",
            "sequenceNumber": 1,
            "commitTimestamp": 1_790_000_000_000,
        }
    }
    for _ in range(2):
        desk(tenant).receive(gap)
    assert CaseLink.objects.get().is_closed
    closing = Message.objects.filter(
        direction=Message.Direction.OUTBOUND, text="Thanks, your case is closed."
    )
    assert closing.count() == 1


def test_a_reply_before_the_conversation_has_a_case_is_refused(tenant, conversation, org):
    with pytest.raises(PanelReplyError, match="no Case yet"):
        reply_from_panel(conversation, org.id_of("User", Username="ada@acme.test"), "hello")
    assert not Message.objects.exists()


PARCEL = {"body": {"text": "Hi {{1}}, your parcel is at the depot."}, "buttons": []}
PHONE = "+385919998888"  # a number WhatsApp templates accept (the one above is a drama number)


@pytest.fixture
def whatsapp_conversation(tenant):
    sender = make_sender(make_account(tenant))
    return Conversation.objects.create(
        tenant=tenant, sender=sender, customer=PHONE, customer_name="Jo Bloggs"
    )


def a_template(conversation: Conversation):
    from tenants.models import WhatsAppTemplate

    return WhatsAppTemplate.objects.create(
        tenant=conversation.tenant, sender=conversation.sender, provider_id="t1", name="parcel_ready",
        language="en", status="APPROVED", structure=PARCEL, fetched_at=timezone.now(),
    )  # fmt: skip


def test_a_template_sent_into_the_conversation_goes_on_its_case_once_as_the_customer_reads_it(
    tenant, whatsapp_conversation, org
):
    conversation = whatsapp_conversation
    from relay.outbound.template_send import send_template

    deliver(tenant, conversation, "where is my parcel?")
    link = current_link(conversation)
    a_template(conversation)
    agent = org.id_of("User", Username="ada@acme.test")

    def from_the_panel():  # the template panel opened from the Case panel names the Case (15 characters here)
        return send_template(
            tenant, conversation.sender, PHONE, "parcel_ready", "en", {"body_1": "Jo"},
            idempotency_key="panel:k1", agent={"id": agent, "name": AGENT_NAME},
            messaging_session_id=link.case_id[:15], source="template_panel",
        )  # fmt: skip

    message = from_the_panel()
    assert from_the_panel().pk == message.pk  # a double click: one message, one entry
    entry = CaseEntry.objects.get(message=message)
    assert entry.case_link == link and entry.written_at is not None
    api = send_template(tenant, conversation.sender, PHONE, "parcel_ready", "en", {"body_1": "Sam"})
    deliver(tenant, conversation, "thanks!")
    bodies = [row["Body"] for row in org.rows("FeedItem", ParentId=link.case_id)]
    assert bodies == [
        "Customer Jo Bloggs (+385919998888) via WhatsApp:\nwhere is my parcel?",
        "Agent Ada Agent:\n[WhatsApp template parcel_ready]\nHi Jo, your parcel is at the depot.",
        "Switchboard to the customer:\n[WhatsApp template parcel_ready]\nHi Sam, your parcel is at the depot.",
        "Customer Jo Bloggs (+385919998888) via WhatsApp:\nthanks!",
    ]
    assert CaseEntry.objects.filter(message__kind="template").count() == 2
    assert CaseEntry.objects.get(message=api).case_link == link  # no Case named: the open one


def test_a_template_goes_on_the_case_it_was_sent_from_else_the_last_one_and_not_before_a_case(
    tenant, whatsapp_conversation, org
):
    conversation = whatsapp_conversation
    from relay.outbound.template_send import send_template

    a_template(conversation)
    before = send_template(tenant, conversation.sender, PHONE, "parcel_ready", "en", {"body_1": "Jo"})
    assert not CaseEntry.objects.filter(message=before).exists()  # no Case yet: nothing to write on
    deliver(tenant, conversation, "hi")
    old = current_link(conversation)
    CaseLink.objects.filter(pk=old.pk).update(is_closed=True, closed_at=timezone.now())
    newer = CaseLink.objects.create(tenant=tenant, conversation=conversation, case_id="5008d0000000001AAA")
    named = send_template(tenant, conversation.sender, PHONE, "parcel_ready", "en", {"body_1": "A"},
                          messaging_session_id=old.case_id)  # fmt: skip
    assert CaseEntry.objects.get(message=named).case_link_id == old.pk
    elsewhere = send_template(tenant, conversation.sender, PHONE, "parcel_ready", "en", {"body_1": "B"},
                              messaging_session_id="0Mw8d000000AbCdEFG")  # fmt: skip
    assert CaseEntry.objects.get(message=elsewhere).case_link_id == newer.pk
    CaseLink.objects.filter(pk=newer.pk).update(is_closed=True, closed_at=timezone.now())
    closed = send_template(tenant, conversation.sender, PHONE, "parcel_ready", "en", {"body_1": "C"})
    assert CaseEntry.objects.get(message=closed).case_link_id == newer.pk  # all closed: the last Case


# --- what the review of 2026-12-06 found: records of one message adopted by another, comment bytes -----------


def test_two_conversations_of_one_customer_with_the_same_first_words_get_two_cases(tenant, conversation, org):
    """The customer writes "Hi" to two of the tenant's numbers within minutes: two conversations, two Cases. The
    look for a Case a lost answer left behind found the first conversation's, and the second's message failed."""
    other = Conversation.objects.create(
        tenant=tenant,
        sender=make_sender(make_account(tenant), address="+447860011111"),
        customer=conversation.customer,
        customer_name="Jo Bloggs",
    )
    deliver(tenant, conversation, "Hi")
    deliver(tenant, other, "Hi")
    assert len(org.rows("Case")) == 2
    assert (
        CaseLink.objects.get(conversation=conversation).case_id
        != CaseLink.objects.get(conversation=other).case_id
    )


def test_a_retried_write_does_not_take_the_post_of_the_same_words_sent_before(tenant, conversation, org, sim):
    """The customer sends "ok" twice and Salesforce is away for the second post: the retry writes its own post
    instead of taking the first one's (which failed every retry until the message failed)."""
    deliver(tenant, conversation, "ok")
    fault = sim.post("/__sim/faults", json={"service": "core", "path": "sobjects", "outage": True}).json()[
        "id"
    ]
    second = inbound(conversation, "ok")
    with pytest.raises(ExternalError) as raised:
        desk(tenant).deliver(
            Message.objects.select_related("conversation__sender__account").get(pk=second.pk)
        )
    assert not raised.value.permanent
    sim.delete(f"/__sim/faults/{fault}")
    desk(tenant).deliver(Message.objects.select_related("conversation__sender__account").get(pk=second.pk))
    link = CaseLink.objects.get()
    assert len(org.rows("FeedItem", ParentId=link.case_id)) == 2
    assert len(set(CaseEntry.objects.values_list("record_id", flat=True))) == 2


def test_an_agent_s_same_reply_twice_is_two_posts(tenant, conversation, org, sim):
    deliver(tenant, conversation, "hello")
    agent = org.id_of("User", Username="ada@acme.test")
    reply_from_panel(conversation, agent, "Thanks")
    fault = sim.post("/__sim/faults", json={"service": "core", "path": "sobjects", "outage": True}).json()[
        "id"
    ]
    second = reply_from_panel(conversation, agent, "Thanks")
    sim.delete(f"/__sim/faults/{fault}")
    CaseEntry.objects.filter(message=second).update(next_attempt_at=timezone.now())
    sweep_transcripts()
    link = CaseLink.objects.get()
    posts = [p["Body"] for p in org.rows("FeedItem", ParentId=link.case_id)]
    assert len(posts) == 3 and [p.endswith("\nThanks") for p in posts].count(True) == 2


def test_a_case_comment_stays_within_its_4000_bytes(tenant, conversation, org):
    """CaseComment.CommentBody: "The maximum size of the comment body is 4,000 bytes." 3,990 accented characters
    are 7,980 bytes: cut to the bytes, the message is delivered (STRING_TOO_LONG failed it for good)."""
    SalesforceConnection.objects.filter(tenant=tenant).update(case_transcript="comment")
    message = deliver(tenant, conversation, "é" * 3990)
    [comment] = org.rows("CaseComment")
    body = comment["CommentBody"].encode("utf-8")
    assert 3990 < len(body) <= 4000 and comment["CommentBody"].endswith("…")
    assert Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED
