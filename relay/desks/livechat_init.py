"""The ``Chasitor/ChasitorInit`` body of a customer's chat: who the customer is, what the agent sees, where the
chat goes (Chat REST API Developer Guide, "ChasitorInit request body"; salesforce.md §4).

* ``visitorName``: the customer's name from the channel, else their number;
* ``prechatDetails``: the phone number (or Viber id) and the channel, saved to the Chat Transcript fields
  ``Switchboard_Phone__c`` / ``Switchboard_Channel__c`` and shown to the agent, plus the connection's custom
  fields (:class:`~.livechat_models.LiveChatCustomField`: label, value, transcript field);
* ``prechatEntities``: find the Contact whose Phone is the customer's number and link it to the transcript
  (``ContactId``), never creating one;
* routing: the connection's button, or the sender's routing rule: a chat button pins that button, an agent
  goes first through ``buttonOverrides`` (``<agent>_<button>``: the agent, then the button), and a sticky rule
  puts the customer's last agent first. A queue or flow target cannot be named in Legacy Chat (buttons route
  to queues), so the button is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tenants.models import RoutingRule

from .livechat_models import LiveChatCustomField
from .routing import matching_rule

if TYPE_CHECKING:
    from tenants.models import SalesforceConnection

    from ..models import Conversation

PHONE_FIELD = "Switchboard_Phone__c"
CHANNEL_FIELD = "Switchboard_Channel__c"
USER_AGENT = "Switchboard/0.1 (Legacy Chat desk)"


def targets(connection: SalesforceConnection, conversation: Conversation) -> tuple[str, list[str]]:
    """(the button, the ``buttonOverrides`` in order, empty for plain button routing). Ids in 15 characters."""
    button = connection.chat_button_id[:15]
    agents: list[str] = []
    rule = matching_rule(conversation)
    if rule is not None:
        pairs = [(rule.target_type, rule.target_id), (rule.fallback_type, rule.fallback_id)]
        pinned = next((ref for kind, ref in pairs if kind == RoutingRule.Target.CHAT_BUTTON and ref), "")
        button = pinned[:15] or button
        agents = [ref[:15] for kind, ref in pairs if kind == RoutingRule.Target.AGENT and ref]
        if rule.sticky_agent and conversation.last_agent_id:
            agents.insert(0, conversation.last_agent_id[:15])
    overrides = list(dict.fromkeys(f"{agent}_{button}" for agent in agents))
    return button, [*overrides, button] if overrides else []


def chasitor_init(connection: SalesforceConnection, conversation: Conversation, session_id: str) -> dict:
    customer = conversation.customer
    channel = conversation.sender.get_channel_display()
    details: list[dict[str, Any]] = [  # JSON: the ChasitorInit prechatDetails
        {
            "label": "Phone" if customer.startswith("+") else "Customer id",
            "value": customer,
            "entityMaps": [{"entityName": "Contact", "fieldName": "Phone"}],
            "transcriptFields": [PHONE_FIELD],
            "displayToAgent": True,
        },
        {
            "label": "Channel",
            "value": f"{channel} ({conversation.sender.address})",
            "entityMaps": [],
            "transcriptFields": [CHANNEL_FIELD],
            "displayToAgent": True,
        },
    ]
    for extra in custom_fields(connection):
        details.append(
            {
                "label": extra["label"],
                "value": extra["value"],
                "entityMaps": [],
                "transcriptFields": [extra["field"]] if extra.get("field") else [],
                "displayToAgent": True,
            }
        )
    button, overrides = targets(connection, conversation)
    body = {
        "organizationId": connection.tenant.org_id15,
        "deploymentId": connection.chat_deployment_id[:15],
        "buttonId": button,
        "sessionId": session_id,
        "userAgent": USER_AGENT,
        "language": "en-US",
        "screenResolution": "0x0",
        "visitorName": conversation.customer_name or customer,
        "prechatDetails": details,
        "prechatEntities": [
            {
                "entityName": "Contact",
                "saveToTranscript": "ContactId",
                "showOnCreate": True,
                "linkToEntityName": "",
                "linkToEntityField": "",
                "entityFieldsMaps": [
                    {
                        "fieldName": "Phone",
                        "label": details[0]["label"],
                        "doFind": True,
                        "isExactMatch": True,
                        "doCreate": False,
                    }
                ],
            }
        ],
        "receiveQueueUpdates": True,
        "isPost": True,
    }
    if overrides:
        body["buttonOverrides"] = overrides
    return body


def custom_fields(connection: SalesforceConnection) -> list[dict]:
    """The tenant's custom fields (relay.LiveChatCustomField), in their order."""
    rows = LiveChatCustomField.objects.filter(tenant_id=connection.tenant_id)
    return [{"label": r.label, "value": r.value, "field": r.transcript_field} for r in rows]
