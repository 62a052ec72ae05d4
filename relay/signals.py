"""Signals the relay sends when something a partner may want to hear about happens.

Receivers run inside the relay's transaction: they must be quick, must not raise (the relay sends with
``send_robust``) and should only queue their own work after commit. The partner API's outgoing webhooks
(``portal/api/webhooks.py``) listen to both.
"""

from django.dispatch import Signal

# sender=Message, kwargs: message (the Message row), status (the new Message.Status), reason (str, may be "")
message_status_changed = Signal()

# sender=Conversation, kwargs: conversation (the Conversation row), event (str: "connected" when
# Salesforce took the conversation, "session_status_changed"), data (dict with what changed)
conversation_event = Signal()
