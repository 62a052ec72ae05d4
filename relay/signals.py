"""What the relay tells partners about, written as partner events in the transaction of the change.

The relay reports here where a message's status changes or Salesforce takes a conversation, inside the
transaction (if any) that makes the change. These used to be Django signals whose receivers (the partner
API's webhooks) ran inside that transaction; now each report is one write to an outbox the partner API
plugs in at start-up (:func:`use_outbox`, from ``portal/api/apps.py``; the relay never imports the API):
nothing when no subscription of the tenant wants the event, else one INSERT, delivered by a worker after
commit. ``send_robust`` keeps the call sites' spelling from the signal days: it never raises for a payload
it cannot build (logged), so a report cannot undo the relay's work.

For an event exactly as durable as its change, make both inside :func:`together`: one transaction, opened
only when someone listens, so a tenant without subscriptions pays nothing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from django.db import transaction

log = logging.getLogger(__name__)

MESSAGE_STATUS_CHANGED = "message.status_changed"


class _Outbox:
    """What the relay needs of an outbox: whether the tenant listens to an event, and how to write one."""

    def __init__(self) -> None:
        self.wants: Callable[[int, str], bool] = lambda tenant_id, event: False  # until one is plugged in
        self.write: Callable[[int, str, dict], object] = lambda tenant_id, event, data: None


_outbox = _Outbox()


def use_outbox(*, wants: Callable[[int, str], bool], write: Callable[[int, str, dict], object]) -> None:
    """Plug in the outbox (the partner API does, in its AppConfig.ready). ``wants`` must be cheap (memoized):
    it runs on every change. ``write`` stores the event in the caller's transaction."""
    _outbox.wants, _outbox.write = wants, write


def record(tenant_id: int, event: str, data: Callable[[], dict]) -> None:
    """Write event ``event`` of the tenant when anybody listens; ``data`` builds its payload only then."""
    try:
        if not _outbox.wants(tenant_id, event):
            return
        payload = data()
    except Exception:  # noqa: BLE001 - logged; the relay's change stands without its report
        log.exception("could not build the partner event %s of tenant %s", event, tenant_id)
        return
    _outbox.write(tenant_id, event, payload)  # an INSERT that fails fails the change's transaction too


def together(tenant_id: int, event: str):
    """One transaction around a change and its event when the tenant listens to ``event``; else nothing."""
    if _outbox.wants(tenant_id, event):
        # No savepoint inside a caller's transaction: the change and its event stand or fall with it.
        return transaction.atomic(savepoint=False)
    return contextlib.nullcontext()


class _MessageStatusChanged:
    """kwargs: message (the Message row), status (the new Message.Status), reason (str, may be "")."""

    def send_robust(self, sender=None, *, message, status, reason: str = "", **kwargs) -> None:
        def data() -> dict:
            conversation = message.conversation
            return {
                "message": {
                    "id": message.pk,
                    "conversation": message.conversation_id,
                    "sender": conversation.sender_id,
                    "customer": conversation.customer,
                    "direction": message.direction,
                    "kind": message.kind,
                    "status": str(status),
                    "reason": reason or "",
                    "provider_message_id": message.provider_message_id,
                }
            }

        record(message.tenant_id, MESSAGE_STATUS_CHANGED, data)


class _ConversationEvent:
    """kwargs: conversation (the Conversation row), event ("connected" when Salesforce took the conversation,
    "session_status_changed"), data (dict with what changed)."""

    def send_robust(
        self, sender=None, *, conversation, event: str, data: dict | None = None, **kwargs
    ) -> None:
        def payload() -> dict:
            return {
                "conversation": {
                    "id": conversation.pk,
                    "sender": conversation.sender_id,
                    "customer": conversation.customer,
                    "status": conversation.status,
                },
                "changes": data or {},
            }

        record(conversation.tenant_id, f"conversation.{event}", payload)


message_status_changed = _MessageStatusChanged()
conversation_event = _ConversationEvent()
