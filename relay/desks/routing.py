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
    targeted = rule.target_type in ATTRIBUTE and bool(rule.target_id)
    if targeted:
        attributes[ATTRIBUTE[rule.target_type]] = rule.target_id
    # A fallback falls back from a target: with the channel's own routing there is none (no attributes at all).
    if targeted and rule.fallback_type in ATTRIBUTE and rule.fallback_id:
        attributes["Switchboard_FallbackType"] = rule.fallback_type
        attributes["Switchboard_FallbackId"] = rule.fallback_id
    last_agent = conversation.last_agent_id
    if rule.sticky_agent and last_agent:
        # The returning customer's last agent first; the rule's own target becomes the fallback.
        if rule.target_type == RoutingRule.Target.AGENT and targeted and rule.target_id != last_agent:
            # The agent slot goes to the last agent: the pinned agent would be lost, so it is the fallback.
            attributes["Switchboard_FallbackType"] = rule.target_type
            attributes["Switchboard_FallbackId"] = rule.target_id
        elif targeted and rule.target_type != RoutingRule.Target.AGENT:
            attributes.setdefault("Switchboard_FallbackType", rule.target_type)
            attributes.setdefault("Switchboard_FallbackId", rule.target_id)
        attributes["Switchboard_AgentId"] = last_agent
    return attributes
