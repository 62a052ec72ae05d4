"""The Infobip adapter: sends, inbound media, credentials, senders and templates over Infobip's HTTP API.

Every call goes through :func:`relay.http.request` (system ``provider``) to the account's own base URL with
``Authorization: App <api key>``. Infobip answers errors in two envelopes (providers.md §1.1): the legacy
``requestError.serviceException`` (WhatsApp, SMS v2, Numbers) and the "E-code" one (SMS v3, Viber v2,
Messages API); both become an :class:`ExternalError` carrying the vendor code and a readable message.
"""

from __future__ import annotations

import mimetypes
import re
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx

from ... import http
from ...errors import RESPONSE_TOO_LARGE, ExternalError
from .. import vendor_api
from ..base import OutboundContent, Provider, RemoteSender, SendResult, Template
from . import conversations, payloads
from .parser import address, parse_webhook

if TYPE_CHECKING:
    from tenants.models import ProviderAccount, Sender

    from ...events import ParsedEvent

MEDIA_PATH = re.compile(r"/whatsapp/\d+/senders/(?!\.\.?/)[^/]+/media/(?!\.\.?$)[^/?#]+$")
NUMBERS_PAGE_SIZE = 100
NUMBERS_MAX_PAGES = 100
CAPABILITY_CHANNELS = {"WHATSAPP": "whatsapp", "SMS": "sms"}
FAILED_SEND_GROUPS = {"REJECTED", "UNDELIVERABLE", "EXPIRED"}
# The largest batch of inbound messages or reports Infobip posts at once: a Subscriptions API notification
# profile's maxBucketSize, "a maximum number of messages to be sent within a single request", is at most 2000
# (infobip-subscriptions-api-openapi.json, ProfileRequest; the pull endpoints' own limit is 1000, but a webhook
# is a profile's bucket). A webhook with more is not Infobip's (400, nothing stored).
MAX_RESULTS_PER_REQUEST = 2000


class InfobipProvider(Provider):
    name = "infobip"

    def parse_webhook(self, body: dict) -> list[ParsedEvent]:
        results = body.get("results") if isinstance(body, dict) else None
        if isinstance(results, list) and len(results) > MAX_RESULTS_PER_REQUEST:
            raise ValueError(
                f"{len(results)} results in one request; Infobip sends at most {MAX_RESULTS_PER_REQUEST}"
            )
        return parse_webhook(body)

    # --- sending -----------------------------------------------------------------------------------------

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
        try:
            if sender.channel == "whatsapp":
                order = self._button_order(account, sender, content)
                request = payloads.whatsapp(
                    sender.address, to, content, message_id, notify_url, button_order=order
                )
            elif sender.channel == "sms":
                request = payloads.sms(sender.address, to, content, message_id, notify_url)
            elif sender.channel == "viber":
                request = payloads.viber(sender.address, to, content, message_id, notify_url)
            else:
                raise ExternalError(f"Infobip cannot send on the {sender.channel} channel.", permanent=True)
        except payloads.ContentError as exc:
            raise ExternalError(str(exc), permanent=True, code="CONTENT") from None
        try:
            response = self._call(
                account, "POST", request.path, f"the {sender.channel} message", json=request.body
            )
        except ExternalError as exc:
            if exc.code == RESPONSE_TOO_LARGE and exc.status is not None and exc.status < 300:
                # Accepted (2xx), its answer too long to read: as one that is not JSON (_send_result), Infobip
                # keeps our id. Failing it would tell the agent "not sent" of a message the customer has.
                return SendResult(provider_message_id=message_id)
            raise
        return _send_result(response, message_id)

    def _button_order(
        self, account: ProviderAccount, sender: Sender, content: OutboundContent
    ) -> list[str] | None:
        """Only when a template has both URL and quick-reply parameters is their order unknown without the
        registered template; then (and only then) it is read from Infobip."""
        values = content.template
        if content.kind != "template" or values is None:
            return None
        if not (values.url_button_parameters and values.quick_reply_payloads):
            return None
        for template in self.list_templates(account, sender):
            if template.name == values.name and template.language == values.language:
                return payloads.dynamic_button_order(template.structure)
        return None

    # --- reading -------------------------------------------------------------------------------------------

    def download_media(self, account: ProviderAccount, url: str) -> tuple[bytes, str, str]:
        """The bytes, MIME type and file name of an inbound attachment.

        The URL comes in a webhook, so it is fetched only from this account's own hosts (:func:`_media_target`),
        with the account's key, through the egress guard, and read up to ``MEDIA_MAX_BYTES``: anything else
        is a permanent error (the desk then shows the agent a link instead of the file).
        """
        target = _media_target(account, url)
        response, mime = vendor_api.download_attachment(
            target, f"App {account.api_key}", vendor="Infobip", raise_for_error=raise_for_error
        )
        return response.content, mime, _filename(response, target, mime)

    def check_credentials(self, account: ProviderAccount) -> None:
        self._call(account, "GET", "/numbers/1/numbers", "the numbers list", params={"limit": 1, "page": 0})

    def list_senders(
        self, account: ProviderAccount, *, page_size: int = NUMBERS_PAGE_SIZE
    ) -> list[RemoteSender]:
        """The account's numbers (``GET /numbers/1/numbers``, all pages), one sender per channel a number has.

        Infobip's API (3.210.0) has no list of WhatsApp senders; a WhatsApp number shows up here with the
        ``WHATSAPP`` capability, and Viber senders with the ``VIBER`` type.
        """
        senders: list[RemoteSender] = []
        seen = 0
        for page in range(NUMBERS_MAX_PAGES):
            params = {"limit": page_size, "page": page}
            data = _json(self._call(account, "GET", "/numbers/1/numbers", "the numbers list", params=params))
            numbers = data.get("numbers") or []
            for item in numbers:
                senders.extend(_remote_senders(item))
            seen += len(numbers)
            if not numbers or seen >= int(data.get("numberCount") or 0):
                break
        return senders

    def list_templates(self, account: ProviderAccount, sender: Sender) -> list[Template]:
        path = f"/whatsapp/2/senders/{quote(payloads.number(sender.address), safe='')}/templates"
        data = _json(self._call(account, "GET", path, f"the templates of {sender.address}"))
        return [
            Template(
                id=str(item.get("id", "")),
                name=str(item.get("name", "")),
                language=str(item.get("language", "")),
                category=str(item.get("category", "")),
                status=str(item.get("status", "")),
                structure=structure if isinstance(structure := item.get("structure"), dict) else {},
            )
            for item in data.get("templates") or []
            if isinstance(item, dict)
        ]

    has_transcripts = True  # a bot's conversation, from the Conversations API (conversations.py)

    def fetch_transcript(
        self,
        account: ProviderAccount,
        conversation_id: str,
        *,
        created_before: datetime | None = None,
        page_size: int = conversations.PAGE_SIZE,
    ) -> list[dict]:
        """Every message of the conversation, oldest first, as transcript entries."""
        if not conversation_id.strip():
            raise ExternalError("No Infobip conversation id to fetch the transcript from.", permanent=True)
        path = f"/ccaas/1/conversations/{quote(conversation_id, safe='')}/messages"
        params: dict = {"limit": page_size, "orderBy": "createdAt:asc"}
        if created_before is not None:
            params["createdBefore"] = conversations.conversations_time(created_before)
        entries: list[dict] = []
        for page in range(conversations.MAX_PAGES):
            data = _json(
                self._call(
                    account,
                    "GET",
                    path,
                    f"the messages of conversation {conversation_id}",
                    params={**params, "page": page},
                )
            )
            messages = [m for m in data.get("messages") or [] if isinstance(m, dict)]
            entries.extend(e for e in map(conversations.transcript_entry, messages) if e is not None)
            total = int((data.get("pagination") or {}).get("totalItems") or 0)
            if not messages or (page + 1) * page_size >= total:
                break
        entries.sort(key=lambda e: e["time"])  # stable: equal times keep the API's order
        return entries

    # --- HTTP ----------------------------------------------------------------------------------------------

    def _call(
        self,
        account: ProviderAccount,
        method: str,
        path: str,
        what: str,
        *,
        absolute: bool = False,
        accept: str = "application/json",
        **kwargs,
    ) -> httpx.Response:
        url = path if absolute else api_base(account) + path
        headers = {"Authorization": f"App {account.api_key}", "Accept": accept}
        response = http.request("provider", method, url, headers=headers, **kwargs)
        raise_for_error(response, what)
        return response


def raise_for_error(response: httpx.Response, what: str) -> None:
    """Infobip's error answer → :class:`ExternalError` (permanent for 4xx but 408/429; 5xx transient)."""
    status = response.status_code
    if status < 400:
        return
    code, text, details = error_details(response)
    said = f" ({text})" if text else ""
    if status == 401:
        message = f"Infobip API key rejected{said}: check the API key of this provider account."
        raise ExternalError(message, permanent=True, status=status, code=code)
    if status == 403:
        message = f"Infobip refused {what}{said}: the API key may not use this sender or this API."
        raise ExternalError(message, permanent=True, status=status, code=code)
    if status == 429:
        message = f"Infobip rate limit reached for {what}{said}; retrying later."
        raise ExternalError(
            message, permanent=False, status=status, code=code, retry_after=http.retry_after_seconds(response)
        )
    if status == 408 or status >= 500:
        message = f"Infobip failed on {what}{said}; retrying later."
        raise ExternalError(
            message, permanent=False, status=status, code=code, retry_after=http.retry_after_seconds(response)
        )
    reason = details or text or http.reason_phrase(status)
    raise ExternalError(f"Infobip rejected {what}: {reason}", permanent=True, status=status, code=code)


def error_details(response: httpx.Response) -> tuple[str | None, str, str]:
    """(vendor code, Infobip's text, field messages) from either error envelope."""
    try:
        data = response.json()
    except ValueError:
        return None, "", ""
    if not isinstance(data, dict):
        return None, "", ""
    # Only the documented shapes are read; anything else (a proxy's body) is no detail, so the status alone
    # classifies the answer.
    request_error = data.get("requestError")
    exception = request_error.get("serviceException") if isinstance(request_error, dict) else None
    if isinstance(exception, dict):  # legacy envelope
        fields = exception.get("validationErrors") or {}
        details = (
            "; ".join(
                f"{field}: {', '.join(map(str, messages if isinstance(messages, list) else [messages]))}"
                for field, messages in fields.items()
            )
            if isinstance(fields, dict)
            else ""
        )
        return (
            _code(exception.get("messageId")),
            http.short_text(exception.get("text")),
            http.short_text(details),
        )
    if "errorCode" in data:  # E-code envelope
        violations = data.get("violations")
        details = "; ".join(
            f"{v.get('property')}: {v.get('violation')}"
            for v in (violations if isinstance(violations, list) else [])
            if isinstance(v, dict)
        )
        return _code(data["errorCode"]), http.short_text(data.get("description")), http.short_text(details)
    return None, "", ""


def _code(value) -> str | None:
    """A vendor error code as we keep it: short, one word (Infobip's are like ``BAD_REQUEST`` or ``E400``)."""
    code = http.short_text(value, 60).replace(" ", "_")
    return code or None


def api_base(account: ProviderAccount) -> str:
    return vendor_api.api_base(
        account, whose="The provider account's", example="https://abcd12.api.infobip.com"
    )


def _send_result(response: httpx.Response, message_id: str) -> SendResult:
    try:
        data = response.json()
    except ValueError:  # accepted (2xx) and Infobip keeps our id: the row is still recognisable
        return SendResult(provider_message_id=message_id)
    item = data
    if isinstance(data, dict) and isinstance(data.get("messages"), list) and data["messages"]:
        item = data["messages"][0]
    if not isinstance(item, dict):
        return SendResult(provider_message_id=message_id)
    status = stated if isinstance(stated := item.get("status"), dict) else {}
    if str(status.get("groupName", "")).upper() in FAILED_SEND_GROUPS:
        detail = http.short_text(status.get("description") or status.get("name")) or "no reason given"
        raise ExternalError(
            f"Infobip did not accept the message: {detail}", permanent=True, code=_code(status.get("name"))
        )
    return SendResult(
        provider_message_id=str(item.get("messageId") or message_id), status=str(status.get("name", ""))
    )


def _json(response: httpx.Response) -> dict:
    return vendor_api.json_object(response, "Infobip")


def _remote_senders(item: dict) -> list[RemoteSender]:
    raw = str(item.get("number") or "").strip()
    if not raw:
        return []
    label = " ".join(
        part for part in (str(item.get("countryName") or ""), str(item.get("type") or "")) if part
    )
    channels = [CAPABILITY_CHANNELS[c] for c in item.get("capabilities") or [] if c in CAPABILITY_CHANNELS]
    if item.get("type") == "VIBER":
        channels.append("viber")
    return [RemoteSender(channel=channel, address=address(raw), display_name=label) for channel in channels]


def _media_target(account: ProviderAccount, url: str) -> str:
    """Where to fetch an inbound attachment from: this account's own hosts only
    (:func:`vendor_api.media_target`); Infobip's media endpoint (``/whatsapp/1/senders/{sender}/media/{id}``)
    is always read through the account's base URL, whatever host the webhook named."""
    media_path = MEDIA_PATH.search(vendor_api.split(url)[0].path)
    if media_path:
        return api_base(account) + media_path.group(0)
    return vendor_api.media_target(account, url, vendor="Infobip", host_suffixes=(".infobip.com",))


def _filename(response: httpx.Response, url: str, mime: str) -> str:
    name = vendor_api.disposition_filename(response)
    if name:
        return name
    stem = vendor_api.url_filename(url)
    if "." not in stem:
        stem += mimetypes.guess_extension(mime) or ""
    return stem
