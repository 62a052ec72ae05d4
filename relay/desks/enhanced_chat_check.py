"""Checking an Enhanced Chat configuration live, with a message per wrong value.

The three values are the SCRT URL, the org id and the Embedded Service deployment's API name. The check asks the
deployment for an unauthenticated end user's access token, exactly as the desk does before a conversation: it
starts no conversation, so no agent sees anything. The answer's configuration says whether the deployment is a
Custom Client one (``deploymentType: "api"``, the only kind the API serves to a client like Switchboard).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import http
from ..errors import ExternalError
from .enhanced_chat_api import API_PATH, CAPABILITIES_VERSION, PLATFORM

CUSTOM_CLIENT = "api"


@dataclass
class EnhancedChatCheck:
    """``errors`` maps the wrong value (``scrt_url``, ``org_id``, ``es_developer_name``) to what is wrong."""

    errors: dict[str, str] = field(default_factory=dict)
    deployment_type: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


def check_enhanced_chat(scrt_url: str, org_id: str, es_developer_name: str) -> EnhancedChatCheck:
    url = f"{scrt_url.rstrip('/')}{API_PATH}/authorization/unauthenticated/access-token"
    body = {
        "orgId": org_id[:15],
        "esDeveloperName": es_developer_name,
        "capabilitiesVersion": CAPABILITIES_VERSION,
        "platform": PLATFORM,
        "context": {"appName": "Switchboard", "clientVersion": "1"},
    }
    try:
        response = http.request("salesforce", "POST", url, json=body, headers={"Accept": "application/json"})
    except ExternalError as exc:
        return EnhancedChatCheck(errors={"scrt_url": f"{scrt_url} could not be reached ({exc.message})."})
    status = response.status_code
    said = _said(response)
    if status == 200:
        return _configuration(response, es_developer_name)
    if status == 429:
        return EnhancedChatCheck(
            errors={
                "scrt_url": f"Salesforce's rate limit held the check back ({said}); try again in a minute."
            }
        )
    if status in (400, 403):
        return EnhancedChatCheck(errors=_blame(said, org_id, es_developer_name))
    if status == 404:
        return EnhancedChatCheck(
            errors={
                "scrt_url": f"{scrt_url} does not answer as an Enhanced Chat host ({said}). Copy the SCRT URL "
                "from the deployment's Code Snippet, e.g. https://acme.my.salesforce-scrt.com."
            }
        )
    return EnhancedChatCheck(errors={"scrt_url": f"Enhanced Chat answered {status} ({said}); try again."})


def _configuration(response, es_developer_name: str) -> EnhancedChatCheck:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("accessToken"), str):
        return EnhancedChatCheck(errors={"scrt_url": "The answer is not an Enhanced Chat access token."})
    service = _member(_member(_member(body, "context"), "configuration"), "embeddedServiceConfig")
    kind = service.get("deploymentType")
    if isinstance(kind, str) and kind != CUSTOM_CLIENT:
        return EnhancedChatCheck(
            errors={
                "es_developer_name": f"{es_developer_name} is a {http.short_text(kind, 40)} deployment: "
                "Switchboard needs a Custom Client deployment (Setup → Embedded Service Deployments → New → "
                "Messaging for In-App and Web → Custom Client)."
            },
            deployment_type=kind,
        )
    return EnhancedChatCheck(deployment_type=kind if isinstance(kind, str) else "")


def _member(document: dict, name: str) -> dict:
    value = document.get(name)
    return value if isinstance(value, dict) else {}


def _blame(said: str, org_id: str, es_developer_name: str) -> dict[str, str]:
    """Which value a refusal points at (by the words of the answer; the deployment when it does not say)."""
    lowered = said.lower()
    if "org" in lowered and "deployment" not in lowered and "esdevelopername" not in lowered:
        return {"org_id": f"Enhanced Chat refused the org id {org_id}: {said}"}
    if "verif" in lowered:
        return {
            "es_developer_name": f"{es_developer_name} asks for verified users ({said}): turn User Verification "
            "off in the deployment, so customers from messaging channels can chat as guests."
        }
    return {
        "es_developer_name": f"Enhanced Chat refused the deployment {es_developer_name}: {said}. Use the API Name "
        "of a published Custom Client deployment of this org."
    }


def _said(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return http.reason_phrase(response.status_code)
    message = body.get("message") if isinstance(body, dict) else None
    return (
        http.short_text(message, 160)
        if isinstance(message, str) and message
        else http.reason_phrase(response.status_code)
    )
