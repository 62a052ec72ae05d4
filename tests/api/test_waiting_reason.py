"""Every waiting message says why: the head of a line its own error and next try, the ones behind it
"waiting behind message #N: <the head's reason>", in the partner API (list and detail, without a query per
message) and on the model (what the admin shows)."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from relay.lines.waiting import with_line_head
from relay.models import Message

from .conftest import api, make_message

pytestmark = pytest.mark.django_db

BUSY = "Salesforce is busy – HTTP 429"


@pytest.fixture
def line(world):
    """a1's conversation: #1 delivered, #2 waiting for a retry after a 429, #3 and #4 queued behind it,
    #5 failed; and its outbound line: one message about to go."""
    conversation = world.a1.conversation
    due = timezone.now() + timedelta(minutes=5)
    pending = {"status": Message.Status.PENDING}
    messages = {
        2: make_message(
            conversation, sequence=2, last_error=BUSY, next_attempt_at=due, attempts=3, **pending
        ),
        3: make_message(conversation, sequence=3, **pending),
        4: make_message(conversation, sequence=4, last_error="an old error of its own", **pending),
        5: make_message(conversation, sequence=5, status=Message.Status.FAILED, last_error="refused"),
        "out": make_message(
            conversation,
            sequence=1,
            direction=Message.Direction.OUTBOUND,
            next_attempt_at=timezone.now() - timedelta(seconds=1),
            **pending,
        ),
    }
    messages[1] = world.a1.message
    return messages, f"{BUSY} (next try at {due.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)"


def test_the_api_says_why_each_message_waits(world, line, django_assert_max_num_queries):
    messages, head_reason = line
    client = api(world.key_a)
    with django_assert_max_num_queries(3):  # the key, the page: no query per message
        response = client.get(f"/api/v1/messages/?conversation={world.a1.conversation.pk}")
    assert response.status_code == 200, response.content
    reasons = {m["id"]: m["waiting_reason"] for m in response.json()["results"]}
    assert reasons == {
        messages[1].pk: "",
        messages[2].pk: head_reason,
        messages[3].pk: f"waiting behind message #2: {head_reason}",
        messages[4].pk: f"waiting behind message #2: {head_reason}",
        messages[5].pk: "",
        messages["out"].pk: "queued for delivery",  # the outbound line is a line of its own
    }
    detail = client.get(f"/api/v1/messages/{messages[3].pk}/").json()
    assert detail["waiting_reason"] == f"waiting behind message #2: {head_reason}"


def test_the_reason_follows_the_line_as_it_moves(world, line):
    messages, _ = line
    Message.objects.filter(pk=messages[2].pk).update(status=Message.Status.DELIVERED, last_error="")
    # #3 is the head now: due, no error of its own; #4 waits behind it.
    third = Message.objects.get(pk=messages[3].pk)
    assert third.waiting_reason == "queued for delivery"
    assert (
        Message.objects.get(pk=messages[4].pk).waiting_reason
        == "waiting behind message #3: queued for delivery"
    )
    Message.objects.filter(pk=third.pk).update(last_error="Salesforce is down – HTTP 503")
    annotated = with_line_head(Message.objects.filter(pk=messages[4].pk)).get()
    assert annotated.waiting_reason == (
        "waiting behind message #3: Salesforce is down – HTTP 503 (trying again now)"
    )


def test_the_schema_documents_the_field(world):
    schema = api(world.key_a).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    field = schema["components"]["schemas"]["Message"]["properties"]["waiting_reason"]
    assert field["readOnly"] is True and "waiting behind message #N" in field["description"]
