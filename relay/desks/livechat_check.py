"""Checking a Legacy Chat configuration live, at the Chat API, with a message per wrong value.

The four values are the Chat API endpoint, the org id, the deployment id and the chat button id (typed in, or
read from the pasted Deployment Code and Chat Button Code by portal/console/snippets.py). ``Visitor/Settings``
and ``Visitor/Availability`` need no session, so the check starts no chat and costs the org nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ExternalError
from .livechat_api import CHAT_UNAVAILABLE, ChatApi


@dataclass
class ChatCheck:
    """``errors`` maps the wrong value (``chat_api_endpoint``, ``org_id``, ``deployment_id``, ``button_id``) to
    what is wrong with it; without errors, ``available`` says whether an agent can take a chat right now."""

    errors: dict[str, str] = field(default_factory=dict)
    available: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def check_chat_configuration(endpoint: str, org_id: str, deployment_id: str, button_id: str) -> ChatCheck:
    api = ChatApi(endpoint)
    button = button_id[:15]
    try:
        buttons = api.settings(org_id, deployment_id, [button])
        available = api.availability(org_id, deployment_id, [button]).get(button, False)
    except ExternalError as exc:
        return ChatCheck(errors=_blame(exc, endpoint, org_id, deployment_id, button_id))
    if not any(str(b.get("id", ""))[:15] == button for b in buttons):
        return ChatCheck(
            errors={
                "button_id": f"The org has no chat button {button_id}: copy the Chat Button Code of a button "
                "of this org (Setup → Chat → Chat Buttons & Invitations)."
            }
        )
    return ChatCheck(available=available)


def _blame(exc: ExternalError, endpoint: str, org_id: str, deployment_id: str, button_id: str) -> dict:
    """Which value an error of the Chat API points at."""
    said = exc.message
    if exc.code == CHAT_UNAVAILABLE:
        return {
            "org_id": f"The Chat API at this endpoint does not serve the org {org_id}: the org id is wrong, or "
            "Legacy Chat is not enabled in the org (Salesforce retired it on 2026-02-14; use Enhanced Chat)."
        }
    if exc.status == 400:
        for name, value, noun in (
            ("org_id", org_id, "org_id"),
            ("deployment_id", deployment_id, "deployment_id"),
            ("button_id", button_id, "button"),
        ):
            if noun in said:
                return {name: f"The Chat API refused the {name.replace('_', ' ')} {value}: {said}"}
    if exc.status in (None, 404) or exc.permanent:
        return {
            "chat_api_endpoint": f"{endpoint} does not answer as a Chat API endpoint ({said}). Copy it from "
            "Setup → Chat Settings → Chat API Endpoint, e.g. https://d.la1-c2-ia4.salesforceliveagent.com/chat/rest/."
        }
    return {"chat_api_endpoint": f"The Chat API could not be reached; try again ({said})."}
