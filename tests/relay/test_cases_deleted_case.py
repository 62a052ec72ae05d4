"""A Case deleted in Salesforce (its Change Data Capture DELETE event closes the link) cannot be reopened: the
customer's next message within the reopen window opens a new Case instead of failing, so it is not lost."""

from __future__ import annotations

import pytest

from relay.desks.cases import current_link
from relay.desks.cases_models import CaseLink
from relay.models import Message
from tenants.models import SalesforceConnection
from tests.relay.salesforce_support import (  # noqa: F401 - fixtures
    ORG_ID,
    create_sandbox_org,
    make_connected_tenant,
    salesforce_urls,
)
from tests.relay.test_cases_desk import (  # noqa: F401 - the Cases desk's sandbox fixtures, shared
    conversation,
    deliver,
    org,
    replay_change_events,
    tenant,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_message_after_the_case_was_deleted_opens_a_new_case(tenant, conversation, org):  # noqa: F811
    SalesforceConnection.objects.filter(tenant=tenant).update(case_reopen_hours=24)
    deliver(tenant, conversation, "first")
    deleted = CaseLink.objects.get().case_id
    org.sandbox.call(org.sandbox.world.orgs.get(ORG_ID).records.delete, "Case", deleted)  # deleted in Setup
    replay_change_events(tenant, org)
    assert CaseLink.objects.get(case_id=deleted).is_closed

    message = deliver(tenant, conversation, "are you there?")
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED, (message.status, message.last_error)
    link = current_link(conversation)
    assert link.case_id and link.case_id != deleted and not link.is_closed
    [case] = org.rows("Case")
    assert case["Id"] == link.case_id
