"""The web side of a message in few statements (issue 16), every guarantee kept.

A customer message: the conversation locked, then one INSERT that also updates the conversation, and only when
the message is new (a replay changes nothing, not even the conversation). A delivery or read report: one
statement on PostgreSQL that locks the message, updates it from what it was and stores the notices; a lone
report needs no transaction, unless a partner listens (then its event commits with the change). Concurrent
reports of one message wait for each other and end as if one came after the other.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from portal.api import webhooks
from portal.api.models import PartnerEvent, WebhookDelivery, WebhookSubscription
from relay import tasks
from relay.events import ReportStatus, StatusReport
from relay.inbound.auth import expected_signature
from relay.inbound.ingest import ingest
from relay.lines import wake
from relay.models import Conversation, Message, SalesforceNotice
from tests.factories import make_account, make_sender, make_tenant

POSTGRES = connection.vendor == "postgresql"
TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")


@pytest.fixture
def account(db):
    account = make_account(make_tenant(welcome_text=""))
    account.sender = make_sender(account, "+41793026731")
    return account


@pytest.fixture
def queued(monkeypatch):
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks.deliver_inbound, "delay", lambda pk: calls.append(("in", pk)))
    monkeypatch.setattr(tasks.notify_salesforce, "delay", lambda pk: calls.append(("notices", pk)))
    # A report's notices task starts RELAY_NOTICES_GATHER_SECONDS later (relay/lines/wake.py): queued all the same.
    monkeypatch.setattr(
        tasks.notify_salesforce, "apply_async", lambda args, **options: calls.append(("notices", args[0]))
    )
    return calls


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST a signed webhook; what it queues after commit runs (the test's transaction never commits)."""

    def post(account, document: dict):
        body = json.dumps(document).encode()
        signature = {"X-Hub-Signature-256": expected_signature(str(account.webhook_secret), body)}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                account.webhook_path, data=body, content_type="application/json", headers=signature
            )

    return post


def mo(
    message_id: str, text: str, name: str = "Frank", received_at: str = "2026-01-05T10:00:00.000+0000"
) -> dict:
    return {
        "results": [
            {
                "from": "385919998888",
                "to": "41793026731",
                "integrationType": "WHATSAPP",
                "receivedAt": received_at,
                "messageId": message_id,
                "message": {"text": text, "type": "TEXT"},
                "contact": {"name": name},
            }
        ]
    }


def delivered(message_id: str) -> dict:
    return {
        "results": [
            {
                "messageId": message_id,
                "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"},
                "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR"},
                "doneAt": "2026-01-05T10:01:00.000+0000",
                "to": "385919998888",
            }
        ]
    }


def seen(message_id: str) -> dict:
    return {
        "results": [
            {
                "messageId": message_id,
                "from": "385919998888",
                "to": "41793026731",
                "sentAt": "2026-01-05T10:00:30.000+0000",
                "seenAt": "2026-01-05T10:02:00.000+0000",
            }
        ]
    }


def undeliverable(message_id: str, reason: str) -> dict:
    return {
        "results": [
            {
                "messageId": message_id,
                "status": {"groupId": 2, "groupName": "UNDELIVERABLE", "id": 9, "name": "UNDELIVERABLE"},
                "error": {
                    "groupId": 1,
                    "groupName": "HANDSET_ERRORS",
                    "id": 7,
                    "name": "EC_X",
                    "description": reason,
                },
                "doneAt": "2026-01-05T10:01:00.000+0000",
                "to": "385919998888",
            }
        ]
    }


@contextlib.contextmanager
def statements() -> Iterator[list[str]]:
    """Every statement run on the connection meanwhile (Django's query log is emptied at each request's start,
    so counting by its length would miss them)."""
    seen: list[str] = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


def work(sqls: list[str]) -> list[str]:
    return [sql for sql in sqls if not sql.startswith(TRANSACTION_CONTROL)]


def agent_message(account, *, entry: str = "0XF000000000001", status: str = Message.Status.SENT) -> Message:
    conversation, _ = Conversation.objects.get_or_create(
        tenant=account.tenant, sender=account.sender, customer="+385919998888"
    )
    sequence = Message.objects.filter(conversation=conversation, direction="out").count() + 1
    wake.finished("notices", conversation.pk)  # ids repeat between tests on SQLite, and so would the marks
    return Message.objects.create(
        tenant=account.tenant,
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        sequence=sequence,
        kind="text",
        text="Hello from the agent",
        content={"kind": "text", "text": "Hello from the agent", "entry_identifier": entry} if entry else {},
        provider="infobip",
        provider_message_id=f"ib-{sequence}",
        salesforce_entry_id=entry,
        status=status,
        expires_at=timezone.now() + timedelta(days=1),
    )


# --- a customer's message --------------------------------------------------------------------------------


def test_a_message_of_a_known_conversation_is_one_statement(post, account, queued):
    assert post(account, mo("m-1", "first")).status_code == 200
    conversation = Conversation.objects.get()
    wake.finished("in", conversation.pk)  # its task ran (ids repeat between tests on SQLite: marks too)
    queued.clear()
    with statements() as sqls:
        response = post(account, mo("m-2", "second", name="Frank K."))
    assert response.json() == {"accepted": 1, "duplicates": 0, "reports": 0}
    post(account, mo("m-3", "third", name=""))  # no name: the one it has stays
    if POSTGRES:  # lock, INSERT and the conversation's UPDATE in one: no BEGIN, no COMMIT, no other statement
        (only,) = work(sqls)  # the test's transaction adds a savepoint around it; a request has none
        assert only.startswith("WITH conv") and "FOR UPDATE" in only and "UPDATE" in only
    conversation.refresh_from_db()
    assert conversation.customer_name == "Frank K."
    assert list(conversation.messages.values_list("text", "sequence")) == [
        ("first", 1),
        ("second", 2),
        ("third", 3),
    ]
    assert queued == [("in", conversation.pk)]  # the third message's wake found the task still queued


def test_a_replayed_message_changes_nothing_not_even_its_conversation(post, account, queued):
    post(account, mo("m-1", "first"))
    Conversation.objects.update(status=Conversation.Status.CLOSED, customer_name="Named by the agent")
    before = Conversation.objects.values().get()
    response = post(account, mo("m-1", "first", name="Someone else"))
    assert response.json() == {"accepted": 0, "duplicates": 1, "reports": 0}
    assert Conversation.objects.values().get() == before  # still closed, same name, same times
    assert Message.objects.count() == 1
    later = "2026-01-05T10:05:00.000+0000"
    post(account, mo("m-2", "back again", name="", received_at=later))  # opens it; no name keeps the name
    conversation = Conversation.objects.get()
    assert (conversation.status, conversation.customer_name) == ("open", "Named by the agent")
    assert conversation.last_inbound_at > before["last_inbound_at"]  # the window starts at the new message


def test_a_first_message_and_a_batch_take_the_long_way_in_one_transaction(post, account, queued):
    with statements() as sqls:
        post(account, mo("m-1", "first"))  # no conversation yet: the one statement finds none
    if POSTGRES:
        tried = next(i for i, sql in enumerate(sqls) if sql.startswith("WITH conv"))
        assert any(sql.startswith("INSERT") and "relay_conversation" in sql for sql in sqls[tried:])
    batch = {"results": mo("m-2", "second")["results"] + mo("m-3", "third")["results"]}
    assert post(account, batch).json() == {"accepted": 2, "duplicates": 0, "reports": 0}
    conversation = Conversation.objects.get()
    assert list(conversation.messages.values_list("text", "sequence")) == [
        ("first", 1),
        ("second", 2),
        ("third", 3),
    ]


@pytest.mark.skipif(not POSTGRES, reason="one statement on PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_a_message_that_loses_the_race_for_its_place_takes_the_long_way(account, queued):
    """The one statement's snapshot predates its wait for the conversation's lock: a message committed
    meanwhile by the lock's holder is not in its MAX(sequence). The position's unique constraint refuses it;
    nothing of it remains, and the long way stores the message after the other one."""
    first = ingest(account, [_event(account, "m-1", "first")])
    conversation_id = next(iter(first.conversations_to_deliver))
    outcome: dict = {}

    def second_message() -> None:
        try:
            outcome["result"] = ingest(account, [_event(account, "m-3", "third")])
        finally:
            connections.close_all()

    holder = connections.create_connection("default")  # another request, in the middle of its transaction
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute("SELECT id FROM relay_conversation WHERE id = %s FOR UPDATE", [conversation_id])
            worker = threading.Thread(target=second_message)
            worker.start()
            _wait_until_blocked(holder)
            cursor.execute(
                "INSERT INTO relay_message (tenant_id, conversation_id, direction, sequence, kind, text, content, "
                "provider, provider_message_id, salesforce_entry_id, status, attempts, internal_errors, "
                "expires_at, last_error, received_at, created_at, updated_at) VALUES (%s, %s, 'in', 2, 'text', "
                "'second', '{}', 'infobip', 'm-2', '', 'pending', 0, 0, now() + interval '1 day', '', now(), "
                "now(), now())",
                [account.tenant_id, conversation_id],
            )
        holder.commit()
    finally:
        holder.close()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert outcome["result"].accepted == 1
    assert list(
        Message.objects.filter(conversation_id=conversation_id)
        .order_by("sequence")
        .values_list("text", "sequence")
    ) == [("first", 1), ("second", 2), ("third", 3)]


def _event(account, message_id: str, text: str):
    from relay.providers.infobip.parser import parse_webhook

    (event,) = parse_webhook(mo(message_id, text))
    return event


# --- delivery and read reports ---------------------------------------------------------------------------


def test_a_report_is_one_statement_and_a_read_one_tells_both(post, account, queued):
    message = agent_message(account)
    post(account, delivered("not-ours"))  # what a busy process has loaded already: the account, subscriptions
    with statements() as sqls:
        assert post(account, delivered(message.provider_message_id)).json()["reports"] == 1
    if POSTGRES:
        assert len(work(sqls)) == 1 and sqls[0].startswith("WITH target"), sqls  # no BEGIN, no COMMIT
    message.refresh_from_db()
    delivered_at = message.delivered_at
    assert message.status == "delivered" and delivered_at is not None and message.read_at is None
    wake.finished("notices", message.conversation_id)  # that task ran: the next new notice wakes another
    post(account, seen(message.provider_message_id))
    message.refresh_from_db()
    assert message.status == "read" and message.delivered_at == delivered_at and message.read_at is not None
    notices = SalesforceNotice.objects.filter(message=message)
    assert sorted(notices.values_list("kind", "status", "tenant_id")) == [
        ("delivered", "pending", account.tenant_id),
        ("read", "pending", account.tenant_id),
    ]
    assert queued == [("notices", message.pk), ("notices", message.pk)]


def test_a_late_delivery_report_leaves_a_read_message_read_and_tells_nothing_twice(post, account, queued):
    message = agent_message(account)
    post(account, seen(message.provider_message_id))  # read arrives first: delivered is implied
    for late in (delivered, seen):  # then a late delivery report, and the read one again
        wake.finished("notices", message.conversation_id)  # a sender would be woken, were anything new
        post(account, late(message.provider_message_id))
    message.refresh_from_db()
    assert message.status == "read" and message.delivered_at is not None
    assert SalesforceNotice.objects.filter(message=message).count() == 2
    assert queued == [("notices", message.pk)]  # nothing new after the first: no sender woken


def test_a_failure_is_told_once_with_its_reason(post, account, queued):
    message = agent_message(account)
    post(account, undeliverable(message.provider_message_id, "The handset is off"))
    wake.finished("notices", message.conversation_id)
    post(account, undeliverable(message.provider_message_id, "Another reason"))
    message.refresh_from_db()
    assert message.status == "failed" and "The handset is off" in message.last_error
    (notice,) = SalesforceNotice.objects.filter(message=message)
    assert (notice.kind, notice.reason, notice.error_code) == ("failed", message.last_error, "EC_X")
    assert queued == [("notices", message.pk)]


def test_a_message_salesforce_never_sent_is_updated_without_a_notice(post, account, queued):
    message = agent_message(account, entry="")  # a welcome text, say
    post(account, seen(message.provider_message_id))
    message.refresh_from_db()
    assert message.status == "read"
    assert not SalesforceNotice.objects.exists() and queued == []


def test_a_report_for_a_message_we_do_not_have_changes_nothing(post, account, queued):
    other_tenant = make_account(make_tenant("Other", org_id="00D8d000000GlbX"))
    other_tenant.sender = make_sender(other_tenant, "+41793026731")
    theirs = agent_message(other_tenant)  # the same provider id, another tenant's
    response = post(account, delivered(theirs.provider_message_id))
    assert response.status_code == 200 and response.json()["reports"] == 1
    theirs.refresh_from_db()
    assert theirs.status == "sent" and not SalesforceNotice.objects.exists() and queued == []


def test_a_partner_hears_of_the_change_in_the_same_transaction(post, account, queued):
    subscription = WebhookSubscription(
        tenant=account.tenant, url="https://hooks.example.com/sb", events=["message.status_changed"]
    )
    subscription.rotate_secret()
    subscription.save()
    webhooks.forget_subscriptions()
    message = agent_message(account)
    try:
        with statements() as sqls:
            post(account, seen(message.provider_message_id))
    finally:
        webhooks.forget_subscriptions()
    # Written with the change, and fanned out once committed (the partner API's tasks run eagerly here).
    assert not PartnerEvent.objects.exists()
    (delivery,) = WebhookDelivery.objects.filter(subscription=subscription)
    data = delivery.payload["data"]["message"]
    assert delivery.event == "message.status_changed" and (data["id"], data["status"]) == (message.pk, "read")
    assert data["provider_message_id"] == message.provider_message_id
    if POSTGRES:  # the report's statement, then the event's INSERT: no savepoint, no commit between them
        report = next(i for i, sql in enumerate(sqls) if sql.startswith("WITH target"))
        event = next(i for i, sql in enumerate(sqls) if sql.startswith("INSERT") and "partnerevent" in sql)
        between = sqls[report + 1 : event]
        assert report < event and not [sql for sql in between if not sql.startswith("SELECT")], between


@pytest.mark.skipif(not POSTGRES, reason="row locks: SQLite serializes writers instead")
@pytest.mark.django_db(transaction=True)
def test_concurrent_reports_of_one_message_end_as_if_one_came_after_the_other(account, queued):
    message = agent_message(account)
    read_report = StatusReport(message.provider_message_id, ReportStatus.READ)
    delivered_at = timezone.now() - timedelta(minutes=5)
    outcome: dict = {}

    def second_report() -> None:
        outcome["result"] = ingest(account, [read_report])

    # The first report's transaction, held open while the second waits for the message's lock.
    with while_locked("relay_message", message.pk, second_report) as cursor:
        cursor.execute(
            "UPDATE relay_message SET status = 'delivered', delivered_at = %s WHERE id = %s",
            [delivered_at, message.pk],
        )
        cursor.execute(
            "INSERT INTO relay_salesforcenotice (tenant_id, message_id, kind, reason, error_code, status, "
            "attempts, internal_errors, next_attempt_at, last_error, occurred_at, created_at, updated_at) "
            "VALUES (%s, %s, 'delivered', '', '', 'pending', 0, 0, now(), '', now(), now(), now())",
            [account.tenant_id, message.pk],
        )
    message.refresh_from_db()
    # The second report read the row as the first left it: its delivery time kept, read on top.
    assert message.status == "read" and message.delivered_at == delivered_at and message.read_at is not None
    assert sorted(SalesforceNotice.objects.values_list("kind", flat=True)) == ["delivered", "read"]
    assert outcome["result"].notices_to_send == {message.conversation_id: message.pk}  # read was new


@contextlib.contextmanager
def while_locked(table: str, pk: int, waiter) -> Iterator:
    """Lock the row on a connection of its own and run ``waiter`` on a thread until it waits for that lock;
    the body writes with the cursor it is given, as the holder; then the holder commits and ``waiter`` ends."""

    def run() -> None:
        try:
            waiter()
        finally:
            connections.close_all()

    holder = connections.create_connection("default")
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [pk])  # noqa: S608 - a test's table
            worker = threading.Thread(target=run)
            worker.start()
            _wait_until_blocked(holder)
            yield cursor
        holder.commit()
    finally:
        holder.close()
    worker.join(timeout=30)
    assert not worker.is_alive()


def _wait_until_blocked(holder, timeout: float = 20.0) -> None:
    """Until another backend waits for a row lock held by ``holder`` (a condition, polled)."""
    deadline = time.monotonic() + timeout
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    watcher = connections.create_connection("default")
    try:
        while time.monotonic() < deadline:
            with watcher.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [pid]
                )
                if cursor.fetchone()[0]:
                    return
        raise AssertionError("the second report never waited for the first one's lock")
    finally:
        watcher.close()
