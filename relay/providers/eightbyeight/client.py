"""The 8x8 adapter: sends, inbound media, credentials and templates over 8x8's Chat Apps API.

Every call goes through :func:`relay.http.request` (system ``provider``) to the account's regional base URL
(``payloads.REGIONS``) with ``Authorization: Bearer <api key>``. 8x8 answers errors as ``{code, message,
errorId, timestamp}`` (providers.md §2); they become an :class:`ExternalError` with the code and message.
An account needs its sub-account id (sending) and account id (templates, webhooks); a sender is one of
the sub-account's channels, named by its channel id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote

import httpx

from tenants.models import WhatsAppTemplate

from ... import http
from ...errors import ExternalError
from .. import vendor_api
from ..base import OutboundContent, Provider, RemoteSender, SendResult, Template
from . import payloads
from .parser import parse_webhook

if TYPE_CHECKING:
    from tenants.models import ProviderAccount, Sender

    from ...events import ParsedEvent


#: Where 8x8 keeps its own files (https only): the regional API hosts and their subdomains.
MEDIA_HOST_SUFFIXES = (".8x8.com", ".8x8.uk", ".8x8.id")


class EightByEightProvider(Provider):
    name = "8x8"
    #: What the setup forms ask for besides the key (the wizard and the partner API read these).
    regions: ClassVar[dict[str, tuple[str, str]]] = payloads.REGIONS
    account_fields: ClassVar[tuple[str, ...]] = ("subaccount_id", "provider_account_id")
    #: 8x8 signs nothing: it sends the configured Authorization value, which Basic credentials fit.
    webhook_auths: ClassVar[tuple[str, ...]] = ("basic",)

    def parse_webhook(self, body: dict) -> list[ParsedEvent]:
        return parse_webhook(body)

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
        """One message through the sub-account's channel of the sender's kind. ``notify_url`` is not passed:
        8x8's receipts go to the account's configured webhook, which carries its Authorization value."""
        try:
            body = payloads.message(
                sender.channel,
                to,
                content,
                message_id,
                buttons=self._registered_buttons(account, sender, content),
            )
        except payloads.ContentError as exc:
            raise ExternalError(str(exc), permanent=True, code="CONTENT") from None
        path = f"/api/v1/subaccounts/{quote(_subaccount(account), safe='')}/messages"
        data = _json(self._call(account, "POST", path, f"the {sender.channel} message", json=body))
        umid = str(data.get("umid") or "")
        if not umid:
            raise ExternalError("8x8 accepted the message without a umid", permanent=False)
        status = stated if isinstance(stated := data.get("status"), dict) else {}
        return SendResult(provider_message_id=umid, status=str(status.get("state") or ""))

    def _registered_buttons(self, account: ProviderAccount, sender: Sender, content: OutboundContent):
        """A template's registered buttons whenever it has a button value: each value's ``index`` is its
        button's position among all of them, fixed buttons (a phone number, a static link) included. From the
        templates the panel keeps (relay/outbound/template_sync.py), else 8x8's list; None otherwise."""
        values = content.template
        if content.kind != "template" or values is None or sender.channel != "whatsapp":
            return None
        if not (values.url_button_parameters or values.quick_reply_payloads):
            return None
        kept = WhatsAppTemplate.objects.filter(
            sender=sender, name=values.name, language=values.language
        ).values_list("structure", flat=True)
        for structure in kept:
            if isinstance(structure, dict) and isinstance(structure.get("buttons"), list):
                return structure["buttons"]
        for template in self.list_templates(account, sender):
            if (template.name, template.language) == (values.name, values.language):
                return template.structure.get("buttons")
        return None

    def download_media(self, account: ProviderAccount, url: str) -> tuple[bytes, str, str]:
        """An inbound attachment from this account's own hosts only (:func:`vendor_api.media_target`), with
        the key, through the egress guard, up to ``MEDIA_MAX_BYTES``."""
        target = vendor_api.media_target(account, url, vendor="8x8", host_suffixes=MEDIA_HOST_SUFFIXES)
        response, mime = vendor_api.download_attachment(
            target, f"Bearer {account.api_key}", vendor="8x8", raise_for_error=raise_for_error
        )
        name = vendor_api.disposition_filename(response) or vendor_api.url_filename(target)
        return response.content, mime, name

    def check_credentials(self, account: ProviderAccount) -> None:
        """The key works for this account id: its webhook configuration can be read."""
        self._call(account, "GET", _webhooks_path(account), "the webhook configuration")

    def list_senders(self, account: ProviderAccount) -> list[RemoteSender]:
        """8x8's API has no list of a sub-account's channels (its OpenAPI file has none): the admin enters
        each channel id, shown in 8x8 Connect. The account's key is still checked."""
        self.check_credentials(account)
        return []

    def list_templates(self, account: ProviderAccount, sender: Sender) -> list[Template]:
        if sender.channel != "whatsapp":
            return []
        path = (
            f"/api/v1/accounts/{quote(_account_id(account), safe='')}/channels/"
            f"{quote(sender.address, safe='')}/templates"
        )
        data = _json(self._call(account, "GET", path, f"the templates of channel {sender.address}"))
        templates = []
        for item in data.get("templates") or []:
            if not isinstance(item, dict):
                continue
            name, language = str(item.get("templateName") or ""), str(item.get("language") or "")
            templates.append(
                Template(
                    id=f"{name}:{language}",
                    name=name,
                    language=language,
                    category=str(item.get("category") or ""),
                    status=str(item.get("status") or ""),
                    structure=payloads.structure(item.get("components")),
                )
            )
        return templates

    def configure_webhooks(self, account: ProviderAccount, url: str, authorization: str) -> None:
        """Point the sub-account's inbound (MSG) and receipt (CADR) webhooks at ``url`` with the
        ``Authorization`` value 8x8 sends verbatim (``POST /api/v1/accounts/{accountId}/webhooks``)."""
        body = [
            {
                "subAccountId": _subaccount(account),
                "url": url,
                "httpAuthorization": authorization,
                "enabled": True,
            }
        ]
        self._call(account, "POST", _webhooks_path(account), "the webhook configuration", json=body)

    def _call(self, account: ProviderAccount, method: str, path: str, what: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {account.api_key}", "Accept": "application/json"}
        response = http.request("provider", method, api_base(account) + path, headers=headers, **kwargs)
        raise_for_error(response, what)
        return response


def raise_for_error(response: httpx.Response, what: str) -> None:
    """8x8's error answer → :class:`ExternalError` (permanent for 4xx but 408/429; 5xx transient)."""
    status = response.status_code
    if status < 400:
        return
    code, text = error_details(response)
    said = f" ({text})" if text else ""
    if status == 401:
        raise ExternalError(
            f"8x8 refused the credentials{said}: check the API key, sub-account id and account id.",
            permanent=True,
            status=status,
            code=code,
        )
    if status in (408, 429) or status >= 500:
        raise ExternalError(
            f"8x8 failed on {what}{said}; retrying later.",
            permanent=False,
            status=status,
            code=code,
            retry_after=http.retry_after_seconds(response),
        )
    reason = text or http.reason_phrase(status)
    raise ExternalError(f"8x8 rejected {what}: {reason}", permanent=True, status=status, code=code)


def error_details(response: httpx.Response) -> tuple[str | None, str]:
    try:
        data = response.json()
    except ValueError:
        return None, ""
    if not isinstance(data, dict):
        return None, ""
    code = http.short_text(data.get("code"), 20).replace(" ", "_") or None
    return code, http.short_text(data.get("message"))


def api_base(account: ProviderAccount) -> str:
    return vendor_api.api_base(account, whose="The 8x8 account's", example="https://chatapps.8x8.com")


def _subaccount(account: ProviderAccount) -> str:
    if not account.subaccount_id:
        raise ExternalError("The 8x8 account has no sub-account id: add it to the account.", permanent=True)
    return account.subaccount_id


def _account_id(account: ProviderAccount) -> str:
    if not account.provider_account_id:
        raise ExternalError("The 8x8 account has no account id: add it to the account.", permanent=True)
    return account.provider_account_id


def _webhooks_path(account: ProviderAccount) -> str:
    return f"/api/v1/accounts/{quote(_account_id(account), safe='')}/webhooks"


def _json(response: httpx.Response) -> dict:
    return vendor_api.json_object(response, "8x8")
