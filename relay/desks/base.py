"""How a conversation reaches agents: one class per Salesforce product (BYOC Messaging, Legacy Chat)."""

from __future__ import annotations

from ..models import Message


class Desk:
    name = ""

    def deliver(self, message: Message) -> None:
        """Hand one inbound message to Salesforce; mark it delivered. Raise ExternalError on failure."""
        raise NotImplementedError


def desk_for(message: Message) -> Desk:
    from tenants.models import SalesforceConnection

    from ..attempts import attempt
    from ..errors import ExternalError
    from .messaging import MessagingDesk

    try:
        connection = message.tenant.salesforce  # the pipeline reads it with the message (select_related)
    except SalesforceConnection.DoesNotExist:
        connection = None
    if connection is None:
        # Not permanent: the admin may connect Salesforce within the delivery window, and then it arrives.
        with attempt(message, target="salesforce", action="interaction"):
            raise ExternalError(
                "Salesforce is not connected for this tenant yet (setup wizard, step 1)", code="NOT_CONNECTED"
            )
    if connection.desk == SalesforceConnection.Desk.LIVECHAT:
        from .livechat import LiveChatDesk

        return LiveChatDesk()
    return MessagingDesk()
