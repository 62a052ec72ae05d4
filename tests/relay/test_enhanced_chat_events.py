"""The Enhanced Chat desk's parts that need no Salesforce: reading the event stream's format, recording what the
events say (once, whatever is repeated or hostile), the pre-chat fields from routing rules, the file limits."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from relay.desks.enhanced_chat import file_problem, prechat
from relay.desks.enhanced_chat_api import EventParser, refusal, token_expiry
from relay.desks.enhanced_chat_events import record_event, seen
from relay.desks.enhanced_chat_models import EnhancedChatPrechatField, EnhancedChatSession
from relay.models import Conversation, Message
from tenants.models import RoutingRule, SalesforceConnection
from tests.factories import make_account, make_sender, make_tenant

CONVERSATION = "5f8c2a4e-1b7d-4c3e-9a61-0d2e8f7b6c5a"


def parse(text: str) -> list:
    parser, events = EventParser(max_event_chars=64), []
    for line in text.splitlines(keepends=True):
        event = parser.feed(line)
        if event is not None:
            events.append(event)
    return events


def test_the_stream_format_ids_events_multiline_data_comments_and_crlf():
    events = parse(
        ": keep-alive\r\n"
        'id: 7\r\nevent: CONVERSATION_MESSAGE\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
        "event: ping\ndata: {}\n\n"
        "data: no event name\n\n"
    )
    assert [(e.id, e.event, e.data) for e in events] == [
        ("7", "CONVERSATION_MESSAGE", '{"a":\n1}'),
        ("7", "ping", "{}"),  # an event without an id keeps the last one (the standard's lastEventId)
        ("7", "message", "no event name"),
    ]


def test_an_oversized_event_is_dropped_whole_and_the_next_one_is_read():
    events = parse(f"id: 1\ndata: {'x' * 100}\n\nid: 2\ndata: small\n\n")
    assert [(e.id, e.data) for e in events] == [("2", "small")]


def _jwt(payload: dict) -> str:
    part = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{part}.c2ln"


def test_token_expiry_is_read_from_the_jwt_and_nothing_else_is_guessed():
    assert token_expiry(_jwt({"exp": 1_900_000_000})) == datetime.fromtimestamp(1_900_000_000, tz=UTC)
    assert token_expiry(_jwt({"exp": "soon"})) is None
    assert token_expiry(_jwt({"exp": 10**20})) is None
    assert token_expiry("opaque-token") is None
    assert token_expiry("a.%%%.c") is None


def test_a_429_is_transient_says_it_is_held_back_and_keeps_retry_after():
    import httpx

    response = httpx.Response(
        429, json={"message": "Too many messages", "code": 429}, headers={"Retry-After": "7"}
    )
    error = refusal(response, "conversation")
    assert not error.permanent and error.retry_after == 7.0 and error.code == "RATE_LIMITED"
    assert str(error).startswith("Held back by Salesforce's rate limit (conversation: Too many messages)")
    assert refusal(httpx.Response(400, text="<html>secret</html>"), "conversation").permanent
    assert "secret" not in str(refusal(httpx.Response(400, text="<html>secret</html>"), "conversation"))


def test_an_event_id_is_seen_when_it_is_a_recent_one_whatever_its_order():
    assert seen(["10"], "10") and seen(["a", "b"], "a")
    assert not seen(["10"], "9") and not seen(["10"], "11") and not seen([], "1") and not seen(["10"], "")


def test_file_limits():
    assert file_problem("image/jpeg", 1000) is None
    assert file_problem("application/vnd.openxmlformats-officedocument.wordprocessingml.document", 10) is None
    assert "5 MB" in file_problem("image/png", 6 * 1024 * 1024)
    assert "no application/zip" in file_problem("application/zip", 10)
    assert "empty" in file_problem("image/png", 0)


# --- recording ----------------------------------------------------------------------------------------------


@pytest.fixture
def session(db):
    tenant = make_tenant("Chatty", closing_text="Thanks, bye!")
    SalesforceConnection.objects.create(
        tenant=tenant,
        desk=SalesforceConnection.Desk.ENHANCED_CHAT,
        instance_url="https://chatty.my.salesforce.com",
        es_developer_name="Switchboard_Chat",
    )
    sender = make_sender(make_account(tenant))
    conversation = Conversation.objects.create(tenant=tenant, sender=sender, customer="+447700900123")
    return EnhancedChatSession.objects.create(
        tenant=tenant,
        conversation=conversation,
        status=EnhancedChatSession.Status.OPEN,
        conversation_uuid=CONVERSATION,
        access_token="t0ken",
        last_event_id="0",
    )


def message_event(
    identifier: str, text: str, *, role: str = "Agent", conversation: str = CONVERSATION
) -> str:
    payload = {
        "entryType": "Message",
        "id": identifier,
        "abstractMessage": {
            "messageType": "StaticContentMessage",
            "id": identifier,
            "staticContent": {"formatType": "Text", "text": text},
        },
    }
    return json.dumps(
        {
            "conversationId": conversation,
            "conversationEntry": {
                "identifier": identifier,
                "entryType": "Message",
                "senderDisplayName": "Ada Agent",
                "sender": {"role": role, "subject": "005000000000001", "appType": "agent"},
                "entryPayload": json.dumps(payload),  # the stream sends it as a JSON string
            },
        }
    )


def outbound_texts(session) -> list[str]:
    return list(
        Message.objects.filter(conversation=session.conversation, direction=Message.Direction.OUTBOUND)
        .order_by("sequence")
        .values_list("text", flat=True)
    )


def test_agent_messages_are_recorded_once_echoes_skipped_and_the_place_kept(session):
    record_event(session.pk, "1", "CONVERSATION_MESSAGE", message_event("e-1", "hello", role="EndUser"))
    record_event(session.pk, "2", "CONVERSATION_MESSAGE", message_event("e-2", "How can I help?"))
    record_event(session.pk, "2", "CONVERSATION_MESSAGE", message_event("e-2", "How can I help?"))  # resumed
    record_event(session.pk, "5", "CONVERSATION_MESSAGE", message_event("e-2", "How can I help?"))  # new id
    record_event(session.pk, "6", "CONVERSATION_MESSAGE", message_event("e-6", "not ours", conversation="x"))
    assert outbound_texts(session) == ["How can I help?"]
    session.refresh_from_db()
    assert session.last_event_id == "6"
    message = Message.objects.get(conversation=session.conversation, direction=Message.Direction.OUTBOUND)
    assert message.content["agent"] == {"id": "005000000000001", "name": "Ada Agent"}
    assert message.content["entry_identifier"] == "e-2"


def test_the_agent_joining_makes_the_next_conversation_sticky(session):
    payload = {
        "entryType": "ParticipantChanged",
        "entries": [
            {"operation": "add", "displayName": "Ada", "participant": {"role": "Agent", "subject": "005AAA"}}
        ],
    }
    data = {"conversationId": CONVERSATION, "conversationEntry": {"entryPayload": json.dumps(payload)}}
    record_event(session.pk, "3", "CONVERSATION_PARTICIPANT_CHANGED", json.dumps(data))
    session.conversation.refresh_from_db()
    assert session.conversation.last_agent_id == "005AAA"
    assert session.conversation.session_status == "Active"


def session_status_event(status: str, identifier: str = "s-1", *, conversation: str = CONVERSATION) -> str:
    """CONVERSATION_SESSION_STATUS_CHANGED as the stream sends it: the envelope of every event, entryType
    SessionStatusChanged, the entryPayload (a JSON string) with the session's new status."""
    payload = {
        "entryType": "SessionStatusChanged",
        "id": identifier,
        "sessionId": "0Mw000000000001AAA",
        "sessionStatus": status,
        "sessionStatusPrev": "Active" if status == "Ended" else "Waiting",
        "sessionEndedByRole": "Agent",
    }
    return json.dumps(
        {
            "channelPlatformKey": "v2/iamessage/UNAUTH/NA/uid:0c0b8bc5",
            "channelType": "embedded_messaging",
            "conversationId": conversation,
            "conversationEntry": {
                "identifier": identifier,
                "entryType": "SessionStatusChanged",
                "senderDisplayName": "Ada Agent",
                "sender": {"role": "Agent", "subject": "005000000000001", "appType": "agent"},
                "entryPayload": json.dumps(payload),
            },
        }
    )


def close_event() -> str:
    return json.dumps(
        {"conversationId": CONVERSATION, "conversationEntry": {"entryType": "ConversationClosed"}}
    )


def test_close_ends_the_session_and_sends_the_closing_text_once(session):
    record_event(session.pk, "4", "CONVERSATION_CLOSE_CONVERSATION", close_event())
    record_event(session.pk, "4", "CONVERSATION_CLOSE_CONVERSATION", close_event())
    record_event(session.pk, "", "CONVERSATION_CLOSE_CONVERSATION", close_event())
    session.refresh_from_db()
    assert session.status == EnhancedChatSession.Status.CLOSED
    assert outbound_texts(session) == ["Thanks, bye!"]


def test_an_agent_ending_the_session_ends_ours_with_the_closing_text_once(session):
    """Salesforce sends no CONVERSATION_CLOSE_CONVERSATION when an agent ends the session: the session's
    status Ended is the end. A replay (same event id, or the same entry under a new id) and a CLOSE after it
    change nothing again."""
    record_event(
        session.pk, "3", "CONVERSATION_SESSION_STATUS_CHANGED", session_status_event("Active", "s-0")
    )
    session.refresh_from_db()
    assert session.status == EnhancedChatSession.Status.OPEN and outbound_texts(session) == []
    ended = session_status_event("Ended")
    record_event(session.pk, "4", "CONVERSATION_SESSION_STATUS_CHANGED", ended)
    session.refresh_from_db()
    assert session.status == EnhancedChatSession.Status.CLOSED and session.end_reason == "session ended"
    first_end = session.ended_at
    record_event(session.pk, "4", "CONVERSATION_SESSION_STATUS_CHANGED", ended)  # the same event again
    record_event(session.pk, "7", "CONVERSATION_SESSION_STATUS_CHANGED", ended)  # same entry, new id
    record_event(session.pk, "", "CONVERSATION_SESSION_STATUS_CHANGED", ended)
    record_event(session.pk, "8", "CONVERSATION_CLOSE_CONVERSATION", close_event())
    session.refresh_from_db()
    assert outbound_texts(session) == ["Thanks, bye!"]
    assert session.ended_at == first_end and session.end_reason == "session ended"
    assert session.last_event_id == "8"
    session.conversation.refresh_from_db()
    assert session.conversation.session_status == "Ended"


def test_a_closing_text_is_queued_once_even_for_two_rows_of_one_conversation_id(session):
    """The closing text's entry id is the conversation's: a row reopened by mistake and ended again by a
    replayed event cannot send it twice."""
    record_event(session.pk, "4", "CONVERSATION_SESSION_STATUS_CHANGED", session_status_event("Ended"))
    EnhancedChatSession.objects.filter(pk=session.pk).update(status=EnhancedChatSession.Status.OPEN)
    record_event(session.pk, "5", "CONVERSATION_CLOSE_CONVERSATION", close_event())
    assert outbound_texts(session) == ["Thanks, bye!"]


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("CONVERSATION_SESSION_STATUS_CHANGED", session_status_event("Waiting")),
        ("CONVERSATION_SESSION_STATUS_CHANGED", session_status_event("Ended", conversation="other")),
        ("CONVERSATION_SESSION_STATUS_CHANGED", session_status_event("ended")),
        ("CONVERSATION_SESSION_STATUS_CHANGED", json.dumps({"conversationId": CONVERSATION})),
        ("CONVERSATION_STREAMING_TOKEN", session_status_event("Ended")),  # an AI agent's, not handled here
        ("CONVERSATION_SOMETHING_NEW", session_status_event("Ended")),  # a type Salesforce adds later
        ("conversation_session_status_changed", session_status_event("Ended")),
    ],
)
def test_other_statuses_other_conversations_and_unknown_event_types_end_nothing(session, event_type, data):
    record_event(session.pk, "9", event_type, data)
    session.refresh_from_db()
    assert session.status == EnhancedChatSession.Status.OPEN and outbound_texts(session) == []
    assert session.last_event_id == "9"  # read and passed over: the stream moves on


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[1, 2]",
        json.dumps({"conversationEntry": "x"}),
        json.dumps({"conversationEntry": {"identifier": "e-9", "entryPayload": "{broken"}}),
        json.dumps({"conversationEntry": {"identifier": 7, "entryPayload": {}}}),
        "[" * 5000 + "]" * 5000,
    ],
)
def test_an_unreadable_event_sends_nothing_and_the_stream_moves_on(session, data):
    record_event(session.pk, "8", "CONVERSATION_MESSAGE", data)
    session.refresh_from_db()
    assert session.last_event_id == "8"
    # At most a "refused" row (an agent entry whose message cannot be read: failed with the reason, never sent)
    kinds = set(Message.objects.filter(conversation=session.conversation).values_list("kind", flat=True))
    assert kinds <= {"refused"}


def test_hostile_text_is_stored_cleaned(session):
    record_event(session.pk, "9", "CONVERSATION_MESSAGE", message_event("e-9", "hi\x00 there \ud800"))
    assert outbound_texts(session) == ["hi there \ufffd"]


def test_prechat_fields_carry_the_tenant_fields_the_routing_rule_and_the_customer(session):
    conversation = session.conversation
    EnhancedChatPrechatField.objects.create(tenant=conversation.tenant, name="Brand", value="Acme Mobile")
    RoutingRule.objects.create(
        tenant=conversation.tenant,
        sender=conversation.sender,
        target_type=RoutingRule.Target.QUEUE,
        target_id="00G000000000001",
        sticky_agent=True,
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_agent_id="005000000000009")
    conversation.refresh_from_db()
    attributes = prechat(conversation.tenant.salesforce, conversation)
    assert attributes["Brand"] == "Acme Mobile"
    assert attributes["Switchboard_AgentId"] == "005000000000009"
    assert attributes["Switchboard_FallbackId"] == "00G000000000001"
    assert attributes["Switchboard_Phone"] == "+447700900123"
    assert attributes["Switchboard_Channel"].startswith("WhatsApp")


# --- event ids: strings, in no promised order --------------------------------------------------------------


def test_an_event_whose_id_sorts_before_the_last_one_is_recorded(session):
    """Salesforce calls event ids strings ("Server-Sent Events", Last-Event-Id: String): a new event with an id
    that is smaller as a number, or shorter, is a new event, not a repeat. It was skipped, and the rep's message
    lost."""
    record_event(session.pk, "1700000000000-9", "CONVERSATION_MESSAGE", message_event("e-1", "first"))
    record_event(session.pk, "1700000000001-0", "CONVERSATION_MESSAGE", message_event("e-2", "second"))
    record_event(session.pk, "10", "CONVERSATION_MESSAGE", message_event("e-3", "third"))
    record_event(session.pk, "9", "CONVERSATION_MESSAGE", message_event("e-4", "fourth"))
    assert outbound_texts(session) == ["first", "second", "third", "fourth"]
    session.refresh_from_db()
    assert session.last_event_id == "9"


def test_an_event_id_read_again_is_recorded_once_and_the_memory_is_bounded(session):
    record_event(session.pk, "b", "CONVERSATION_MESSAGE", message_event("e-1", "one"))
    record_event(session.pk, "a", "CONVERSATION_MESSAGE", message_event("e-2", "two"))
    # The stream resumed a little earlier: the same event ids again (even were their entries new to us).
    record_event(session.pk, "b", "CONVERSATION_MESSAGE", message_event("e-1b", "one again"))
    record_event(session.pk, "a", "CONVERSATION_MESSAGE", message_event("e-2b", "two again"))
    assert outbound_texts(session) == ["one", "two"]
    for n in range(150):
        record_event(session.pk, f"x{n}", "CONVERSATION_TYPING_STARTED_INDICATOR", "{}")
    session.refresh_from_db()
    assert len(session.recent_event_ids) == 100 and session.recent_event_ids[-1] == "x149"
    assert session.last_event_id == "x149"


def test_a_row_from_before_the_memory_remembers_its_last_event_id(session):
    EnhancedChatSession.objects.filter(pk=session.pk).update(last_event_id="42", recent_event_ids=[])
    record_event(session.pk, "42", "CONVERSATION_MESSAGE", message_event("e-x", "replayed"))
    assert outbound_texts(session) == []


# --- routing results ------------------------------------------------------------------------------------


def routing_event(
    failure_type: str, reason: str | None = None, routing_type: str = "Initial", identifier: str = "r-1"
) -> str:
    """CONVERSATION_ROUTING_RESULT as the stream sends it; the RoutingResult entryPayload's fields as
    Salesforce's own clients read them (routingType, failureType, failureReason, recordId, estimatedWaitTime)."""
    payload = {
        "entryType": "RoutingResult",
        "id": identifier,
        "recordId": "0Mw000000000001AAA",
        "routingType": routing_type,
        "failureType": failure_type,
        "failureReason": reason,
        "estimatedWaitTime": {"isEWTRequested": False, "estimatedWaitTimeInSeconds": -1},
    }
    return json.dumps(
        {
            "channelPlatformKey": "v2/iamessage/UNAUTH/NA/uid:0c0b8bc5",
            "channelType": "embedded_messaging",
            "conversationId": CONVERSATION,
            "conversationEntry": {
                "identifier": identifier,
                "entryType": "RoutingResult",
                "senderDisplayName": "Automated Process",
                "sender": {"role": "System", "appType": "conversation", "subject": CONVERSATION},
                "entryPayload": json.dumps(payload),
            },
        }
    )


def test_a_failed_initial_routing_tells_the_customer_why_once_and_the_next_message_opens_anew(session):
    """A flow that does not route (outside business hours, say) returns its reasonForNotRouting, which Salesforce
    hands the Enhanced Chat client to show its user. No rep will see this conversation: the customer is told,
    and the row is closed so the next message opens a new conversation, routed afresh. It was ignored: the
    customer heard nothing and every later message went into the unrouted conversation."""
    event = routing_event("RoutingError", "We're closed. Back at 8:00.")
    record_event(session.pk, "5", "CONVERSATION_ROUTING_RESULT", event)
    record_event(session.pk, "5", "CONVERSATION_ROUTING_RESULT", event)
    record_event(session.pk, "6", "CONVERSATION_ROUTING_RESULT", event)  # the same entry under a new id
    session.refresh_from_db()
    assert session.status == EnhancedChatSession.Status.CLOSED
    assert session.end_reason == "not routed (RoutingError)"
    assert outbound_texts(session) == ["We're closed. Back at 8:00."]
    session.conversation.refresh_from_db()
    assert session.conversation.session_status == "Ended"


def test_a_failed_routing_without_a_reason_sends_the_tenants_no_agent_text(session):
    tenant = session.conversation.tenant
    tenant.no_agent_text = "No one is available right now; write again later."
    tenant.save()
    record_event(session.pk, "5", "CONVERSATION_ROUTING_RESULT", routing_event("Unknown"))
    session.refresh_from_db()
    assert session.status == EnhancedChatSession.Status.CLOSED
    assert outbound_texts(session) == ["No one is available right now; write again later."]


@pytest.mark.parametrize(
    "event",
    [
        routing_event("None"),  # routed
        routing_event("RoutingError", "No agent for the transfer", routing_type="Transfer"),
        routing_event(""),
    ],
)
def test_a_routed_conversation_or_a_failed_transfer_ends_nothing(session, event):
    """A failed transfer leaves the conversation with the rep or bot who has it."""
    record_event(session.pk, "5", "CONVERSATION_ROUTING_RESULT", event)
    session.refresh_from_db()
    assert session.status == EnhancedChatSession.Status.OPEN and outbound_texts(session) == []
