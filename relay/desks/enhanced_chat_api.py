"""Salesforce's Enhanced Chat API (Messaging for In-App and Web, REST API v2), spoken as the customer's client:
each customer conversation has its own end user (an unauthenticated access token) and its own Enhanced Chat
conversation. docs/enhanced-chat.md cites the reference; the rules this module keeps:

* every call goes to the org's SCRT host, ``https://<my domain>.my.salesforce-scrt.com``: the REST calls under
  ``/iamessage/api/v2/``, the event stream at ``/eventrouter/v1/sse``;
* ``POST authorization/unauthenticated/access-token`` (orgId, esDeveloperName, capabilitiesVersion, platform)
  gives an end user's JWT; ``GET authorization/continuation-access-token`` with a still-valid token gives a
  new one for the same end user (the token is a secret: never logged, never in an error message);
* ``POST conversation`` with the conversationId the client chose (a UUID) and the deployment's pre-chat fields
  as ``routingAttributes``; ``POST conversation/{id}/message`` a text with the message ``id`` the client chose
  (a retry sends the same id); ``POST conversation/{id}/file`` a file, multipart; ``DELETE conversation/{id}``
  closes it;
* 401: the token expired or was revoked; 429: a rate limit holds the call back (transient, ``Retry-After``
  honoured); 5xx and timeouts are transient; other 4xx permanent.

The stream itself (asyncio, thousands at once) is relay/desks/enhanced_chat_feed.py; :class:`EventParser` here
reads its ``text/event-stream`` lines.
"""

from __future__ import annotations

import base64
import codecs
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from .. import http
from ..errors import ExternalError

API_PATH = "/iamessage/api/v2"
SSE_PATH = "/eventrouter/v1/sse"
CAPABILITIES_VERSION = "1"
PLATFORM = "Web"
APP_NAME = "Switchboard"

TOKEN_REFUSED = "TOKEN_REFUSED"
RATE_LIMITED = "RATE_LIMITED"
CONVERSATION_GONE = "CONVERSATION_GONE"
RATE_LIMIT_TEXT = "Held back by Salesforce's rate limit"

#: Message ids are derived from Switchboard's own ids, so a retry after a lost answer repeats the same id.
ID_NAMESPACE = uuid.UUID("1f6c3d0e-8a43-4c1b-9a53-5e0a2f7c1e18")


def stable_id(*parts: object) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, ":".join(str(p) for p in parts)))


@dataclass
class EndUserToken:
    access_token: str
    last_event_id: str = ""
    expires_at: datetime | None = None

    def __repr__(self) -> str:  # the token is a secret
        return f"EndUserToken(expires_at={self.expires_at!r})"


class EnhancedChatApi:
    """One org's Enhanced Chat deployment at its SCRT host (``org_id``: its 15-character form, as the API wants)."""

    def __init__(self, base_url: str, org_id: str, es_developer_name: str) -> None:
        self.base = base_url.rstrip("/")
        self.org_id = org_id[:15]
        self.es_developer_name = es_developer_name

    # --- the end user's token ----------------------------------------------------------------------------

    def new_end_user(self) -> EndUserToken:
        response = self._call(
            "POST",
            "authorization/unauthenticated/access-token",
            None,
            json={
                "orgId": self.org_id,
                "esDeveloperName": self.es_developer_name,
                "capabilitiesVersion": CAPABILITIES_VERSION,
                "platform": PLATFORM,
                "context": {"appName": APP_NAME, "clientVersion": "1"},
            },
        )
        return _token(response, "access-token")

    def continue_token(self, token: str) -> EndUserToken:
        """A new token for the same end user (the old one must still be valid)."""
        return _token(self._call("GET", "authorization/continuation-access-token", token), "continuation")

    # --- the conversation --------------------------------------------------------------------------------

    def create_conversation(
        self, token: str, conversation_id: str, routing_attributes: dict[str, str]
    ) -> None:
        """Create it; one that exists already (409: a retry after a lost answer) is taken as created."""
        body: dict = {"conversationId": conversation_id, "esDeveloperName": self.es_developer_name}
        if routing_attributes:
            body["routingAttributes"] = routing_attributes
        try:
            self._call("POST", "conversation", token, json=body)
        except ExternalError as exc:
            if exc.status != 409:
                raise

    def send_text(self, token: str, conversation_id: str, message_id: str, text: str) -> None:
        self._call(
            "POST",
            f"conversation/{conversation_id}/message",
            token,
            json={
                "message": {
                    "id": message_id,
                    "messageType": "StaticContentMessage",
                    "staticContent": {"formatType": "Text", "text": text},
                },
                "esDeveloperName": self.es_developer_name,
            },
        )

    def send_file(
        self,
        token: str,
        conversation_id: str,
        message_id: str,
        *,
        name: str,
        content_type: str,
        data: bytes,
        text: str = "",
    ) -> None:
        entry: dict = {
            "esDeveloperName": self.es_developer_name,
            "message": {"id": message_id, "fileId": stable_id("file", message_id)},
        }
        if text:
            entry["message"]["text"] = text
        self._call(
            "POST",
            f"conversation/{conversation_id}/file",
            token,
            files={
                "messageEntry": (None, json.dumps(entry), "application/json"),
                "fileData": (name, data, content_type or "application/octet-stream"),
            },
        )

    def acknowledge(self, token: str, conversation_id: str, acks: list[tuple[str, str, str]]) -> None:
        """Delivery / Read acknowledgements of agent entries: ``(ack id, "Delivery" | "Read", entry id)``, the
        ack id stable so a retry is the same acknowledgement."""
        self._call(
            "POST",
            f"conversation/{conversation_id}/acknowledge-entries",
            token,
            json={
                "acks": [
                    {"id": ack, "entryType": kind, "conversationEntryId": entry} for ack, kind, entry in acks
                ]
            },
        )

    def is_open(self, token: str, conversation_id: str) -> bool:
        """Whether the end user's conversation is still open (``GET conversation/list``): after a refusal that
        may mean the agent closed it a moment ago."""
        response = self._call(
            "GET", "conversation/list", token, params={"inclClosedConvs": "false", "limit": "50"}
        )
        try:
            found = response.json().get("conversations") or []
        except (ValueError, AttributeError):
            raise ExternalError("The Enhanced Chat conversation list is not a JSON object.") from None
        return any(isinstance(c, dict) and c.get("conversationId") == conversation_id for c in found)

    def close(self, token: str, conversation_id: str) -> None:
        self._call(
            "DELETE",
            f"conversation/{conversation_id}",
            token,
            params={"esDeveloperName": self.es_developer_name},
        )

    # --- plumbing ----------------------------------------------------------------------------------------

    def _call(self, method: str, resource: str, token: str | None, **kwargs) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = http.request(
            "salesforce", method, f"{self.base}{API_PATH}/{resource}", headers=headers, **kwargs
        )
        if response.status_code < 300:
            return response
        raise refusal(response, resource.split("/", 1)[0])


def refusal(response: httpx.Response, noun: str) -> ExternalError:
    """What an Enhanced Chat error answer means for the caller."""
    status = response.status_code
    said = _said(response)
    if status == 429:
        return ExternalError(
            f"{RATE_LIMIT_TEXT} ({noun}: {said}); it goes once the limit allows, in order",
            status=429,
            code=RATE_LIMITED,
            retry_after=http.retry_after_seconds(response),
        )
    if status == 401:
        return ExternalError(
            f"Enhanced Chat {noun}: the end user's access token was refused ({said})",
            status=401,
            code=TOKEN_REFUSED,
        )
    if status == 404 and noun == "conversation":  # unknown to this end user
        return ExternalError(
            f"Enhanced Chat {noun}: the conversation is unknown or closed ({said})",
            permanent=True,
            status=404,
            code=CONVERSATION_GONE,
        )
    return ExternalError.from_status(  # a 503's Retry-After is honoured like a 429's
        status,
        f"Enhanced Chat {noun} answered {status} {http.reason_phrase(status)}: {said}",
        retry_after=http.retry_after_seconds(response),
    )


def _said(response: httpx.Response) -> str:
    """The documented error envelope's message (``{"message": ...}`` or ``{"error": ...}``), never the raw body."""
    try:
        body = response.json()
    except ValueError:
        return http.reason_phrase(response.status_code)
    if isinstance(body, dict):
        for key in ("message", "error", "errorMessage"):
            if isinstance(body.get(key), str) and body[key]:
                return http.short_text(body[key], 160)
    if isinstance(body, list) and body and isinstance(body[0], dict):  # [{"errorCode": ..., "message": ...}]
        text = body[0].get("message") or body[0].get("errorCode")
        if isinstance(text, str):
            return http.short_text(text, 160)
    return http.reason_phrase(response.status_code)


def _token(response: httpx.Response, noun: str) -> EndUserToken:
    try:
        body = response.json()
    except ValueError:
        raise ExternalError(f"The Enhanced Chat {noun} answer is not JSON.") from None
    token = body.get("accessToken") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise ExternalError(f"The Enhanced Chat {noun} answer has no accessToken.")
    last = body.get("lastEventId")
    return EndUserToken(
        access_token=token,
        last_event_id=str(last) if isinstance(last, str | int) and not isinstance(last, bool) else "",
        expires_at=token_expiry(token),
    )


def token_expiry(token: str) -> datetime | None:
    """The ``exp`` claim of a JWT, read without verifying it (it only decides when to renew; Salesforce checks
    the token). None when the token is not a JWT or has no readable ``exp``."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        exp = payload.get("exp") if isinstance(payload, dict) else None
        if isinstance(exp, int | float) and not isinstance(exp, bool) and 0 < exp < 2**33:
            return datetime.fromtimestamp(exp, tz=UTC)
    except (ValueError, UnicodeDecodeError, OverflowError, OSError):
        return None
    return None


# --- the event stream's format --------------------------------------------------------------------------


@dataclass
class StreamEvent:
    id: str
    event: str
    data: str


#: The standard's line ends, and only they: str.splitlines (and httpx's aiter_lines) also cut at U+2028, U+2029,
#: NEL, form feed..., which a JSON string may hold unescaped, and the event's data would be cut in two.
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass
class EventParser:
    """``text/event-stream`` (the WHATWG HTML standard, "Server-sent events"): fields ``id``, ``event``, ``data``
    up to a blank line; lines starting with ``:`` are comments (keep-alives). At most ``max_event_chars`` per
    event: a longer one is dropped whole (hostile or broken), never cut. :meth:`feed_bytes` takes the stream
    as it arrives (UTF-8, any chunking) and holds an unfinished line only up to that limit: a line that never
    ends costs no more memory than one event may."""

    max_event_chars: int = 1_048_576
    _id: str = ""
    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _size: int = 0
    _oversized: bool = False
    _pending: str = ""  # the unfinished line of what was read so far
    _after_cr: bool = False  # the last chunk ended with CR: an LF starting the next one is the same line end
    _skipping_line: bool = False  # the current line outgrew the limit: dropped up to its end
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    def feed_bytes(self, chunk: bytes) -> list[StreamEvent]:
        """The events this chunk of the stream completes (the stream is always UTF-8, the standard says)."""
        return self.feed_text(self._decoder.decode(chunk))

    def feed_text(self, chunk: str) -> list[StreamEvent]:
        if self._after_cr and chunk.startswith("\n"):
            chunk = chunk[1:]
        if chunk:
            self._after_cr = chunk.endswith("\r")
        *lines, rest = _LINE_END.split(self._pending + chunk)
        events = []
        for line in lines:
            if self._skipping_line:  # the end of the line that outgrew the limit: dropped with its event
                self._skipping_line = False
                continue
            event = self.feed(line)
            if event is not None:
                events.append(event)
        if self._skipping_line or len(rest) > self.max_event_chars:
            self._skipping_line, self._oversized, self._data, rest = True, True, [], ""
        self._pending = rest
        return events

    def feed(self, line: str) -> StreamEvent | None:
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        self._size += len(value)
        if self._size > self.max_event_chars:
            self._oversized, self._data = True, []
            return None
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\x00" not in value:
            self._id = value
        return None

    def _dispatch(self) -> StreamEvent | None:
        event = None
        if self._data and not self._oversized:
            event = StreamEvent(id=self._id, event=self._event or "message", data="\n".join(self._data))
        self._event, self._data, self._size, self._oversized = "", [], 0, False
        return event
