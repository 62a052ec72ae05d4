"""Routing rules → the ``routingAttributes`` Salesforce passes to the channel's Omni-Channel flow.

The flow reads these variables (documented in the README, "Routing") and routes the session to
the queue, the agent or the flow they name; an empty map leaves routing to the channel.
"""

from __future__ import annotations

from tenants import lookups
from tenants.models import RoutingRule

from ..models import Conversation

ATTRIBUTE: dict[str, str] = {  # by RoutingRule.target_type (a Target value, stored as a string)
    RoutingRule.Target.QUEUE: "Switchboard_QueueId",
    RoutingRule.Target.AGENT: "Switchboard_AgentId",
    RoutingRule.Target.FLOW: "Switchboard_FlowId",
    RoutingRule.Target.CHAT_BUTTON: "Switchboard_ButtonId",
}


def matching_rule(conversation: Conversation) -> RoutingRule | None:
    # Kept per process, reloaded when configuration changes (tenants/config_cache.py).
    for rule in lookups.routing_rules(conversation.tenant_id, conversation.sender_id):
        if rule.matches(conversation.customer):
            return rule
    return None


def routing_attributes(conversation: Conversation) -> dict[str, str]:
    rule = matching_rule(conversation)
    if rule is None:
        return {}
    attributes: dict[str, str] = {}
    if rule.target_type in ATTRIBUTE and rule.target_id:
        attributes[ATTRIBUTE[rule.target_type]] = rule.target_id
    if rule.fallback_type in ATTRIBUTE and rule.fallback_id:
        attributes["Switchboard_FallbackType"] = rule.fallback_type
        attributes["Switchboard_FallbackId"] = rule.fallback_id
    if rule.sticky_agent and conversation.last_agent_id:
        # The returning customer's last agent first; the rule's own target becomes the fallback.
        if rule.target_type in ATTRIBUTE and rule.target_id and rule.target_type != RoutingRule.Target.AGENT:
            attributes.setdefault("Switchboard_FallbackType", rule.target_type)
            attributes.setdefault("Switchboard_FallbackId", rule.target_id)
        attributes["Switchboard_AgentId"] = conversation.last_agent_id
    return attributes
