"""Create, through the Tooling API, what Bring Your Own Channel needs in the org: the platform event and
its two fields, a ConversationVendorInfo and the ConversationChannelDefinition.

Idempotent: a piece that exists already (``DUPLICATE_DEVELOPER_NAME``) is reported as "already existed"
and left as it is, so the admin can run it again after fixing anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.conf import settings

from relay.errors import ExternalError
from relay.salesforce.rest import SalesforceRest
from tenants.models import SalesforceConnection

VENDOR_NAME = "Switchboard"
EVENT_TYPE_FIELD = "EventType__c"
EVENT_PAYLOAD_FIELD = "Payload__c"


@dataclass(frozen=True)
class SetupItem:
    what: str
    name: str
    created: bool
    message: str = ""


class ChannelSetupError(Exception):
    def __init__(self, message: str, done: list[SetupItem]) -> None:
        super().__init__(message)
        self.message = message
        self.done = done


def pieces(definition: str, event: str) -> list[tuple[str, str, str, dict]]:
    """(label, Tooling type, FullName, Metadata) in the order they depend on each other."""
    label = event.removesuffix("__e").replace("_", " ")
    return [
        (
            "Platform event",
            "CustomObject",
            event,
            {
                "label": label,
                "pluralLabel": label,
                "deploymentStatus": "Deployed",
                "eventType": "HighVolume",
                "publishBehavior": "PublishImmediately",
            },
        ),
        (
            "Event field",
            "CustomField",
            f"{event}.{EVENT_TYPE_FIELD}",
            {"label": "Event Type", "type": "Text", "length": 255},
        ),
        (
            "Event field",
            "CustomField",
            f"{event}.{EVENT_PAYLOAD_FIELD}",
            {"label": "Payload", "type": "LongTextArea", "length": 131072, "visibleLines": 3},
        ),
        (
            "Conversation vendor info",
            "ConversationVendorInfo",
            VENDOR_NAME,
            {
                "developerName": VENDOR_NAME,
                "masterLabel": VENDOR_NAME,
                "vendorType": "BringYourOwnChannelPartner",
                "connectorUrl": settings.PUBLIC_BASE_URL,
            },
        ),
        (
            "Conversation channel definition",
            "ConversationChannelDefinition",
            definition,
            {
                "developerName": definition,
                "masterLabel": definition.replace("_", " "),
                # The org's own Connected App signs in, so the app type is Customer and the vendor info
                # is not linked (Salesforce links it only for AppExchange partner apps).
                "connectedAppType": "Customer",
                "customPlatformEvent": event,
                "customEventTypeField": f"{event}.{EVENT_TYPE_FIELD}",
                "customEventPayloadField": f"{event}.{EVENT_PAYLOAD_FIELD}",
                "routingOwner": "Salesforce",
                "consentOwner": "Salesforce",
                "isInboundReceiptsEnabled": True,
                "isTypingIndicatorDisabled": False,
                "supportsImplicitConsent": True,
            },
        ),
    ]


def ensure_channel(connection: SalesforceConnection, definition: str, event: str) -> list[SetupItem]:
    """Create each missing piece; raise ChannelSetupError (with what was done so far) on a refusal."""
    rest = SalesforceRest(connection)
    done: list[SetupItem] = []
    for label, tooling_type, full_name, metadata in pieces(definition, event):
        try:
            result = rest.tooling_create(tooling_type, full_name, metadata)
        except ExternalError as exc:
            raise ChannelSetupError(f"{label} {full_name}: {exc.message}", done) from None
        done.append(SetupItem(label, full_name, result.created, result.message))
    return done


def as_rows(items: list[SetupItem]) -> list[dict]:
    return [asdict(item) for item in items]
