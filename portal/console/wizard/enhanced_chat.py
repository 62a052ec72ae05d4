"""The Enhanced Chat desk's live check, for the wizard and the partner API (runs in a worker, portal.livechecks).

The wizard hands the values typed in (not saved yet: ``params["settings"]``) and they are saved, with the texts,
only when Salesforce accepts them; the partner API checks the saved connection's. A failure names the wrong value
in ``data["field"]`` (``scrt_url``, ``org_id``, ``es_developer_name``) and its code is ``wrong_<field>``.
"""

from __future__ import annotations

from django.db import transaction

from portal.livechecks import Check, Outcome, runner
from relay.desks.enhanced_chat_check import check_enhanced_chat
from tenants.models import SalesforceConnection, Tenant, derive_scrt_url

from .saved import connection_of

ENHANCED_CHAT = "enhanced-chat-config"
SETTINGS = ("scrt_url", "es_developer_name")
TEXTS = ("welcome_text", "closing_text", "no_agent_text")


@runner(ENHANCED_CHAT)
def enhanced_chat_config(tenant: Tenant, check: Check) -> Outcome:
    connection = connection_of(tenant)
    if connection is None or connection.desk != SalesforceConnection.Desk.ENHANCED_CHAT:
        return Outcome(
            False, "This tenant's Salesforce connection does not use the Enhanced Chat desk.", "desk"
        )
    given = check.params.get("settings")
    if isinstance(given, dict):
        values = {name: str(given.get(name, "")) for name in SETTINGS}
    else:
        values = {"scrt_url": connection.scrt_url, "es_developer_name": connection.es_developer_name}
    scrt_url = values["scrt_url"] or derive_scrt_url(connection.instance_url)
    if not values["es_developer_name"]:
        return Outcome(False, "Set es_developer_name first.", "incomplete", {"field": "es_developer_name"})
    result = check_enhanced_chat(scrt_url, tenant.org_id, values["es_developer_name"])
    if not result.ok:
        field, message = next(iter(result.errors.items()))
        return Outcome(False, message, "wrong_" + field, {"field": field, "errors": result.errors})
    if isinstance(given, dict):
        with transaction.atomic():
            connection.scrt_url = values["scrt_url"]
            connection.es_developer_name = values["es_developer_name"]
            connection.save(update_fields=["scrt_url", "es_developer_name", "updated_at"])
            given_texts = check.params.get("texts") or {}
            texts = {name: str(given_texts[name]) for name in TEXTS if name in given_texts}
            if texts:
                for name, value in texts.items():
                    setattr(tenant, name, value)
                tenant.save(update_fields=[*texts, "updated_at"])
    return Outcome(True, f"Checked: {values['es_developer_name']} gives customers a chat at {scrt_url}.")
