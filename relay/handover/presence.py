"""Is an agent online for this conversation? Asked of Salesforce before a handover opens a session.

Omni-Channel keeps each agent's presence in ``UserServicePresence``: the row with ``IsCurrentState =
true`` is the agent's status now (an agent who goes offline has none), ``IsAway`` marks the away
statuses. One SOQL query answers it; the answer is cached per tenant for a few seconds, so many
waiting handovers of a tenant share one API call.

When the rule routes to one agent (no fallback), only that agent counts; otherwise any online agent
does (queue membership is not checked: a queue's members are usually all of the tenant's agents).
``None`` means Salesforce would not say (no Omni-Channel, or the integration user may not read
presence): the handover then goes ahead and Salesforce routes it as usual.
"""

from __future__ import annotations

import logging

from django.core.cache import cache

from tenants.models import RoutingRule

from ..desks.routing import matching_rule
from ..errors import ExternalError
from ..models import Conversation
from ..salesforce.rest import SalesforceRest

log = logging.getLogger(__name__)

CACHE_SECONDS = 3


def routed_agent(conversation: Conversation) -> str:
    """The one agent the conversation must go to, or '' when any agent will do."""
    rule = matching_rule(conversation)
    if rule is not None and rule.target_type == RoutingRule.Target.AGENT and not rule.fallback_type:
        return rule.target_id
    return ""


def presence_query(agent_id: str = "") -> str:
    soql = "SELECT UserId FROM UserServicePresence WHERE IsCurrentState = true AND IsAway = false"
    if agent_id:
        soql += f" AND UserId = '{agent_id}'"  # a validated Salesforce id: no quoting issues
    return soql + " LIMIT 1"


def agent_available(conversation: Conversation) -> bool | None:
    """True when an agent is online for the conversation, False when none is, None when unknown."""
    agent_id = routed_agent(conversation)
    key = f"handover:presence:{conversation.tenant_id}:{agent_id or 'any'}"
    cached = cache.get(key)
    if cached is not None:
        return {"yes": True, "no": False, "unknown": None}[cached]
    try:
        rows = SalesforceRest(conversation.tenant.salesforce).query(presence_query(agent_id))
        answer: bool | None = bool(rows)
    except ExternalError as exc:
        if not exc.permanent:
            raise
        log.warning("tenant %s: cannot read agent presence, routing anyway: %s", conversation.tenant_id, exc)
        answer = None
    cache.set(key, {True: "yes", False: "no", None: "unknown"}[answer], CACHE_SECONDS)
    return answer
