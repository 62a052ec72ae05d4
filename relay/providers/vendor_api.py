"""What the HTTP provider adapters (``<name>/client.py``) share where their vendors behave alike: the
account's base URL, an answer that must be a JSON object, and an inbound attachment, fetched only from the
account's own hosts. Each adapter names itself in the messages; its vendor's error answers stay its own
(``raise_for_error``).
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import Message as MimeHeader
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

import httpx
from django.conf import settings

from .. import http
from ..errors import ExternalError

if TYPE_CHECKING:
    from tenants.models import ProviderAccount


def api_base(account: ProviderAccount, *, whose: str, example: str) -> str:
    """The account's base URL, to which API paths are appended; refused (permanent) if it carries anything a
    path could be smuggled through (a #fragment or ?query makes the appended path vanish) or credentials."""
    if "#" in account.base_url or "?" in account.base_url or "@" in urlsplit(account.base_url).netloc:
        raise ExternalError(
            f"{whose} API base URL must be a bare https origin such as {example}: fix it in the account.",
            permanent=True,
            code="BAD_BASE_URL",
        )
    return account.base_url.rstrip("/")


def json_object(response: httpx.Response, vendor: str) -> dict:
    """The answer's JSON object; another JSON value reads as an empty one, no JSON at all is an error."""
    try:
        data = response.json()
    except ValueError:
        raise ExternalError(
            f"{vendor} answered with something that is not JSON", status=response.status_code
        ) from None
    return data if isinstance(data, dict) else {}


def split(url: str) -> tuple[SplitResult, int | None]:
    """The URL's parts and port; what is not a URL (or has a port that is not a number from 0 to 65535) has
    no parts, so it matches no host."""
    try:
        parts = urlsplit(url)
        return parts, parts.port
    except ValueError:
        return urlsplit(""), None


def media_target(account: ProviderAccount, url: str, *, vendor: str, host_suffixes: tuple[str, ...]) -> str:
    """An inbound attachment's URL, from a webhook: fetched only from the account's base URL origin or an
    https host of the vendor's (``host_suffixes``); anything else (another host, plain http, credentials in
    it, a port, control characters) is refused, else whoever signs a webhook could make the server read any
    address."""
    parts, port = split(url)
    base = urlsplit(account.base_url)
    host = (parts.hostname or "").lower()
    # urlsplit silently drops tabs and newlines that httpx refuses: such a URL is not the host it seems.
    clean = "@" not in parts.netloc and not parts.fragment and url.isprintable()
    same_origin = (parts.scheme, parts.netloc.lower()) == (base.scheme, base.netloc.lower())
    vendor_host = parts.scheme == "https" and port in (None, 443) and host.endswith(host_suffixes)
    if clean and (same_origin or vendor_host):
        return url
    raise ExternalError(
        f"the attachment is on {host or 'no host'} over {parts.scheme or 'no scheme'}, not on this {vendor} "
        "account's own https hosts: Switchboard does not download it",
        permanent=True,
        code="MEDIA_HOST",
    )


def download_attachment(
    target: str,
    authorization: str,
    *,
    vendor: str,
    raise_for_error: Callable[[httpx.Response, str], None],
) -> tuple[httpx.Response, str]:
    """The answer holding an attachment and its MIME type: with the account's key, through the egress guard,
    read up to ``MEDIA_MAX_BYTES``; the vendor's error answers are its ``raise_for_error``'s."""
    headers = {"Authorization": authorization, "Accept": "*/*"}
    response = http.download("media", target, max_bytes=settings.MEDIA_MAX_BYTES, headers=headers)
    raise_for_error(response, "the customer's attachment")
    if response.status_code != 200:  # a redirect is not followed, and is no file either
        raise ExternalError.from_status(
            response.status_code, f"{vendor} answered HTTP {response.status_code} instead of the attachment"
        )
    mime = (response.headers.get("content-type") or "application/octet-stream").split(";")[0].strip()
    return response, mime


def disposition_filename(response: httpx.Response) -> str:
    """The file name the answer's Content-Disposition gives, made safe as a name; "" when it gives none."""
    disposition = response.headers.get("content-disposition")
    if not disposition:
        return ""
    header = MimeHeader()
    header["content-disposition"] = disposition
    name = header.get_filename()
    return name.replace("/", "_").replace("\\", "_") if name else ""


def url_filename(url: str) -> str:
    """The URL path's last segment, or ``attachment``."""
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or "attachment"
