"""The core REST client against the sandbox's instance host."""

from __future__ import annotations

import pytest

from relay.errors import ExternalError
from relay.salesforce.rest import ApiUsage, SalesforceRest
from tests.relay.salesforce_support import (  # noqa: F401 - fixtures
    CCD,
    ORG_ID,
    create_sandbox_org,
    make_connected_tenant,
    salesforce_urls,
    tokens,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rest(sim, salesforce_urls):  # noqa: F811
    create_sandbox_org(sim)
    return SalesforceRest(make_connected_tenant(salesforce_urls).salesforce)


def test_query_follows_next_records_url(rest, sandbox):
    org = sandbox.world.orgs.get(ORG_ID)

    def insert_cases():
        for number in range(2105):
            org.records.insert("Case", {"Subject": f"Case {number}", "Status": "New", "Origin": "WhatsApp"})

    sandbox.call(insert_cases)
    records = rest.query("SELECT Id, Subject FROM Case")
    assert len(records) == 2105
    assert len({r["Id"] for r in records}) == 2105


def test_create_update_and_query_a_record(rest):
    case_id = rest.create("Case", {"Subject": "WhatsApp +447700900123", "Origin": "WhatsApp"})
    rest.update("Case", case_id, {"Status": "Working"})
    [case] = rest.query(f"SELECT Id, Subject, Status FROM Case WHERE Id = '{case_id}'")
    assert case["Subject"] == "WhatsApp +447700900123" and case["Status"] == "Working"


def test_tooling_create_is_idempotent(rest):
    metadata = {
        "developerName": "Acme_WhatsApp",
        "masterLabel": "Acme WhatsApp",
        "connectedAppType": "Customer",
        "customPlatformEvent": "Switchboard_Interaction__e",
        "customEventTypeField": "Switchboard_Interaction__e.EventType__c",
        "customEventPayloadField": "Switchboard_Interaction__e.Payload__c",
        "routingOwner": "Salesforce",
        "consentOwner": "Salesforce",
    }
    first = rest.tooling_create("ConversationChannelDefinition", "Acme_WhatsApp", metadata)
    second = rest.tooling_create("ConversationChannelDefinition", "Acme_WhatsApp", metadata)
    assert first.created and first.id
    assert second.already_existed and second.id is None and "already exists" in second.message
    names = {
        r["DeveloperName"]
        for r in rest.tooling_query("SELECT Id, DeveloperName FROM ConversationChannelDefinition")
    }
    assert names == {CCD, "Acme_WhatsApp"}


def test_limits_and_usage_header(rest):
    limits = rest.describe_limits()
    assert limits["DailyApiRequests"]["Max"] == 15000
    assert rest.usage.limit == 15000 and rest.usage.used >= 1


def test_usage_header_parsing():
    usage = ApiUsage.parse("api-usage=25/15000; per-app-api-usage=17/250(appName=Acme)")
    assert (usage.used, usage.limit, usage.remaining) == (25, 15000, 14975)
    assert usage.per_app == {"Acme": (17, 250)}
    assert ApiUsage.parse(None) is None and ApiUsage.parse("nonsense") is None


def test_expired_session_is_refreshed_once(rest, sim):
    rest.describe_limits()
    sim.post(f"/__sim/orgs/{ORG_ID}/tokens/expire", json={})
    assert rest.query("SELECT Id FROM Case") == []
    assert len(tokens(sim)) == 2


def test_malformed_query_is_permanent_with_salesforces_words(rest):
    with pytest.raises(ExternalError) as caught:
        rest.query("SELECT FROM WHERE")
    assert caught.value.permanent and caught.value.status == 400
    assert caught.value.code == "MALFORMED_QUERY"


def test_daily_limit_is_transient(rest, sim):
    sim.post(f"/__sim/orgs/{ORG_ID}/settings", json={"api_request_limit": 1, "api_requests_used": 1})
    with pytest.raises(ExternalError) as caught:
        rest.describe_limits()
    assert not caught.value.permanent and caught.value.code == "REQUEST_LIMIT_EXCEEDED"
    assert rest.usage.remaining == 0


def test_server_unavailable_is_transient(rest, sim):
    sim.post("/__sim/faults", json={"service": "core", "path": "/services/data", "status": 503})
    with pytest.raises(ExternalError) as caught:
        rest.query("SELECT Id FROM Case")
    assert not caught.value.permanent and caught.value.status == 503
