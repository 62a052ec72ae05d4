"""Agent → customer: the provider's delivery and read reports update the message, and become notices for
Salesforce (sent by ``notices``)."""

from __future__ import annotations

from django.utils import timezone

from .. import signals
from ..events import ReportStatus, StatusReport
from ..models import Message, SalesforceNotice, insert_once


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
