"""The wizard's health check on the Cases desk: the event subscription is /data/CaseChangeEvent (no channel
definition or platform event to set up), refused by name while Case is not selected for Change Data Capture;
no capabilities row (the desk has no Messaging channel)."""

from __future__ import annotations

import pytest

from portal.console.wizard.health import ERROR, WARN, run_checks
from relay.salesforce import auth
from tenants.models import SalesforceConnection
from tests.relay.salesforce_support import (  # noqa: F401 - fixtures
    ORG_ID,
    create_sandbox_org,
    make_connected_tenant,
    salesforce_urls,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenant(sim, sandbox, settings, salesforce_urls):  # noqa: F811
    settings.SALESFORCE_PUBSUB_ENDPOINT = sandbox.world.config.grpc_target
    settings.SALESFORCE_PUBSUB_TLS = False
    create_sandbox_org(sim)
    return make_connected_tenant(
        salesforce_urls, desk=SalesforceConnection.Desk.CASES, authorization_context="", platform_event=""
    )


def subscription(tenant):
    checks = {check.key: check for check in run_checks(tenant)}
    assert "capabilities" not in checks
    return checks["subscription"]


def test_the_subscription_is_the_case_change_events(tenant, sim):
    auth.forget_token(tenant.salesforce)
    refused = subscription(tenant)
    assert refused.state == ERROR and "/data/CaseChangeEvent" in refused.detail

    sim.post(f"/__sim/orgs/{ORG_ID}/settings", json={"change_data_capture": ["Case"]})
    ready = subscription(tenant)
    assert ready.state == WARN and "/data/CaseChangeEvent is ready" in ready.detail
