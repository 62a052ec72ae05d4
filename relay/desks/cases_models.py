"""The Cases desk's rows (relay/desks/cases.py): which Salesforce Case a conversation is on, and which
Case record holds each message of its transcript. Imported by relay/models.py so Django registers them.

A conversation is one customer and one sender for ever; Cases come and go: a conversation has at most one
open :class:`CaseLink` and keeps the closed ones, so the panel on an old Case still finds its conversation.
Every id Salesforce gives us is written here before the next call, so a retry never makes a second record.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class CaseLink(models.Model):
    """A Salesforce Case of a conversation. ``case_id`` is empty only while the Case is being created (the
    row is written first, so a retry after a lost answer looks the Case up instead of creating another)."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "relay.Conversation", on_delete=models.CASCADE, related_name="case_links"
    )
    case_id = models.CharField(max_length=18, blank=True, db_index=True, help_text="18-character Case id.")
    case_number = models.CharField(max_length=30, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=40, blank=True, help_text="The Case's Status as last seen.")
    is_closed = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    contact_id = models.CharField(max_length=18, blank=True)
    owner_id = models.CharField(max_length=18, blank=True, help_text="User (005) or queue (00G).")
    #: When the create request was first sent: a retry without ``case_id`` looks for a Case made since.
    create_started_at = models.DateTimeField(null=True, blank=True)
    reopened_count = models.PositiveSmallIntegerField(default=0)
    #: The ChangeEventHeader.commitNumber of the last change applied: a replayed event is not applied twice.
    last_commit_number = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "relay"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "case_id"], condition=~Q(case_id=""), name="one_link_per_case"
            ),
            models.UniqueConstraint(
                fields=["conversation"], condition=Q(is_closed=False), name="one_open_case_per_conversation"
            ),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Case {self.case_number or self.case_id or '(being created)'} ({self.status or 'new'})"


class CaseEntry(models.Model):
    """One message written to a Case's transcript: the FeedItem or CaseComment, and its files."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField("relay.Message", on_delete=models.CASCADE, related_name="case_entry")
    case_link = models.ForeignKey(CaseLink, on_delete=models.CASCADE, related_name="entries")
    record_id = models.CharField(max_length=18, blank=True, help_text="FeedItem (0D5) or CaseComment (00a).")
    #: ContentVersion ids of the message's files, written one by one as Salesforce answers.
    file_ids = models.JSONField(default=list, blank=True)
    #: When the write was first sent: a retry without ``record_id`` looks for the record made since.
    started_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    written_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "relay"
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(written_at=None), name="case_entry_due_idx")
        ]

    def __str__(self) -> str:
        return f"Transcript entry {self.record_id or '(pending)'} of message {self.message_id}"
