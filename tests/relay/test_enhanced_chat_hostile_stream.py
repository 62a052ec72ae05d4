"""The Enhanced Chat event stream as bytes arrive from outside (relay/desks/enhanced_chat_api.py EventParser,
relay/desks/enhanced_chat_events.py seen): any chunking, lines that end only where the SSE standard says
(CRLF, LF, CR - not U+2028, NEL or form feed, where ``str.splitlines`` and httpx's ``aiter_lines`` also cut),
a line that never ends held only up to the limit, and event ids of any text, recognised only when seen before.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.desks.enhanced_chat_api import EventParser
from relay.desks.enhanced_chat_events import record_event, seen


def events_of(parser: EventParser, chunks: list[bytes]) -> list[tuple[str, str, str]]:
    return [(e.id, e.event, e.data) for chunk in chunks for e in parser.feed_bytes(chunk)]


def test_an_agent_text_with_unicode_line_breaks_arrives_whole():
    # Salesforce's JSON need not escape U+2028/U+2029/U+0085: they are a part of the text, not line ends.
    text = "Dear Frank,\u2028your refund\u2029is on\x85its way"
    data = json.dumps({"conversationId": "c", "text": text}, ensure_ascii=False)
    stream = f"id: 5\nevent: CONVERSATION_MESSAGE\ndata: {data}\n\n".encode()
    assert events_of(EventParser(), [stream]) == [("5", "CONVERSATION_MESSAGE", data)]
    assert json.loads(data)["text"] == text


def test_a_line_that_never_ends_is_not_held_past_the_limit_and_the_next_event_is_read():
    parser = EventParser(max_event_chars=1000)
    hostile = [b"id: 1\ndata: "] + [b"x" * 4096] * 200  # 800 KB of one line, no end in sight
    assert events_of(parser, hostile) == []
    assert len(parser._pending) <= 1000  # what is buffered stays bounded, however long the line grows
    assert events_of(parser, [b"x" * 10 + b"\n\nid: 2\ndata: small\n\n"]) == [("2", "message", "small")]


def test_a_crlf_split_between_chunks_is_one_line_end_and_utf8_split_between_chunks_is_one_character():
    stream = "id: 3\r\ndata: čaj ☕\r\n\r\n".encode()
    cut_crlf = stream.index(b"\r\n") + 1
    cut_utf8 = stream.index("☕".encode()) + 1
    chunks = [stream[:cut_crlf], stream[cut_crlf:cut_utf8], stream[cut_utf8:]]
    assert events_of(EventParser(), chunks) == [("3", "message", "čaj ☕")]


EVENT = st.tuples(
    st.from_regex(r"[0-9]{1,6}", fullmatch=True),
    st.sampled_from(["CONVERSATION_MESSAGE", "CONVERSATION_CLOSE_CONVERSATION", "ping"]),
    st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]), max_size=40),
)


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(EVENT, min_size=1, max_size=5),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_any_chunking_of_a_stream_gives_the_same_events(events, cuts, line_end):
    stream = "".join(
        f"id: {i}{line_end}event: {e}{line_end}data: {d}{line_end}{line_end}" for i, e, d in events
    )
    raw = stream.encode()
    points = sorted({min(c, len(raw)) for c in cuts})
    chunks = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    assert events_of(EventParser(), chunks) == [(i, e, d) for i, e, d in events]


@settings(max_examples=300, deadline=None)
@given(recent=st.lists(st.text(max_size=30), max_size=5), event_id=st.text(max_size=30) | st.just("9" * 5000))
def test_any_event_id_is_seen_only_when_it_is_one_of_the_recent_ones(recent, event_id):
    """Ids are strings to Salesforce: no order is read into them, so no new event is ever taken for an old one."""
    assert seen(recent, event_id) == (bool(event_id) and event_id in recent)


def test_numeric_looking_ids_are_not_compared_as_numbers():
    assert seen(["10"], "9") is False and seen(["9" * 5000], "1") is False and seen(["007"], "7") is False
    assert seen(["10", "9"], "9") is True


# --- events that are not this conversation's --------------------------------------------------------

from tests.relay.test_enhanced_chat_events import (  # noqa: E402 - the recorder's fixtures, shared
    CONVERSATION,
    message_event,
    outbound_texts,
    session,  # noqa: F401 - a fixture
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "conversation_id",
    [None, 12345, ["x"], {"id": CONVERSATION}, "", "3b0a3c1e-0000-4000-8000-000000000001"],
)
def test_an_agent_message_not_named_as_this_conversations_is_not_sent(session, conversation_id):  # noqa: F811
    """conversationId is a required member of every event (Salesforce, "Server-Sent Events"): an event that
    does not name this conversation - missing, not a text, another's - reaches no customer."""
    document = json.loads(message_event("e-1", "meant for someone else"))
    document["conversationId"] = conversation_id
    if conversation_id is None:
        del document["conversationId"]
    record_event(session.pk, "5", "CONVERSATION_MESSAGE", json.dumps(document))
    assert outbound_texts(session) == []
    session.refresh_from_db()
    assert session.last_event_id == "5"  # read and passed over: the stream moves on
    record_event(
        session.pk, "6", "CONVERSATION_MESSAGE", message_event("e-2", "ours", conversation=CONVERSATION)
    )
    assert outbound_texts(session) == ["ours"]
