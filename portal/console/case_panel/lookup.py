"""Which conversation a Case panel shows: the Case the signed request names, if it is one of the tenant's.

A Case belongs to a conversation through the Cases desk's :class:`~relay.desks.cases_models.CaseLink`
(relay/desks/cases.py). One conversation (a customer and a sender, for ever) may have had several Cases
over time: the panel on a Case shows the messages of that Case, not the whole life of the conversation.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from relay.desks.cases_models import CaseLink
from relay.models import Message
from tenants.models import Tenant
from tenants.validators import normalize_salesforce_id

CASE_PREFIX = "500"  # the key prefix of Case ids
# The Switchboard texts that close a Case (the closing text) are queued just after Salesforce closed it.
AFTER_CLOSE = timedelta(minutes=5)


def normalize_case_id(value: str) -> str:
    """The 18-character Case id, or ValidationError saying what is wrong with the value."""
    case_id = normalize_salesforce_id(value, kind="case")
    if not case_id.startswith(CASE_PREFIX):
        raise ValidationError(
            f"A Case id starts with {CASE_PREFIX}; this one starts with {case_id[:3]}.",
            code="salesforce_id_prefix",
        )
    return case_id


def find_case(tenant: Tenant, case_id: str) -> CaseLink | None:
    """The tenant's link to this Case (18 characters), with its conversation and sender; None if unknown."""
    return (
        CaseLink.objects.filter(tenant=tenant, case_id=case_id)
        .select_related("conversation__sender__account", "conversation__tenant")
        .first()
    )


def case_messages(link: CaseLink) -> QuerySet[Message]:
    """The messages of this Case: those written to its transcript, and those of its time that are on no
    Case's transcript (yet: the transcript is written after delivery; a failed message never is). Its time
    runs from the close of the conversation's previous Case to a few minutes after its own close."""
    during = Q(created_at__gte=_opened_at(link))
    if link.is_closed and link.closed_at is not None:
        during &= Q(created_at__lte=link.closed_at + AFTER_CLOSE)
    return Message.objects.filter(tenant_id=link.tenant_id, conversation_id=link.conversation_id).filter(
        Q(case_entry__case_link=link) | (Q(case_entry__isnull=True) & during)
    )


def _opened_at(link: CaseLink):
    """Where this Case's time starts: when the conversation's previous Case closed (a customer who writes
    after that opens this one), else the conversation's start."""
    previous = (
        CaseLink.objects.filter(conversation_id=link.conversation_id, created_at__lt=link.created_at)
        .exclude(pk=link.pk)
        .order_by("-created_at")
        .values_list("closed_at", flat=True)
        .first()
    )
    return previous or link.conversation.created_at
