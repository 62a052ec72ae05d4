"""Agent → customer: the provider's delivery and read reports update the message, and become notices for
Salesforce (sent by ``notices``).

Two reports come for every agent message (delivered, read), so a report is one statement on PostgreSQL
(:func:`record_report`): it locks the message, updates it from what it was, and stores the notices, all in one
round trip. Elsewhere (SQLite) the same happens in a few statements (:func:`apply_status_report`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from portal.sql import hot_cursor

from .. import signals
from ..events import ReportStatus, StatusReport
from ..models import Message, SalesforceNotice, conflict_target, insert_once, sql_names


@dataclass(frozen=True)
class RecordedReport:
    message_id: int
    conversation_id: int
    new_notices: bool  # Salesforce has something new to hear: its sender is to be woken


def record_report(
    tenant_id: int, provider: str, ids: list[str], report: StatusReport
) -> RecordedReport | None:
    """Apply the report to our outbound message that carries one of ``ids`` (the provider's, or our own echoed);
    None when we have no such message. Call in the transaction that must hold the change and its partner event
    (:func:`signals.together` when there is nothing else to write with it)."""
    if report.status not in (ReportStatus.DELIVERED, ReportStatus.READ, ReportStatus.FAILED):
        return None  # an intermediate state: nothing to change, nothing to tell
    if connection.vendor != "postgresql":
        return _record_report_in_steps(tenant_id, provider, ids, report)
    reported = report.reported_at or timezone.now()
    now = timezone.now()
    if report.status == ReportStatus.FAILED:
        reason = report.error_message or report.error_code
        notices = [
            _notice(
                tenant_id,
                SalesforceNotice.Kind.FAILED,
                now,
                reason=report.error_message or "The provider could not deliver the message.",
                error_code=report.error_code,
            )
        ]
        changes = [reason, now]
    else:
        reason = ""
        kinds = [SalesforceNotice.Kind.DELIVERED]
        if report.status == ReportStatus.READ:
            kinds.append(SalesforceNotice.Kind.READ)
        notices = [_notice(tenant_id, kind, now) for kind in kinds]
        status = Message.Status.READ if report.status == ReportStatus.READ else Message.Status.DELIVERED
        changes = [reported] + ([reported] if report.status == ReportStatus.READ else []) + [str(status), now]
    sql, notice_fields = _report_sql(str(report.status), len(ids))
    params: list = [tenant_id, provider, *ids, Message.Direction.OUTBOUND.value, *changes]
    for notice in notices:
        params += [
            field.get_db_prep_save(field.pre_save(notice, add=True), connection) for field in notice_fields
        ]
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    if found is None:
        return None
    message_id, conversation_id, before, kind, provider_message_id, stored = found
    if report.status == ReportStatus.FAILED:
        after = before if before == Message.Status.FAILED else Message.Status.FAILED
    else:
        after = before if before == Message.Status.READ else str(status)
    if after != before:
        message = Message(
            pk=message_id,
            tenant_id=tenant_id,
            conversation_id=conversation_id,
            direction=Message.Direction.OUTBOUND,
            kind=kind,
            provider=provider,
            provider_message_id=provider_message_id,
            status=after,
        )
        signals.message_status_changed.send_robust(
            sender=Message, message=message, status=after, reason=reason
        )
    return RecordedReport(message_id, conversation_id, stored > 0)


def _notice(tenant_id: int, kind: str, now, *, reason: str = "", error_code: str = "") -> SalesforceNotice:
    return SalesforceNotice(
        tenant_id=tenant_id,
        kind=kind,
        reason=reason[:2000],
        error_code=error_code[:64],
        next_attempt_at=now,
        occurred_at=now,
    )


@functools.cache
def _report_sql(status: str, id_count: int) -> tuple[str, list]:
    """One statement for a report of ``status``, and the notice fields whose values it takes per notice.

    The message is found through the partial unique index of provider ids: its condition (``<> ''``) is written
    out, as a prepared statement's generic plan cannot tell it from the bound ids (it scanned every outbound
    message of the tenant). The message is locked first (FOR UPDATE in its own WITH query, by pk: the default ordering would join and
    lock the conversation too); a concurrent report of the same message waits, and then this one reads the
    row as that one left it. Every data-modifying WITH query runs once whatever the outer query reads; the
    notices' ON CONFLICT makes a report seen again add nothing."""
    table, column = sql_names(Message)
    notice_table, notice_column = sql_names(SalesforceNotice)

    ids = ", ".join(["%s"] * id_count)
    target = (
        f"SELECT {column('id')} AS id, {column('tenant')} AS tenant_id, {column('conversation')} AS conversation_id, "  # noqa: S608
        f"{column('status')} AS status, {column('delivered_at')} AS delivered_at, {column('kind')} AS kind, "
        f"{column('provider_message_id')} AS provider_message_id, "
        f"COALESCE({column('content')} ->> 'entry_identifier', '') <> '' AS to_salesforce "
        f"FROM {table} WHERE {column('tenant')} = %s AND {column('provider')} = %s "
        f"AND {column('provider_message_id')} IN ({ids}) AND {column('provider_message_id')} <> '' "
        f"AND {column('direction')} = %s "
        f"ORDER BY {column('id')} LIMIT 1 FOR UPDATE"
    )
    failed = status == ReportStatus.FAILED
    if failed:
        # A message failed before stays as it was, and Salesforce was told then.
        assignments = f"{column('status')} = '{Message.Status.FAILED.value}', {column('last_error')} = %s"
        only_if = f" AND target.status <> '{Message.Status.FAILED.value}'"
        notice_count = 1
    else:
        assignments = f"{column('delivered_at')} = COALESCE(target.delivered_at, %s)"
        if status == ReportStatus.READ:
            assignments += f", {column('read_at')} = %s"
        # Read stays read: a late delivery report does not take it back.
        assignments += (
            f", {column('status')} = CASE WHEN target.status = '{Message.Status.READ.value}' "
            "THEN target.status ELSE %s END"
        )
        only_if = ""
        notice_count = 2 if status == ReportStatus.READ else 1
    update = (
        f"UPDATE {table} SET {assignments}, {column('updated_at')} = %s FROM target "  # noqa: S608
        f"WHERE {table}.{column('id')} = target.id{only_if}"
    )
    notice_fields = [
        f
        for f in SalesforceNotice._meta.concrete_fields
        if not f.primary_key and f.name not in ("tenant", "message")
    ]
    columns = ", ".join(notice_column(f.name) for f in notice_fields)
    values = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in notice_fields)
    inserts = [
        f"notice_{n} AS (INSERT INTO {notice_table} ({columns}, {notice_column('tenant')}, "  # noqa: S608
        f"{notice_column('message')}) "
        f"SELECT {values}, target.tenant_id, target.id FROM target WHERE target.to_salesforce{only_if} "
        f"ON CONFLICT {conflict_target(SalesforceNotice, 'one_notice_per_message_and_kind')} DO NOTHING "
        "RETURNING 1)"
        for n in range(notice_count)
    ]
    stored = " + ".join(f"(SELECT count(*) FROM notice_{n})" for n in range(notice_count))  # noqa: S608
    sql = (
        f"WITH target AS MATERIALIZED ({target}), updated AS ({update}), {', '.join(inserts)} "  # noqa: S608
        f"SELECT id, conversation_id, status, kind, provider_message_id, {stored} FROM target"
    )
    return sql, notice_fields


def _record_report_in_steps(
    tenant_id: int, provider: str, ids: list[str], report: StatusReport
) -> RecordedReport | None:
    message = (
        Message.objects.select_for_update()
        .filter(
            tenant_id=tenant_id,
            provider=provider,
            provider_message_id__in=ids,
            direction=Message.Direction.OUTBOUND,
        )
        # By pk: the default ordering joins the conversation, and FOR UPDATE would lock that row too
        # (a deadlock with a concurrent inbound message of the same conversation).
        .order_by("pk")
        .first()
    )
    if message is None:
        return None
    return RecordedReport(message.pk, message.conversation_id, apply_status_report(message, report))


def apply_status_report(message: Message, report: StatusReport) -> bool:
    """Update the message from a provider report; True when Salesforce has something new to hear."""
    now = report.reported_at or timezone.now()
    changed = False
    if report.status == ReportStatus.FAILED:
        if message.status not in (Message.Status.FAILED,):
            Message.objects.filter(pk=message.pk).update(
                status=Message.Status.FAILED,
                last_error=report.error_message or report.error_code,
                updated_at=timezone.now(),
            )
            signals.message_status_changed.send_robust(
                sender=Message,
                message=message,
                status=Message.Status.FAILED,
                reason=report.error_message or report.error_code,
            )
            changed = add_notice(
                message,
                SalesforceNotice.Kind.FAILED,
                reason=report.error_message or "The provider could not deliver the message.",
                error_code=report.error_code,
            )
    elif report.status in (ReportStatus.DELIVERED, ReportStatus.READ):
        fields: dict[str, object] = {"delivered_at": message.delivered_at or now}
        status = Message.Status.DELIVERED
        if report.status == ReportStatus.READ:
            fields["read_at"] = now
            status = Message.Status.READ
        if message.status != Message.Status.READ:
            fields["status"] = status
        Message.objects.filter(pk=message.pk).update(**fields, updated_at=timezone.now())
        if fields.get("status", message.status) != message.status:
            signals.message_status_changed.send_robust(sender=Message, message=message, status=status)
        changed = add_notice(message, SalesforceNotice.Kind.DELIVERED)
        if report.status == ReportStatus.READ:
            changed = add_notice(message, SalesforceNotice.Kind.READ) or changed
    return changed


def add_notice(message: Message, kind: str, *, reason: str = "", error_code: str = "") -> bool:
    """Store the notice (once per message and kind); True when it is new. The caller wakes its sender once
    for everything it stored (``wake.notices``): waking here as well queued every notice twice."""
    if not message.content.get("entry_identifier"):
        return False  # a system message (welcome, closing) that Salesforce never sent: nothing to report
    # One INSERT that a notice of the same kind already there turns into a no-op (a report seen again).
    notice = SalesforceNotice(
        tenant_id=message.tenant_id,
        message=message,
        kind=kind,
        reason=reason[:2000],
        error_code=error_code[:64],
    )
    return insert_once(notice, unless="one_notice_per_message_and_kind")
