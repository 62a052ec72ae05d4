"""The Legacy Chat (Live Agent) Chat REST API, spoken as a chat visitor: one :class:`ChatSession` per customer
conversation. Salesforce retired Legacy Chat on 2026-02-14 (docs/legacy-chat.md).

The rules this module keeps (Chat REST API Developer Guide, "Required headers", "System/Messages",
"ReconnectSession"; /work/shared/reference/salesforce.md §4):

* every call carries ``X-LIVEAGENT-API-VERSION``; SessionId sends the literal affinity ``null``, every later call
  the session's ``affinityToken`` and its ``key`` (a secret: never logged, never in an error message);
* every POST carries ``X-LIVEAGENT-SEQUENCE``, one more than the last, so a repeated POST (same number) is
  recognised by Salesforce and not applied twice; the caller stores the session before and after each POST;
* ``System/Messages`` is a long poll acknowledging the last ``sequence`` received (``ack=-1`` first): 204 means
  nothing new (poll again with the same ack), 503 means the session moved to another server, answered by
  ``ReconnectSession`` with the ``offset`` of the last batch, after which POST sequences start again at 1;
  403 means the session is gone (the chat ended, or it timed out); so does 409 (a duplicate long poll ended it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import httpx

from .. import http
from ..errors import ExternalError

API_VERSION = "58"
H_VERSION = "X-LIVEAGENT-API-VERSION"
H_AFFINITY = "X-LIVEAGENT-AFFINITY"
H_KEY = "X-LIVEAGENT-SESSION-KEY"
H_SEQUENCE = "X-LIVEAGENT-SEQUENCE"

SESSION_GONE = "SESSION_GONE"
AFFINITY_CHANGED = "AFFINITY_CHANGED"
CHAT_UNAVAILABLE = "CHAT_UNAVAILABLE"
#: Extra seconds over the server's ``clientPollTimeout`` before a long poll counts as lost.
POLL_MARGIN_SECONDS = 10.0


@dataclass
class ChatSession:
    """What a visitor session needs across calls and restarts (stored per conversation)."""

    id: str
    key: str
    affinity: str
    poll_timeout: float = 40.0
    sequence: int = 0  # the last X-LIVEAGENT-SEQUENCE sent
    ack: int = -1  # the last Messages sequence received
    offset: int = 0  # of the last Messages batch, for ReconnectSession

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ChatSession:
        return cls(
            id=str(data["id"]),
            key=str(data["key"]),
            affinity=str(data["affinity"]),
            poll_timeout=float(data.get("poll_timeout", 40.0)),
            sequence=int(data.get("sequence", 0)),
            ack=int(data.get("ack", -1)),
            offset=int(data.get("offset", 0)),
        )

    def __repr__(self) -> str:  # the key is a secret
        return f"ChatSession(id={self.id!r}, sequence={self.sequence}, ack={self.ack})"


class ChatApi:
    """One org's Chat API endpoint (``https://<host>/chat/rest/``)."""

    def __init__(self, endpoint: str) -> None:
        self.base = endpoint.rstrip("/")

    # --- visitor session ------------------------------------------------------------------------------------

    def new_session(self) -> ChatSession:
        response = self._call("GET", "System/SessionId", headers={H_VERSION: API_VERSION, H_AFFINITY: "null"})
        body = _json_object(response, "SessionId")
        try:
            return ChatSession(
                id=_text(body["id"]),
                key=_text(body["key"]),
                affinity=_text(body["affinityToken"]),
                poll_timeout=float(body.get("clientPollTimeout") or 40),
            )
        except (KeyError, TypeError, ValueError):
            raise ExternalError("The Chat API's SessionId answer lacks id, key or affinityToken.") from None

    def post(self, session: ChatSession, resource: str, body: dict, *, sequence: int) -> None:
        """POST ``body`` with ``sequence`` (the caller chose and stored it; resending it is safe)."""
        self._call("POST", resource, headers=self._headers(session, sequence=sequence), json=body)

    def poll(self, session: ChatSession) -> list[dict]:
        """One long poll: the new messages (``[]`` after a 204), ``session.ack``/``offset`` advanced.

        Raises ExternalError with code AFFINITY_CHANGED on 503 (call :meth:`reconnect`) and SESSION_GONE on 403.
        """
        response = self._call(
            "GET",
            "System/Messages",
            headers=self._headers(session),
            params={"ack": str(session.ack)},
            timeout=session.poll_timeout + POLL_MARGIN_SECONDS,
        )
        if response.status_code == 204:
            return []
        body = _json_object(response, "Messages")
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise ExternalError("The Chat API's Messages answer has no message list.")
        if isinstance(body.get("sequence"), int):
            session.ack = body["sequence"]
        if isinstance(body.get("offset"), int):
            session.offset = body["offset"]
        return [m for m in messages if isinstance(m, dict) and isinstance(m.get("type"), str)]

    def reconnect(self, session: ChatSession) -> list[dict]:
        """After a 503: the new affinity token; POST sequences start again at 1. Returns the messages given."""
        response = self._call(
            "GET",
            "System/ReconnectSession",
            headers=self._headers(session),
            params={"ReconnectSession.offset": str(session.offset)},
        )
        messages = _json_object(response, "ReconnectSession").get("messages") or []
        for item in messages if isinstance(messages, list) else []:
            if isinstance(item, dict) and item.get("type") == "ReconnectSession":
                detail = item.get("message") or {}
                if isinstance(detail, dict) and isinstance(detail.get("affinityToken"), str):
                    session.affinity = detail["affinityToken"]
                    if detail.get("resetSequence"):
                        session.sequence = 0
                    return [m for m in messages if m is not item]
        raise ExternalError("The Chat API's ReconnectSession answer has no new affinity token.")

    def resync_state(self, session: ChatSession, org_id: str) -> None:
        """``Chasitor/ChasitorResyncState`` after :meth:`reconnect`: "Reestablishes the chat visitor's state, including
        the details of the chat, after a ReconnectSession request is completed" (no sequence header)."""
        self._call(
            "POST",
            "Chasitor/ChasitorResyncState",
            headers=self._headers(session),
            json={"organizationId": org_id[:15]},
        )

    # --- visitor, before any session ------------------------------------------------------------------------

    def availability(self, org_id: str, deployment_id: str, ids: list[str]) -> dict[str, bool]:
        """``Visitor/Availability``: which of the buttons, agents or ``agent_button`` ids can take a chat now."""
        response = self._call(
            "GET",
            "Visitor/Availability",
            headers={H_VERSION: API_VERSION},
            params={
                "org_id": org_id[:15],
                "deployment_id": deployment_id[:15],
                "Availability.ids": "[" + ",".join(ids) + "]",
            },
        )
        results: dict[str, bool] = dict.fromkeys(ids, False)
        for item in _json_object(response, "Availability").get("messages") or []:
            detail = item.get("message") if isinstance(item, dict) else None
            for result in (detail or {}).get("results") or [] if isinstance(detail, dict) else []:
                if isinstance(result, dict) and result.get("id") in results:
                    results[result["id"]] = result.get("isAvailable") is True
        return results

    def settings(self, org_id: str, deployment_id: str, button_ids: list[str]) -> list[dict]:
        """``Visitor/Settings``: the deployment's buttons (those of ``button_ids`` it knows)."""
        response = self._call(
            "GET",
            "Visitor/Settings",
            headers={H_VERSION: API_VERSION},
            params={
                "org_id": org_id[:15],
                "deployment_id": deployment_id[:15],
                "Settings.buttonIds": ",".join(button_ids),
            },
        )
        for item in _json_object(response, "Settings").get("messages") or []:
            detail = item.get("message") if isinstance(item, dict) else None
            if isinstance(detail, dict) and isinstance(detail.get("buttons"), list):
                return [b for b in detail["buttons"] if isinstance(b, dict)]
        return []

    # --- plumbing -------------------------------------------------------------------------------------------

    @staticmethod
    def _headers(session: ChatSession, *, sequence: int | None = None) -> dict[str, str]:
        headers = {H_VERSION: API_VERSION, H_AFFINITY: session.affinity, H_KEY: session.key}
        if sequence is not None:
            headers[H_SEQUENCE] = str(sequence)
        return headers

    def _call(self, method: str, resource: str, **kwargs) -> httpx.Response:
        response = http.request("salesforce", method, f"{self.base}/{resource}", **kwargs)
        if response.status_code in (200, 204):
            return response
        said = http.short_text(response.text)
        noun = resource.rsplit("/", 1)[-1]
        if response.status_code == 503:
            raise ExternalError(
                f"Chat API {noun}: the session moved to another server ({said})",
                status=503,
                code=AFFINITY_CHANGED,
                retry_after=http.retry_after_seconds(response),
            )
        if response.status_code == 403:
            raise ExternalError(
                f"Chat API {noun}: the chat session is over or unknown ({said})",
                permanent=True,
                status=403,
                code=SESSION_GONE,
            )
        if response.status_code == 409:
            # "A duplicate long poll using the same session ID has caused the chat to terminate. Reestablish the
            # chat in a new session." (Chat REST API, status codes): the session is gone, as with a 403.
            raise ExternalError(
                f"Chat API {noun}: a second long poll on the session ended the chat ({said})",
                permanent=True,
                status=409,
                code=SESSION_GONE,
            )
        if response.status_code == 404 and "not available for this organization" in response.text:
            raise ExternalError(
                f"Chat API {noun}: Legacy Chat is not available for this org ({said}); Salesforce retired it "
                "on 2026-02-14",
                permanent=True,
                status=404,
                code=CHAT_UNAVAILABLE,
            )
        raise ExternalError.from_status(response.status_code, f"Chat API {noun} answered: {said}")


def _json_object(response: httpx.Response, noun: str) -> dict:
    try:
        body = response.json()
    except ValueError:
        raise ExternalError(f"The Chat API's {noun} answer is not JSON.") from None
    if not isinstance(body, dict):
        raise ExternalError(f"The Chat API's {noun} answer is not a JSON object.")
    return body


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("not a string")
    return value
