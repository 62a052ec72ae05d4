"""What Salesforce checks and computes when the Cases desk's records are inserted through the REST API:
FeedItem (a text post needs a Body of at most 10,000 characters), CaseComment (CommentBody at most 4,000),
ContentVersion (VersionData is base64; a version with FirstPublishLocationId gets a ContentDocument and a
ContentDocumentLink to that record). Called by :mod:`sandbox.salesforce.sobjects` on create.

References: Object Reference for the Salesforce Platform, "FeedItem" (Body: "The content of the FeedItem.
Required when Type is TextPost. Maximum size is 10,000 characters"), "CaseComment" (CommentBody: "Maximum
size is 4,000 bytes"), "ContentVersion" (FirstPublishLocationId, PathOnClient required on create).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sobjects import Answer, Context

BODY_LIMITS = {"FeedItem": ("Body", 10000), "CaseComment": ("CommentBody", 4000)}
# CaseComment's reference: "The maximum size of the comment body is 4,000 bytes" (Help 000382141: 4,000 characters
# of multi-byte text fail with STRING_TOO_LONG); FeedItem.Body's 10,000 are characters.
LIMIT_IN_BYTES = {"CaseComment"}


def prepare(ctx: Context, sobject: str, row: dict) -> Answer | None:
    """Check and complete a row about to be inserted; an error answer when Salesforce would refuse it."""
    from .sobjects import sf_error  # noqa: PLC0415 - sobjects calls this module

    if sobject == "FeedItem":
        row["Type"] = row.get("Type") or "TextPost"
        if row["Type"] == "TextPost" and not row.get("Body"):
            return sf_error(400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Body]", ["Body"])
        row["CommentCount"] = 0
    if sobject in BODY_LIMITS:
        name, limit = BODY_LIMITS[sobject]
        value = row.get(name) or ""
        size = len(value.encode("utf-8")) if sobject in LIMIT_IN_BYTES else len(value)
        if size > limit:
            return sf_error(
                400,
                "STRING_TOO_LONG",
                f"{name}: data value too large: {value[:50]}... (max length={limit})",
                [name],
            )
    if sobject == "ContentVersion":
        try:
            data = base64.b64decode(row.get("VersionData") or "", validate=True)
        except (binascii.Error, ValueError):
            return sf_error(
                400, "JSON_PARSER_ERROR", "Cannot deserialize instance of base64 from VALUE_STRING"
            )
        path = row.get("PathOnClient") or ""
        row["ContentSize"] = len(data)
        row["FileExtension"] = path.rpartition(".")[2].lower() if "." in path else ""
        row["FileType"] = (row["FileExtension"] or "UNKNOWN").upper()
        row["Title"] = row.get("Title") or path.rpartition(".")[0] or path
        row["IsLatest"] = True
        row["ContentDocumentId"] = ctx.org.records.ids.new("ContentDocument")
    return None


def after_insert(ctx: Context, sobject: str, row: dict) -> None:
    """A version published to a record is linked to it (what makes it show under the Case's Files)."""
    if sobject == "ContentVersion" and row.get("FirstPublishLocationId"):
        ctx.org.records.insert(
            "ContentDocumentLink",
            {
                "ContentDocumentId": row["ContentDocumentId"],
                "LinkedEntityId": row["FirstPublishLocationId"],
                "ShareType": "V",
                "Visibility": "AllUsers",
                "CreatedById": ctx.user_id,
                "IsDeleted": False,
            },
        )


def files_of(org, record_id: str) -> list[dict]:
    """The ContentVersions linked to a record (the Case page's Files list)."""
    documents = {
        link["ContentDocumentId"]
        for link in org.records.filter("ContentDocumentLink", LinkedEntityId=record_id)
    }
    return [v for v in org.records.all("ContentVersion") if v.get("ContentDocumentId") in documents]
