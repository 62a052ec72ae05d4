"""A Case deleted in Salesforce (its Change Data Capture DELETE event closes the link) cannot be reopened: the
customer's next message within the reopen window opens a new Case instead of failing, so it is not lost."""

from __future__ import annotations

import httpx
import pytest

from relay import http
from relay.desks.cases import current_link
from relay.desks.cases_models import CaseEntry, CaseLink
from relay.errors import ExternalError
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


def test_a_case_deleted_without_its_change_event_takes_no_message_down_with_it(tenant, conversation, org):  # noqa: F811
    """The DELETE change event never came (deleted beyond the 72-hour replay window, or before Change Data
    Capture covered Case): the link still says open. Salesforce refuses a record whose lookup names a deleted
    record (StatusCode ENTITY_IS_DELETED, "entity is deleted", for one in the Recycle Bin; an id it no longer
    knows: INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY, which the sandbox answers). The message goes on a new
    Case instead of failing, and so does every later one: before, each failed for good."""
    deliver(tenant, conversation, "first")
    deleted = CaseLink.objects.get().case_id
    org.sandbox.call(org.sandbox.world.orgs.get(ORG_ID).records.delete, "Case", deleted)  # no event replayed

    for text in ("are you there?", "hello?"):
        message = deliver(tenant, conversation, text)
        message.refresh_from_db()
        assert message.status == Message.Status.DELIVERED, (message.status, message.last_error)
    old = CaseLink.objects.get(case_id=deleted)
    assert old.is_closed
    link = current_link(conversation)
    assert link.case_id and link.case_id != deleted and not link.is_closed
    [case] = org.rows("Case")
    assert case["Id"] == link.case_id
    posts = org.rows("FeedItem", ParentId=link.case_id)
    assert sorted(p["Body"].rsplit("\n", 1)[-1] for p in posts) == ["are you there?", "hello?"]
    assert {
        e.case_link_id for e in CaseEntry.objects.filter(message__text__in=["are you there?", "hello?"])
    } == {link.pk}


def test_a_case_the_write_is_refused_on_but_still_there_is_not_replaced(
    tenant,  # noqa: F811
    conversation,  # noqa: F811
    org,  # noqa: F811
    monkeypatch,
):
    """The same refusal on a Case a query still finds (say a trigger that names ENTITY_IS_DELETED for a
    record of its own) is the refusal it is: no second Case, the link stays open."""
    deliver(tenant, conversation, "first")
    case_id = CaseLink.objects.get().case_id
    real = http.request

    def salesforce(system, method, url, **kwargs):  # Salesforce's answer to the FeedItem insert, nothing else
        if method == "POST" and url.endswith("/sobjects/FeedItem"):
            body = [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}]
            return httpx.Response(400, json=body, request=httpx.Request(method, url))
        return real(system, method, url, **kwargs)

    monkeypatch.setattr(http, "request", salesforce)
    with pytest.raises(ExternalError) as refused:
        deliver(tenant, conversation, "second")
    assert refused.value.code == "ENTITY_IS_DELETED" and refused.value.permanent
    assert [row["Id"] for row in org.rows("Case")] == [case_id]
    assert not CaseLink.objects.get(case_id=case_id).is_closed
