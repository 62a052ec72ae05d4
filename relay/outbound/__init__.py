"""Agent → customer: the agents' events become rows (``agent_events`` reads them, ``agent_content`` says what
each kind of agent message becomes on the customer's channel, ``record`` stores them), the line's step that
sends each through the provider (``send``), the provider's delivery reports (``reports``) and what Salesforce
hears of them (``notices``). Messages Switchboard itself sends (a partner's API call, a WhatsApp template
from the agent's panel) enter the same line through ``to_customer`` and ``template_send``; the template
cache is kept by ``template_sync``, the values checked by ``template_values``."""
