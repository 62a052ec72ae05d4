"""The normalized shapes every provider webhook parser produces, and every desk consumes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    MEDIA = "media"  # image, video, audio, voice, document, sticker: see Media.kind
    LOCATION = "location"
    CONTACTS = "contacts"
    BUTTON = "button"  # a tap on a quick-reply button
    LIST_REPLY = "list_reply"  # a choice in a WhatsApp list
    UNSUPPORTED = "unsupported"  # anything else: delivered as a readable note, never dropped


@dataclass(frozen=True)
class Media:
    url: str  # where to download it (the provider's URL; may need the account's credentials)
    kind: str  # image, video, audio, voice, document, sticker
    mime_type: str = ""
    filename: str = ""
    caption: str = ""
    size: int | None = None


@dataclass(frozen=True)
class InboundMessage:
    """A customer wrote to one of the tenant's senders."""

    provider_message_id: str
    channel: str  # whatsapp | sms | viber
    sender_address: str  # our number / sender name, normalized (E.164 with + for numbers)
    customer: str  # the customer's E.164 number (with +) or channel user id
    kind: Kind
    text: str = ""  # the text, the caption, the button/list title, or the note for unsupported types
    customer_name: str = ""
    media: Media | None = None
    payload: str = ""  # button payload or list-reply id
    location: dict | None = None  # {"latitude", "longitude", "name", "address", "url"}
    contacts: list[dict] = field(default_factory=list)
    received_at: datetime | None = None
    raw: dict = field(default_factory=dict, compare=False)  # the provider's own result, stored for audit

    def as_dict(self) -> dict:
        data = asdict(self)
        data["kind"] = str(self.kind)
        data["received_at"] = self.received_at.isoformat() if self.received_at else None
        return data


class ReportStatus(StrEnum):
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    PENDING = "pending"  # intermediate states providers report; recorded, nothing to tell Salesforce


@dataclass(frozen=True)
class StatusReport:
    """The provider reports what became of a message we sent."""

    provider_message_id: str
    status: ReportStatus
    error_code: str = ""
    error_message: str = ""  # a reason an agent can read
    permanent: bool = True
    reported_at: datetime | None = None
    raw: dict = field(default_factory=dict, compare=False)


WebhookEvent = InboundMessage | StatusReport
