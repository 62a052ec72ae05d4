"""Text an admin copies between Salesforce Setup and Switchboard.

Outward: the Canvas app settings, and the Aura component and Visualforce page that embed our pages in
the console. Inward: the Legacy Chat "Deployment Code" and "Chat Button Code" snippets Salesforce Setup
shows, from which we read the chat API endpoint, the org id, the deployment id and the button id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from tenants.validators import normalize_salesforce_id, validate_salesforce_url

CANVAS_APP_NAME = "Switchboard"


# --- what the admin pastes into Salesforce -----------------------------------------------------------


def canvas_url() -> str:
    return settings.PUBLIC_BASE_URL + reverse("console:canvas")


def canvas_app_settings(tenant) -> list[tuple[str, str]]:
    """The Connected App's Canvas section (Setup → App Manager → the app → Canvas App Settings)."""
    return [
        ("Canvas App URL", canvas_url()),
        ("Access Method", "Signed Request (POST)"),
        ("Locations", "Lightning Component, Visualforce Page, Console"),
        ("Permitted Users", "Admin approved users are pre-authorized"),
        (
            "OAuth scopes",
            "Manage user data via APIs (api); Access Interaction API resources (interaction_api)",
        ),
        ("Use digital signatures", "on: upload the certificate from step 1 (the JWT login)"),
        ("Developer name", CANVAS_APP_NAME),
        ("Org", f"{tenant.name} ({tenant.org_id})"),
    ]


def aura_component(page: str = "wizard", *, with_record: bool = False) -> str:
    """An Aura component for Lightning pages, the utility bar or the console sidebar.

    With ``with_record`` it passes the record id (e.g. of a MessagingSession) to the page.
    """
    if with_record:
        # JSON built by an Aura expression; inside the XML attribute its quotes are entities.
        q = "&quot;"
        parameters = "{!'{" + f"{q}page{q}:{q}{page}{q},{q}recordId{q}:{q}' + v.recordId + '{q}" + "}'}"
        implements = "flexipage:availableForAllPageTypes,force:hasRecordId"
    else:
        parameters = '{"page":"' + page + '"}'
        implements = "flexipage:availableForAllPageTypes"
    quote = '"' if with_record else "'"
    return (
        f'<aura:component implements="{implements}" access="global">\n'
        f'    <force:canvasApp developerName="{CANVAS_APP_NAME}" width="100%" height="720px"\n'
        f"                     parameters={quote}{parameters}{quote} />\n"
        "</aura:component>"
    )


def visualforce_page(page: str = "wizard") -> str:
    return (
        '<apex:page showHeader="false" sidebar="false" standardStylesheets="false">\n'
        f'    <apex:canvasApp developerName="{CANVAS_APP_NAME}" width="100%" height="720px"\n'
        f'                    scrolling="auto" parameters="{{page:\'{page}\'}}" />\n'
        "</apex:page>"
    )


# --- what the admin pastes into Switchboard (Legacy Chat) --------------------------------------------

_INIT = re.compile(
    r"""liveagent\s*\.\s*init\s*\(\s*(['"])(?P<endpoint>[^'"]+)\1\s*,\s*(['"])(?P<deployment>[^'"]+)\3"""
    r"""\s*,\s*(['"])(?P<org>[^'"]+)\5\s*\)""",
    re.IGNORECASE,
)
_BUTTON_CALL = re.compile(
    r"""liveagent\s*\.\s*(?:startChat|showWhenOnline|showWhenOffline|startChatWithWindow)\s*\(\s*(['"])(?P<id>[^'"]+)\1"""
)
_BUTTON_ELEMENT = re.compile(r"""liveagent_button_(?:online|offline)_(?P<id>[0-9A-Za-z]{15,18})""")


@dataclass(frozen=True)
class LegacyChatSettings:
    chat_api_endpoint: str  # the REST endpoint, ending in /chat/rest/
    org_id: str  # 18 characters
    deployment_id: str  # 18 characters
    button_id: str  # 18 characters


def parse_legacy_chat(deployment_code: str, button_code: str) -> LegacyChatSettings:
    """Read the chat settings out of the two snippets; ValidationError per field when something is off."""
    errors: dict[str, str] = {}
    init = _INIT.search(deployment_code or "")
    endpoint = org_id = deployment_id = ""
    if init is None:
        errors["deployment_code"] = (
            "This is not the Deployment Code: it has no liveagent.init('…/chat', '572…', '00D…') line. "
            "Copy it from Setup → Chat → Deployments → your deployment."
        )
    else:
        endpoint = rest_endpoint(init["endpoint"])
        try:
            validate_salesforce_url(endpoint)
        except ValidationError as exc:
            errors["deployment_code"] = (
                f"The chat endpoint {init['endpoint']!r} is not usable: {exc.messages[0]}"
            )
        try:
            deployment_id = normalize_salesforce_id(init["deployment"], kind="chat_deployment")
            org_id = normalize_salesforce_id(init["org"], kind="organization")
        except ValidationError as exc:
            errors["deployment_code"] = f"The Deployment Code's ids are not valid: {exc.messages[0]}"
    match = _BUTTON_CALL.search(button_code or "") or _BUTTON_ELEMENT.search(button_code or "")
    button_id = ""
    if match is None:
        errors["button_code"] = (
            "This is not the Chat Button Code: it has no liveagent.startChat('573…') or "
            "liveagent_button_online_573… element. Copy it from Setup → Chat → Chat Buttons & Invitations."
        )
    else:
        try:
            button_id = normalize_salesforce_id(match["id"], kind="chat_button")
        except ValidationError as exc:
            errors["button_code"] = f"The chat button id is not valid: {exc.messages[0]}"
    if errors:
        raise ValidationError(errors)
    return LegacyChatSettings(endpoint, org_id, deployment_id, button_id)


def rest_endpoint(endpoint: str) -> str:
    """``https://d.la1-c2-ia4.salesforceliveagent.com/chat`` → ``…/chat/rest/`` (the Chat REST API)."""
    endpoint = endpoint.strip().rstrip("/")
    if not endpoint.endswith("/rest"):
        endpoint += "/rest"
    return endpoint + "/"
