"""What moves: conversations, messages (both directions) and every attempt to deliver them.

A message is a row before anything else happens. Its ``status`` and ``next_attempt_at`` say what
is left to do, so a sweeper can always finish the work a lost task or a killed worker left behind.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.db import connection, models
from django.utils import timezone

from portal.sql import hot_cursor
from tenants.models import Sender, Tenant, TenantQuerySet

from .lines.waiting import waiting_reason


class Conversation(models.Model):
    """One customer talking to one of the tenant's senders (Salesforce: one conversationIdentifier)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    sender = models.ForeignKey(Sender, on_delete=models.PROTECT, related_name="conversations")
    customer = models.CharField(max_length=255, help_text="E.164 number or the channel's user id.")
    customer_name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    salesforce_conversation_id = models.CharField("Salesforce conversation", max_length=64, blank=True)
    messaging_session_id = models.CharField("Messaging session", max_length=18, blank=True)
    session_status = models.CharField(max_length=20, blank=True)
    last_agent_id = models.CharField(max_length=18, blank=True, help_text="For sticky routing.")
    last_inbound_at = models.DateTimeField(
        null=True, blank=True, help_text="Starts WhatsApp's 24-hour window."
    )
    # A worker delivering this conversation's messages holds a lease per direction; it expires if the worker dies.
    inbound_lease_until = models.DateTimeField(null=True, blank=True)
    outbound_lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "customer"], name="one_conversation_per_sender_and_customer"
            )
        ]
        indexes = [models.Index(fields=["tenant", "salesforce_conversation_id"])]
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.customer} ↔ {self.sender}"

    def window_open(self, now=None) -> bool:
        """WhatsApp lets a business send free text for 24 hours after the customer's last message."""
        if self.last_inbound_at is None:
            return False
        return (now or timezone.now()) - self.last_inbound_at < timedelta(hours=24)


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", "Customer → agent"
        OUTBOUND = "out", "Agent → customer"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"  # accepted by Salesforce (in) or delivered to the handset (out)
        SENT = "sent", "Sent"  # accepted by the provider, no delivery report yet (out)
        READ = "read", "Read"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    sequence = models.PositiveBigIntegerField(
        help_text="Order within the conversation and direction of travel."
    )
    kind = models.CharField(max_length=20, help_text="text, media, location, contacts, button, template, ...")
    text = models.TextField(blank=True)
    content = models.JSONField(
        default=dict, blank=True, help_text="The normalized event or the outbound content."
    )
    provider = models.CharField(max_length=20)
    provider_message_id = models.CharField(max_length=255, blank=True)
    salesforce_entry_id = models.CharField(
        max_length=64, blank=True, help_text="Conversation entry identifier (the agent's message, or ours)."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    internal_errors = models.PositiveSmallIntegerField(
        default=0, help_text="Tries that failed on an error of Switchboard's own (RELAY_MAX_INTERNAL_ERRORS)."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    expires_at = models.DateTimeField(help_text="After this, the message is failed and both sides are told.")
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    # Not stored: True once the statement that recorded a successful try counted it too (desks/base.py's
    # mark_delivered, outbound/send.py), so the line does not spend a statement of its own on it.
    attempt_counted = False

    class Meta:
        constraints = [
            # A replayed webhook is a no-op; an agent event seen twice makes one message.
            models.UniqueConstraint(
                fields=["tenant", "provider", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="one_message_per_provider_message_id",
            ),
            models.UniqueConstraint(
                fields=["tenant", "salesforce_entry_id"],
                condition=~models.Q(salesforce_entry_id=""),
                name="one_message_per_salesforce_entry",
            ),
            models.UniqueConstraint(
                fields=["conversation", "direction", "sequence"],
                name="one_position_per_conversation_direction",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["conversation", "sequence"]),
            # A line's next messages: only the pending ones are in it, so reading them does not walk past
            # every delivered message of a long conversation.
            models.Index(
                fields=["conversation", "direction", "sequence"],
                condition=models.Q(status="pending"),
                name="relay_message_pending_line",
            ),
            # The Case panel's files still stored (portal/console/case_panel/attachments.py:purge_expired):
            # the hourly purge reads these few rows, not the whole table's history.
            models.Index(
                fields=["created_at"],
                condition=models.Q(direction="out", kind="media", content__source="case_panel")
                & ~models.Q(content__has_key="panel_file_deleted"),
                name="relay_message_panel_files",
            ),
        ]
        ordering = ["conversation", "sequence"]

    def __str__(self) -> str:
        """What a person reads in the admin: who wrote to whom, the kind, the place in that direction's
        line (each direction counts from 1), the customer and the sender, e.g.
        "Agent → customer · text · #1 · +385919998888 (Acme WhatsApp)"."""
        content = self.content if isinstance(self.content, dict) else {}
        if self.kind == "history":
            route = "Bot transcript → agent"
        elif self.direction == self.Direction.INBOUND:
            route = "Customer → agent"
        elif content.get("system"):
            route = "Switchboard → customer"
        else:
            route = "Agent → customer"
        conversation = self.conversation if self.conversation_id else None
        sender = conversation.sender if conversation is not None else None
        where = ""
        if conversation is not None:
            label = (sender.display_name or sender.get_channel_display()) if sender else ""
            where = f" · {conversation.customer}" + (f" ({label})" if label else "")
        return f"{route} · {self.kind} · #{self.sequence}{where}"

    @property
    def waiting_reason(self) -> str:
        """Why a pending message has not gone yet (its own error, or the head of its line's); "" otherwise."""
        return waiting_reason(self)


def next_sequence(conversation_id: int, direction: str) -> int:
    """The next position in a conversation's line; call with the conversation row locked."""
    last = (
        Message.objects.filter(conversation_id=conversation_id, direction=direction)
        .order_by("-sequence")
        .values_list("sequence", flat=True)
        .first()
    )
    return (last or 0) + 1


def insert_at_end_of_line(message: Message, *, unless: str, then: tuple[str, list] | None = None) -> bool:
    """Store the unsaved ``message`` at the end of its conversation's line, in one statement: its sequence is
    computed by the INSERT itself, and a row that already exists under the unique constraint ``unless`` makes
    it a no-op (False) instead of an error, so there is no savepoint, no sequence SELECT and no duplicate
    probe. Call with the conversation row locked (that serializes the sequence). ``then``: see
    :func:`insert_once`."""
    table = connection.ops.quote_name(Message._meta.db_table)
    next_position = (
        f"(SELECT COALESCE(MAX(sequence), 0) + 1 FROM {table} WHERE conversation_id = %s AND direction = %s)",  # noqa: S608
        [message.conversation_id, message.direction],
    )
    return insert_once(message, unless=unless, computed={"sequence": next_position}, then=then)


def insert_once(
    row: models.Model, *, unless: str, computed: dict | None = None, then: tuple[str, list] | None = None
) -> bool:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING``: store the unsaved ``row`` unless one exists under its
    model's unique constraint ``unless`` (False then, and nothing changed: no error, no savepoint needed).
    ``computed`` maps a field name to the SQL (and its parameters) that computes it in the statement. Sets the
    primary key and the computed fields on ``row`` when stored. PostgreSQL and SQLite (3.35+) alike.

    ``then``: an ``UPDATE ... WHERE <conditions joined by AND>`` (SQL and parameters, values already prepared
    for the database) that runs only when the row is stored: on PostgreSQL in the same statement (a
    data-modifying WITH), elsewhere as a second statement."""
    computed = computed or {}
    model = type(row)
    postgres = connection.vendor == "postgresql"
    fields, sql = _insert_statement(
        model,
        unless,
        tuple((name, fragment) for name, (fragment, _) in computed.items()),
        then[0] if then is not None and postgres else None,
    )
    params = [f.get_db_prep_save(f.pre_save(row, add=True), connection) for f in fields]
    params += [p for _, more in computed.values() for p in more]
    if then is not None and postgres:
        params += then[1]
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        stored = cursor.fetchone()
        if stored is not None and then is not None and not postgres:
            cursor.execute(*then)
    if stored is None:
        return False
    row.pk = stored[0]
    for name, value in zip(computed, stored[1:], strict=True):
        setattr(row, name, value)
    row._state.adding, row._state.db = False, connection.alias
    return True


_INSERTS: dict[tuple, tuple[list, str]] = {}


def _insert_statement(
    model: type[models.Model], unless: str, computed: tuple[tuple[str, str], ...], then: str | None
) -> tuple[list, str]:
    """The fields whose values the statement takes, in order, and its SQL: made once per shape (building it
    from the model's fields cost more than running it)."""
    key = (model, unless, computed, then, connection.vendor)
    found = _INSERTS.get(key)
    if found is not None:
        return found
    meta = model._meta
    names = {name for name, _ in computed}
    fields = [f for f in meta.concrete_fields if not f.primary_key and f.name not in names]
    columns = [_column(model, f.name) for f in fields] + [_column(model, name) for name, _ in computed]
    placeholders = ["%s"] * len(fields) + [fragment for _, fragment in computed]
    returning = [_column(model, meta.pk.name)] + [_column(model, name) for name, _ in computed]
    table = connection.ops.quote_name(meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(placeholders)}) "  # noqa: S608
        f"ON CONFLICT {conflict_target(model, unless)} DO NOTHING RETURNING {', '.join(returning)}"
    )
    if then is not None:
        # Data-modifying WITH queries all run, once, whether or not the outer query reads them; the EXISTS
        # makes the update wait for the insert and happen only when it stored the row.
        sql = f"WITH stored AS ({sql}), then_update AS ({then} AND EXISTS (SELECT 1 FROM stored)) SELECT * FROM stored"  # noqa: S608
    _INSERTS[key] = (fields, sql)
    return fields, sql


def conflict_target(model: type[models.Model], name: str) -> str:
    """The ``ON CONFLICT`` target of a unique constraint of ``model``: its columns and, for a partial one, its
    condition (the one form used here, ``~Q(field="")``), written as the index has it."""
    constraint = next(
        c for c in model._meta.constraints if c.name == name and isinstance(c, models.UniqueConstraint)
    )
    columns = ", ".join(_column(model, f) for f in constraint.fields)
    condition = constraint.condition
    if condition is None:
        return f"({columns})"
    if not (
        isinstance(condition, models.Q)
        and condition.negated
        and len(condition.children) == 1
        and isinstance(condition.children[0], tuple)
        and condition.children[0][1] == ""
    ):
        raise ValueError(f"{name}: only a condition of the form ~Q(field='') is supported")
    return f"({columns}) WHERE NOT ({_column(model, condition.children[0][0])} = '')"


def _column(model: type[models.Model], name: str) -> str:
    """The quoted column of the field ``name`` of ``model``."""
    column = getattr(model._meta.get_field(name), "column", None)
    if not isinstance(column, str):
        raise ValueError(f"{model.__name__}.{name} has no column")
    return connection.ops.quote_name(column)


def sql_names(model: type[models.Model]) -> tuple[str, Callable[[str], str]]:
    """For SQL written by hand: the quoted table of ``model``, and the quoted column of a field by name."""
    return connection.ops.quote_name(model._meta.db_table), functools.partial(_column, model)


class DeliveryAttempt(models.Model):
    """One call to an outside system on a message's behalf, and what came of it."""

    class Outcome(models.TextChoices):
        OK = "ok", "Succeeded"
        TRANSIENT = "transient", "Failed, will retry"
        PERMANENT = "permanent", "Failed for good"
        INTERNAL = "internal", "Failed: error in Switchboard"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="delivery_attempts")
    target = models.CharField(max_length=20, help_text="salesforce or the provider's name")
    action = models.CharField(
        max_length=40, help_text="What was attempted, e.g. interaction, send, acknowledgement"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    request_id = models.UUIDField(default=uuid.uuid4)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["message", "created_at"]

    def __str__(self) -> str:
        return f"{self.action} → {self.target}: {self.get_outcome_display()}"


class SalesforceNotice(models.Model):
    """Something Salesforce must be told about an agent's message: delivered, read, or failed."""

    class Kind(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Delivery failed"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reason = models.TextField(blank=True, help_text="For failures: what the agent reads in the console.")
    error_code = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    internal_errors = models.PositiveSmallIntegerField(
        default=0, help_text="Tries that failed on an error of Switchboard's own (RELAY_MAX_INTERNAL_ERRORS)."
    )
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    # The worker sending it (outbound/notices.py): one UPDATE claims a batch and marks it with its token, so
    # the batch is read back by token and no notice is claimed twice; cleared when the notice is done.
    claim = models.UUIDField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "kind"], name="one_notice_per_message_and_kind")
        ]
        indexes = [
            models.Index(
                fields=["claim"], condition=models.Q(claim__isnull=False), name="relay_notice_claim"
            ),
            # The due notices (the claim, the sweep): only the pending ones are in it, so finding them does not
            # walk past every notice ever sent, whose next_attempt_at is in the past too.
            models.Index(
                fields=["next_attempt_at"], condition=models.Q(status="pending"), name="relay_notice_due"
            ),
        ]
        ordering = ["message", "created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.message_id}"


class TemplateHistoryImport(models.Model):
    """Importing an agent's WhatsApp template into their Messaging Session (``outbound/template_history.py``):
    one row per template, delivered on the one delivery engine. Each try is also a delivery attempt of the
    message (action ``conversationHistory``); the sweep re-queues a pending row whose task was lost."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RECORDED = "recorded", "Recorded in Salesforce"
        UNAVAILABLE = "unavailable", "Not available for this org"
        SKIPPED = "skipped", "Skipped: not on a Messaging desk"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="history_import")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    internal_errors = models.PositiveSmallIntegerField(
        default=0, help_text="Tries that failed on an error of Switchboard's own (RELAY_MAX_INTERNAL_ERRORS)."
    )
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A worker trying it: one conditional UPDATE takes it until then; a dead worker's claim runs out.
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="relay_history_import_due",
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"History import of message {self.message_id}: {self.get_status_display()}"


class ListenerCursor(models.Model):
    """Where the Pub/Sub subscription of a tenant stopped: resubscribing resumes after this replay id."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="listener_cursor")
    topic = models.CharField(max_length=120)
    replay_id = models.BinaryField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_error = models.TextField(blank=True)
    # Where a subscription without a usable replay id starts (docs/listener.md): the events of the topic
    # created since the connection was first saved with it, or since the last event handled.
    deliver_since = models.DateTimeField(
        null=True, blank=True, help_text="When the connection was first saved with this topic."
    )
    last_event_at = models.DateTimeField(
        null=True, blank=True, help_text="CreatedDate of the last event the listener handled."
    )
    subscribed_at = models.DateTimeField(null=True, blank=True, help_text="When the last stream started.")
    gap = models.TextField(blank=True, help_text="Events Salesforce no longer kept when the listener asked.")
    gap_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.topic} @ {self.replay_id.hex() if self.replay_id else 'no position yet'}"


# Models of the desks, the chatbot handover and the listener shards live in their own packages; imported here so
# Django registers them with the app.
from .desks.cases_models import CaseEntry, CaseLink  # noqa: E402, F401
from .desks.enhanced_chat_models import EnhancedChatPrechatField, EnhancedChatSession  # noqa: E402, F401
from .desks.livechat_models import LiveChatCustomField, LiveChatSession  # noqa: E402, F401
from .handover.models import Handover, HandoverEndpoint  # noqa: E402, F401
from .salesforce.shard_models import ListenerLease, ListenerProcess  # noqa: E402, F401
