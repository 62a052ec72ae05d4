"""What every messaging provider adapter offers (one small class per provider, after healthchecks).

A provider is the customer's side of a conversation: it parses its webhooks into events, sends (text, media,
template, choices), downloads inbound media, lists an account's senders and templates, and, where it keeps
a bot's conversations, fetches a transcript for a handover. ``SWITCHBOARD_PROVIDERS`` names the class that
serves each ``ProviderAccount.provider`` (:mod:`relay.providers.registry`); this module knows none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from tenants.models import ProviderAccount, Sender

    from ..events import ParsedEvent


@dataclass(frozen=True)
class Button:
    title: str
    payload: str = ""  # quick-reply payload (1..128 chars) or the id of a list row
    url: str = ""  # URL buttons


@dataclass(frozen=True)
class TemplateValues:
    """Everything a WhatsApp template send needs beyond its name and language."""

    name: str
    language: str
    body_placeholders: list[str] = field(default_factory=list)
    header_text_placeholder: str = ""
    header_media_url: str = ""
    header_media_type: str = ""  # IMAGE, VIDEO, DOCUMENT
    header_filename: str = ""
    url_button_parameters: list[str] = field(default_factory=list)  # one per dynamic URL button, in order
    quick_reply_payloads: list[str] = field(default_factory=list)  # one per QUICK_REPLY button, in order
    rendered_text: str = ""  # what the agent sees in Salesforce


@dataclass(frozen=True)
class OutboundContent:
    """An agent's (or a partner's) message, as the provider must send it."""

    kind: str  # text | media | choices | template
    text: str = ""
    media_url: str = ""
    media_mime_type: str = ""
    media_filename: str = ""
    buttons: list[Button] = field(default_factory=list)
    template: TemplateValues | None = None


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    status: str = ""  # the provider's own status name, e.g. PENDING_ENROUTE


@dataclass(frozen=True)
class RemoteSender:
    channel: str
    address: str
    display_name: str = ""


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    language: str
    category: str
    status: str
    structure: dict  # the provider's structure: header / body / footer / buttons


class PartlyReadable(ValueError):
    """A webhook request some of whose events could not be read: ``events`` are the ones that could (stored all
    the same, or acknowledged if they are :class:`~relay.events.IgnoredEvent`), ``problems`` say what is wrong
    with each other one."""

    def __init__(self, events: Sequence[ParsedEvent], problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.events = events
        self.problems = problems


class Provider:
    """Base class. Subclasses set ``name`` and implement what their API can do."""

    name: ClassVar[str] = ""
    #: Whether :meth:`fetch_transcript` works: the provider keeps the conversations of its bots.
    has_transcripts: ClassVar[bool] = False

    def parse_webhook(self, body: dict) -> Sequence[ParsedEvent]:
        """Every event in one webhook request. Raise ValueError with a clear message when it is not ours, and
        :class:`PartlyReadable` when only some of a batch's events cannot be read. An event the provider
        documents that Switchboard deliberately does not carry is an :class:`~relay.events.IgnoredEvent`
        (acknowledged, never stored); one of a shape the provider does not document is a ValueError."""
        raise NotImplementedError

    def send(
        self,
        account: ProviderAccount,
        sender: Sender,
        to: str,
        content: OutboundContent,
        *,
        message_id: str,
        notify_url: str = "",
    ) -> SendResult:
        """Send one message. ``message_id`` is ours and is passed on, so a retried send is recognisable."""
        raise NotImplementedError

    def download_media(self, account: ProviderAccount, url: str) -> tuple[bytes, str, str]:
        """``(content, mime type, filename)`` of inbound media."""
        raise NotImplementedError

    def check_credentials(self, account: ProviderAccount) -> None:
        """Raise ExternalError when the account's key does not work."""
        raise NotImplementedError

    def list_senders(self, account: ProviderAccount) -> list[RemoteSender]:
        raise NotImplementedError

    def list_templates(self, account: ProviderAccount, sender: Sender) -> list[Template]:
        raise NotImplementedError

    def fetch_transcript(
        self, account: ProviderAccount, conversation_id: str, *, created_before: datetime | None = None
    ) -> list[dict]:
        """A bot conversation's messages, oldest first, as transcript entries: ``{"id", "speaker" (customer,
        bot, agent, system), "name", "text", "time" (epoch ms), "media" (None or {"url", "mime_type",
        "filename"})}``; only those created before ``created_before``."""
        raise NotImplementedError
