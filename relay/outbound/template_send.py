"""Send an approved WhatsApp template: the one validated path for the agent's template panel and the partner
REST API.

``send_template`` checks everything first (sender, recipient, template, every value) and raises one
ValidationError with a message per field, storing nothing; then it queues the message through
:func:`relay.outbound.to_customer.send_to_customer`, so it is recorded, retried and its delivery reports are applied
like any other outbound message.

Salesforce and the agent's side of the conversation: the Interaction Service only takes entries *from the
customer* (``/interactions``); the agent's own messages originate in Salesforce. The one API that writes
business-side entries is ``/conversationHistory``, which Salesforce opens to BYOC for CCaaS orgs only
(10057 elsewhere) and only with ``EndUser`` and ``Chatbot`` participants. So, for a template sent from the
panel on a Messaging Session, :func:`record_in_salesforce` imports it into that session as a ``Chatbot``
participant named after the agent ("Ada Agent (WhatsApp template)"). On any other org it records the
refusal once (a delivery attempt the admin can read) and stops trying; the agent then sees the template,
who sent it and its delivery status in the panel's history beside the conversation.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from celery import shared_task
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction

from tenants.models import Sender, Tenant, WhatsAppTemplate
from tenants.validators import normalize_e164

from ..errors import ExternalError
from ..lines import engine
from ..lines.attempts import attempt
from ..models import DeliveryAttempt, Message
from ..salesforce.interactions import InteractionClient, now_ms, text_payload
from .template_sync import sync_sender
from .template_values import template_values
from .to_customer import send_to_customer, template_content

log = logging.getLogger(__name__)

HISTORY_NAMESPACE = uuid.UUID("3f6c2d7e-5b1a-4f0e-9a8d-7c2b1e4d6a55")
NO_HISTORY_KEY = "salesforce-no-conversation-history:{tenant_id}"
NO_HISTORY_SECONDS = 24 * 3600
ALREADY_IMPORTED = "10073"
HISTORY_REFUSED = "10057"
HISTORY_ACTION = "conversationHistory"  # the delivery attempts' action: they count the tries
HISTORY_MAX_ATTEMPTS = 6  # the first try and five retries


def resolve_sender(tenant: Tenant, sender) -> Sender:
    """The tenant's enabled WhatsApp sender: a Sender, its id (digits), or its number with ``+``; else
    ValidationError."""
    found = None
    text = str(sender if sender is not None else "").strip()
    if isinstance(sender, Sender):
        found = sender
    elif isinstance(sender, int) or (text.isdigit() and len(text) < 19):
        found = Sender.objects.for_tenant(tenant).select_related("account").filter(pk=int(text)).first()
    elif text:
        try:
            number = normalize_e164(text, field="sender number")
        except ValidationError:
            number = ""
        found = (
            Sender.objects.for_tenant(tenant)
            .select_related("account")
            .filter(channel=Sender.Channel.WHATSAPP, address=number)
            .first()
        )
    if found is None or found.tenant_id != tenant.pk:
        # Another tenant's sender is reported exactly like one that does not exist.
        raise ValidationError({"sender": "Choose one of this org's WhatsApp senders."})
    if found.channel != Sender.Channel.WHATSAPP:
        raise ValidationError({"sender": "Templates are sent from WhatsApp senders only."})
    if not found.enabled:
        raise ValidationError({"sender": "This sender is disabled: an administrator turned it off."})
    return found


def find_template(tenant: Tenant, sender: Sender, name: str, language: str) -> WhatsAppTemplate:
    """The cached approved template; one sync first when it is missing (it may have been approved since)."""

    def lookup():
        return (
            WhatsAppTemplate.objects.for_tenant(tenant)
            .filter(sender=sender, name=(name or "").strip(), language=(language or "").strip())
            .first()
        )

    template = lookup()
    if template is None:
        sync_sender(sender)
        template = lookup()
    if template is None:
        raise ValidationError({"template": f"This sender has no template “{name}” in language “{language}”."})
    if not template.is_approved:
        raise ValidationError(
            {
                "template": f"The template “{name}” ({language}) is {template.status.lower()}: "
                "WhatsApp sends approved templates only."
            }
        )
    return template


def send_template(
    tenant: Tenant,
    sender,
    customer: str,
    template_name: str,
    language: str,
    values: dict | None,
    *,
    idempotency_key: str = "",
    agent: dict | None = None,
    messaging_session_id: str = "",
    source: str = "api",
) -> Message:
    """Validate and queue one template message; returns its Message (the first one again for a repeated
    ``idempotency_key``).

    ``sender``: a Sender, its id or its number. ``values``: see :mod:`relay.outbound.template_values`. Raises
    ValidationError with a message per field (``sender``, ``customer``, ``template``, each value) and stores
    nothing when anything is wrong.
    """
    sender = resolve_sender(tenant, sender)
    errors: dict[str, list[str]] = {}
    try:
        number = normalize_e164(customer, field="customer number")
    except ValidationError as exc:
        errors["customer"] = exc.messages
        number = ""
    try:
        template = find_template(tenant, sender, template_name, language)
        checked = template_values(template.name, template.language, template.structure, values)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    content = template_content(checked)
    content["source"] = source
    if agent:
        content["agent"] = {"id": str(agent.get("id", ""))[:18], "name": str(agent.get("name", ""))[:120]}
    if messaging_session_id:
        content["messaging_session_id"] = messaging_session_id
    with transaction.atomic():
        message, created = send_to_customer(tenant, sender, number, content, idempotency_key=idempotency_key)
        if created and agent and messaging_session_id:
            transaction.on_commit(lambda: record_in_salesforce.delay(message.pk))
    return message


# --- the template in the Salesforce conversation ------------------------------------------------------------


def history_entry_id(message: Message) -> str:
    return str(uuid.uuid5(HISTORY_NAMESPACE, f"{message.tenant_id}:{message.pk}"))


@shared_task(name="relay.template_send.record_in_salesforce", ignore_result=True)
def record_in_salesforce(message_id: int) -> str:
    """Import the agent's template into their Messaging Session (CCaaS orgs); see the module docstring.

    Runs on the delivery engine (``lines/engine.py``): every try is a delivery attempt of the message, a
    transient failure comes back with the engine's backoff up to ``HISTORY_MAX_ATTEMPTS`` tries, an internal
    error up to ``RELAY_MAX_INTERNAL_ERRORS``, a permanent one gives up at once.
    """
    outcome, due = import_history(message_id)
    # Run eagerly (tests on embedded defaults), a task cannot wait for its eta.
    if due is not None and not record_in_salesforce.app.conf.task_always_eager:
        record_in_salesforce.apply_async((message_id,), eta=due)
    return outcome


def import_history(message_id: int) -> tuple[str, datetime | None]:
    """One try of the import: (what came of it, when to try again or None)."""
    message = (
        Message.objects.select_related("tenant__salesforce", "conversation__sender")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        return "message gone", None
    content = message.content or {}
    if content.get("salesforce_history_entry"):
        return "done before", None
    if cache.get(NO_HISTORY_KEY.format(tenant_id=message.tenant_id)):
        return "not available for this org", None
    connection = getattr(message.tenant, "salesforce", None)
    if connection is None or connection.desk != connection.Desk.MESSAGING:
        return "no Messaging desk", None
    tries = DeliveryAttempt.objects.filter(message=message, action=HISTORY_ACTION)
    if tries.count() >= HISTORY_MAX_ATTEMPTS:
        return "failed", None  # given up before (a duplicate task)
    entry = history_entry_id(message)
    try:
        with attempt(message, target="salesforce", action=HISTORY_ACTION):
            _import(message, connection, entry)
    except Exception as exc:  # noqa: BLE001 - recorded as an attempt; the engine decides what comes next
        if isinstance(exc, ExternalError) and exc.code == HISTORY_REFUSED:
            cache.set(NO_HISTORY_KEY.format(tenant_id=message.tenant_id), True, NO_HISTORY_SECONDS)
            return "not available for this org", None
        if not (isinstance(exc, ExternalError) and exc.code == ALREADY_IMPORTED):
            return _history_failed(message, tries, exc)
    Message.objects.filter(pk=message.pk).update(content={**content, "salesforce_history_entry": entry})
    return "recorded", None


def _history_failed(message: Message, tries, exc: Exception) -> tuple[str, datetime | None]:
    kind = engine.kind_of(exc)
    due = engine.next_try(
        kind,
        attempts=tries.count(),
        internal_errors=tries.filter(outcome=DeliveryAttempt.Outcome.INTERNAL).count(),
        retry_after=getattr(exc, "retry_after", None),
        max_attempts=HISTORY_MAX_ATTEMPTS,
    )
    if due is not None:
        return "retrying", due
    log.warning("tenant %s: template %s not recorded in Salesforce: %s", message.tenant_id, message.pk, exc)
    return "failed", None


def _import(message: Message, connection, entry: str) -> None:
    conversation = message.conversation
    agent = message.content.get("agent") or {}
    stamp = now_ms()
    end_user = {"appType": "custom", "subject": conversation.customer, "role": "EndUser"}
    author = {
        "appType": "custom",
        "subject": f"switchboard-agent-{agent.get('id') or 'unknown'}",
        "role": "Chatbot",
    }
    InteractionClient(connection).send_history(
        conversation.sender.channel_address_identifier,
        participants=[
            {"displayName": conversation.customer_name or conversation.customer, "participant": end_user,
             "joinedTime": stamp - 2000},
            {"displayName": f"{agent.get('name') or 'Agent'} (WhatsApp template)", "participant": author,
             "joinedTime": stamp - 2000, "leftTime": stamp},
        ],
        entries=[{"clientTimestamp": stamp - 1000, "sender": author, "entryPayload": text_payload(entry, message.text)}],
        messaging_session={
            "messagingSessionRequestType": "AttachMessagingSession",
            "payload": {"sessionId": message.content["messaging_session_id"]},
        },
    )  # fmt: skip
