"""The channel's capabilities registration: derived from the agent_content table (every pair the relay
carries, none it refuses), a valid CapabilitiesRequest per Salesforce's YAML, stored by the sandbox's SCRT
host, and a refusal reported in Salesforce's words."""

from __future__ import annotations

import pytest

from relay.errors import ExternalError
from relay.outbound.agent_content import FORMATS, REFUSED
from relay.salesforce import capabilities
from relay.salesforce.interactions import InteractionClient
from sandbox.salesforce.interaction_spec import schema_error
from tests.relay.salesforce_support import (  # noqa: F401 - fixtures
    ORG_ID,
    console,
    create_sandbox_org,
    make_connected_tenant,
    salesforce_urls,
    tokens,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def connection(sim, salesforce_urls):  # noqa: F811
    create_sandbox_org(sim)
    return make_connected_tenant(salesforce_urls).salesforce


def registered_pairs(body: dict) -> set[tuple[str, str]]:
    [channel] = body["capabilities"]["channelCapabilities"]
    return {
        (m["messageType"], f["formatType"])
        for m in channel["messageTypeCapabilities"]
        for f in m["formatTypeCapabilities"]
    }


@pytest.mark.parametrize(("pair", "treatment"), [(pair, f.treatment) for pair, f in FORMATS.items()])
def test_every_pair_the_relay_carries_is_registered_and_none_it_refuses(connection, pair, treatment):
    assert (pair in registered_pairs(capabilities.request_body(connection))) == (treatment != REFUSED)


def test_the_body_is_a_capabilities_request_for_the_connections_channel_definition(connection):
    body = capabilities.request_body(connection)
    assert schema_error("CapabilitiesRequest", body) is None
    [channel] = body["capabilities"]["channelCapabilities"]
    assert channel["customIntegration"] == {
        "customIntegrationType": "CustomChannelIntegration",
        "integrationNamespace": ORG_ID[:15],
        "conversationChannelDefinitionDevName": connection.authorization_context,
    }
    namespaced = capabilities.request_body(connection, namespace="acme")
    assert (
        namespaced["capabilities"]["channelCapabilities"][0]["customIntegration"]["integrationNamespace"]
        == "acme"
    )
    # Files go by link, so no MIME restriction; the relay forwards no progress indicators.
    assert not any("capabilityFieldRestriction" in str(m) for m in channel["messageTypeCapabilities"])
    assert "progressIndicatorTypeCapabilities" not in channel


def test_register_stores_them_at_the_scrt_host_and_a_repeat_is_harmless(connection, sim):
    first = capabilities.register(connection)
    assert first.ok and first.fingerprint == capabilities.fingerprint(connection)
    assert capabilities.register(connection).ok
    stored = console(sim, ORG_ID, "/capabilities")[connection.authorization_context]
    assert stored == capabilities.request_body(connection)["capabilities"]


def test_a_refused_body_raises_with_salesforces_code_and_message(connection):
    with pytest.raises(ExternalError) as caught:
        InteractionClient(connection).register_capabilities({"capabilities": {"appType": "custom"}})
    assert caught.value.permanent and caught.value.code == "10089"
    assert caught.value.message.startswith("Salesforce refused the capabilities registration: ")


def test_a_refusal_is_reported_not_raised(connection, sim):
    sim.post(
        "/__sim/faults", json={"service": "scrt", "path": "/capabilities", "status": 503, "outage": True}
    )
    registration = capabilities.register(connection)
    assert not registration.ok and registration.fingerprint == ""
    assert "Service unavailable, retry later." in registration.message
    assert registration.as_row(connection)["created"] is False
