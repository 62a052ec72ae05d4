"""What the channel tells Salesforce it can carry (``PATCH /api/v1/capabilities``, the YAML's
``CapabilitiesRequest``).

Salesforce sends an agent only the message types the channel registered: without a registration a real
org offers text and files, never buttons, lists or forms. The list is derived from the table in
:mod:`relay.outbound.agent_content`: every message and format type Switchboard sends natively or as a
faithful readable text, nothing it refuses.

- Attachments go without MIME restrictions: the relay passes the file's link to the provider (Infobip
  fetches it from the URL), so every type Salesforce lets an agent attach can be offered.
- No progress indicators: the relay does not forward an agent's typing or progress to the customer.
- No response types (ChoicesResponseMessage, FormResponseMessage): the customer's answer to a button
  reaches the agent as text, which needs no registration.

Registering is idempotent (Salesforce keeps the last body per channel definition), so the wizard sends it
every time the admin runs the channel setup or saves the channel.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from relay.errors import ExternalError
from relay.outbound.agent_content import FORMATS, NATIVE, READABLE

from .interactions import InteractionClient

CUSTOM_CHANNEL_INTEGRATION = "CustomChannelIntegration"


def message_type_capabilities() -> list[dict]:
    """``MessageTypeCapabilities`` for every pair the relay carries, in the table's order."""
    by_type: dict[str, list[dict]] = {}
    for (message_type, format_type), fmt in FORMATS.items():
        if fmt.treatment in (NATIVE, READABLE):
            by_type.setdefault(message_type, []).append({"formatType": format_type})
    return [{"messageType": kind, "formatTypeCapabilities": formats} for kind, formats in by_type.items()]


def request_body(connection, *, namespace: str = "") -> dict:
    """The ``CapabilitiesRequest`` for the connection's channel definition. ``integrationNamespace`` is the
    developer namespace when the definition comes from a package, else the org id (15 characters)."""
    return {
        "capabilities": {
            "appType": "custom",
            "channelCapabilities": [
                {
                    "channelType": "custom",
                    "customIntegration": {
                        "customIntegrationType": CUSTOM_CHANNEL_INTEGRATION,
                        "integrationNamespace": namespace or connection.tenant.org_id15,
                        "conversationChannelDefinitionDevName": connection.authorization_context,
                    },
                    "messageTypeCapabilities": message_type_capabilities(),
                }
            ],
        }
    }


def fingerprint(connection) -> str:
    """What a registration covered: the channel definition, the SCRT host and the capabilities. A change of
    any of them (an upgrade that carries more) means the registration is out of date."""
    seen = json.dumps([connection.interaction_base_url, request_body(connection)], sort_keys=True)
    return hashlib.sha256(seen.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Registration:
    ok: bool
    message: str
    fingerprint: str

    def as_row(self, connection) -> dict:
        """A row of the wizard's channel-setup table (``SetupProgress.channel_setup``)."""
        return {
            "kind": "capabilities",
            "what": ROW_LABEL,
            "name": connection.authorization_context,
            "created": self.ok,
            "message": self.message,
            "capabilities": self.fingerprint if self.ok else "",
        }


ROW_LABEL = "Messaging capabilities"


def summary() -> str:
    kinds = [c["messageType"].removesuffix("Message") for c in message_type_capabilities()]
    formats = sum(len(c["formatTypeCapabilities"]) for c in message_type_capabilities())
    return f"{formats} formats of {', '.join(kinds)} messages"


def register(connection) -> Registration:
    """Register the channel's capabilities; a refusal is reported in Salesforce's words, never raised."""
    if not connection.authorization_context:
        return Registration(False, "The channel definition is not set up yet.", "")
    try:
        InteractionClient(connection).register_capabilities(request_body(connection))
    except ExternalError as exc:
        return Registration(False, exc.message, "")
    return Registration(True, f"Registered {summary()}.", fingerprint(connection))
