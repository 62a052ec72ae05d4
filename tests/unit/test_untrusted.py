"""relay/untrusted.py (strict JSON, repairs that are recorded) and relay/unique.py (which constraint an
IntegrityError violated), the latter against real errors of the configured database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from relay.models import Conversation, Message
from relay.unique import violates
from relay.untrusted import MAX_JSON_DEPTH, Repairs, UnacceptableJSON, bounded_id, loads
from tests.factories import make_account, make_sender, make_tenant


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"NaN", "NaN"),
        (b'{"a": [1, Infinity]}', "Infinity"),
        (b"-Infinity", "Infinity"),
        (b"1e400", "out of range"),
        (b"-1e400", "out of range"),
        (b"[" * 10_000 + b"]" * 10_000, "nested deeper"),
        (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "nested deeper"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nested deeper"),
        (b'"\xff"', "not UTF-8"),
        (b"1" * 5000, "digits"),
        (b"{not json", "Expecting property name"),
    ],
)
def test_what_is_not_json_a_provider_sends_is_refused_with_the_reason(body, says):
    with pytest.raises(UnacceptableJSON, match=says):
        loads(body)


def test_json_up_to_the_bound_and_escapes_a_repair_can_fix_are_read():
    assert loads(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None
    assert loads(b'{"t": "a\\u0000b\\ud800", "n": 1e308, "i": 100000000000000000000}') == {
        "t": "a\x00b\ud800",
        "n": 1e308,
        "i": 10**20,
    }


def test_repairs_record_what_they_change():
    repairs = Repairs()
    assert repairs.text("a\x00b", "text") == "ab"
    assert repairs.text("x\ud800y\udfff", "text") == "x\ufffdy\ufffd"
    assert repairs.text("\ud83d\ude00", "text") == "\U0001f600"  # a pair that arrived as halves is kept
    assert repairs.text("N" * 300, "name", 255) == "N" * 255
    assert repairs.json({"k\x00": ["v\ud800", 1, None, float("nan")]}, "raw") == {
        "k": ["v\ufffd", 1, None, None]
    }
    assert repairs.notes == [
        "text: NUL bytes removed",
        "text: unpaired surrogates replaced by U+FFFD",
        "name: 300 characters cut to 255",
        "raw: NUL bytes removed",
        "raw: unpaired surrogates replaced by U+FFFD",
        "raw: a non-finite number replaced by null",
    ]
    clean = Repairs()
    assert clean.text("Hello, 😀", "text", 255) == "Hello, 😀" and clean.json({"a": [1.5]}, "raw") == {
        "a": [1.5]
    }
    assert clean.notes == []


def test_long_ids_keep_their_identity():
    assert bounded_id("short", 255) == "short"
    long_a, long_b = "m" * 300, "m" * 299 + "X"
    assert len(bounded_id(long_a, 255)) == 255
    assert bounded_id(long_a, 255) == bounded_id(long_a, 255)
    assert bounded_id(long_a, 255) != bounded_id(long_b, 255)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1999, 12, 31, tzinfo=UTC),
        datetime(9999, 12, 31, tzinfo=UTC),
        datetime(2999, 1, 1, tzinfo=UTC),
    ],
)
def test_an_implausible_time_becomes_the_arrival_time(moment):
    arrival = timezone.now()
    repairs = Repairs()
    assert repairs.moment(moment, "receivedAt", arrival) == arrival
    assert "not a plausible time" in repairs.notes[0]


def test_a_plausible_time_is_kept():
    arrival = timezone.now()
    repairs = Repairs()
    for moment in (arrival - timedelta(days=3), arrival + timedelta(minutes=1)):
        assert repairs.moment(moment, "receivedAt", arrival) == moment
    assert repairs.moment(None, "receivedAt", arrival) == arrival
    assert repairs.notes == []


@pytest.mark.django_db(transaction=True)
def test_only_the_named_unique_constraint_is_that_violation():
    tenant = make_tenant()
    conversation = Conversation.objects.create(
        tenant=tenant, sender=make_sender(make_account(tenant)), customer="+385919998888"
    )
    fields = {
        "tenant": tenant,
        "conversation": conversation,
        "direction": "in",
        "kind": "text",
        "provider": "infobip",
        "expires_at": timezone.now() + timedelta(days=1),
    }
    Message.objects.create(sequence=1, provider_message_id="m1", **fields)

    def error_of(**values) -> IntegrityError:
        with pytest.raises(IntegrityError) as raised, transaction.atomic():
            Message.objects.create(**(fields | values))
        return raised.value

    replay = error_of(sequence=2, provider_message_id="m1")
    same_place = error_of(sequence=1, provider_message_id="m2")
    not_null = error_of(sequence=None, provider_message_id="m3")
    assert violates(replay, Message, "one_message_per_provider_message_id")
    assert not violates(same_place, Message, "one_message_per_provider_message_id")
    assert violates(same_place, Message, "one_position_per_conversation_direction")
    assert not violates(not_null, Message, "one_message_per_provider_message_id")
    with pytest.raises(LookupError):
        violates(replay, Message, "no_such_constraint")
