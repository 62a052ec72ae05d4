"""The wizard registers the channel's capabilities with the Interaction Service (PATCH /capabilities), so
agents can send buttons, lists and forms: once the SCRT host is saved, and again at each run of the channel
setup; the page and the health check show the result, a refusal in Salesforce's words."""

from __future__ import annotations

import re

import pytest

from portal.demo import DEMO_ORG_ID
from relay.salesforce import capabilities

from .conftest import canvas_sign_in, make_clean_tenant
from .test_wizard import WHATSAPP_CHANNEL, Wizard, setup_salesforce

pytestmark = pytest.mark.django_db(transaction=True)

SETUP = {"action": "setup", "authorization_context": "Switchboard_Messaging", "platform_event": "Switchboard_Interaction__e"}  # fmt: skip


@pytest.fixture
def live(settings, live_server, pubsub_at_sandbox):
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server


def registered(demo_org) -> dict:
    """The BYOC channels' capabilities: an Enhanced Chat deployment of the demo org has its own, fixed by
    Salesforce and not registered by the wizard."""
    found = demo_org.sim.get(f"/__sim/console/api/orgs/{DEMO_ORG_ID}/capabilities").json()
    return {key: value for key, value in found.items() if not key.startswith("EnhancedChat:")}


def health_states(wizard: Wizard) -> dict:
    health = wizard.get("/console/wizard/health/").content.decode()
    return dict(re.findall(r'data-check="([^"]+)" data-state="(\w+)"', health))


def health_detail(wizard: Wizard, key: str) -> str:
    health = wizard.get("/console/wizard/health/").content.decode()
    return re.search(rf'data-check="{key}".*?sb-break">([^<]*)<', health, re.S).group(1)


def capabilities_row(page: str) -> str | None:
    found = re.search(r'id="capabilities-row" data-capabilities="(\w+)"', page)
    return found.group(1) if found else None


@pytest.fixture
def wizard(demo_org, live, client):
    tenant = make_clean_tenant(demo_org.sandbox)
    wizard = Wizard(client, canvas_sign_in(client, demo_org.sim))
    setup_salesforce(wizard, tenant, demo_org.sim, demo_org.base_url)
    wizard.tenant = tenant
    return wizard


def save_channel(wizard: Wizard, base_url: str) -> None:
    saved = wizard.post(
        "/console/wizard/channel/",
        {"action": "save", "channel": WHATSAPP_CHANNEL, "scrt_url": f"{base_url}/sim/scrt"},
    )
    assert saved.status_code == 302


def test_saving_the_channel_registers_what_it_carries_and_each_setup_run_registers_again(demo_org, wizard):
    # The first setup run has no SCRT host yet: nothing registered, and the health check says so.
    first = wizard.post("/console/wizard/channel/", SETUP).content.decode()
    assert capabilities_row(first) is None and registered(demo_org) == {}
    assert health_states(wizard)["capabilities"] == "warn"

    save_channel(wizard, demo_org.base_url)
    stored = registered(demo_org)["Switchboard_Messaging"]
    [channel] = stored["channelCapabilities"]
    assert stored["appType"] == "custom" and channel["customIntegration"] == {
        "customIntegrationType": "CustomChannelIntegration",
        "integrationNamespace": DEMO_ORG_ID[:15],
        "conversationChannelDefinitionDevName": "Switchboard_Messaging",
    }
    formats = {
        (m["messageType"], f["formatType"])
        for m in channel["messageTypeCapabilities"]
        for f in m["formatTypeCapabilities"]
    }
    # Native and readable kinds are offered; what the relay refuses is not.
    assert {
        ("StaticContentMessage", "Text"),
        ("StaticContentMessage", "Attachments"),
        ("ChoicesMessage", "Buttons"),
        ("ChoicesMessage", "ListPicker"),
        ("FormMessage", "Inputs"),
    } <= formats
    assert not formats & {("FormMessage", "MessageDefinition"), ("StaticContentMessage", "Application")}
    assert "progressIndicatorTypeCapabilities" not in channel  # the relay does not forward progress
    page = wizard.get("/console/wizard/channel/").content.decode()
    assert capabilities_row(page) == "registered" and "Registered" in page
    assert health_states(wizard)["capabilities"] == "ok"

    # A run of the setup with the SCRT host known registers again (idempotent) and shows it.
    demo_org.sandbox.call(lambda: demo_org.sandbox.world.messaging.state(
        demo_org.sandbox.world.orgs.get(DEMO_ORG_ID)).capabilities.clear())  # fmt: skip
    again = wizard.post("/console/wizard/channel/", SETUP).content.decode()
    assert capabilities_row(again) == "registered" and 'id="setup-error"' not in again
    assert registered(demo_org)["Switchboard_Messaging"] == stored


def test_a_refused_registration_shows_salesforces_reason_on_the_page_and_in_the_health_check(
    demo_org, wizard
):
    wizard.post("/console/wizard/channel/", SETUP)
    demo_org.sim.post(
        "/__sim/faults", json={"service": "scrt", "path": "/capabilities", "status": 503, "outage": True}
    )
    save_channel(wizard, demo_org.base_url)
    page = wizard.post("/console/wizard/channel/", SETUP).content.decode()
    assert capabilities_row(page) == "failed"
    error = re.search(r'id="setup-error"><h2>([^<]*)<', page).group(1)
    assert error.startswith("Messaging capabilities: ") and "Service unavailable, retry later." in error
    assert registered(demo_org) == {}
    assert health_states(wizard)["capabilities"] == "warn"
    assert "The registration failed" in health_detail(wizard, "capabilities")

    demo_org.sim.delete("/__sim/faults")
    assert capabilities_row(wizard.post("/console/wizard/channel/", SETUP).content.decode()) == "registered"
    assert health_states(wizard)["capabilities"] == "ok"


def test_a_registration_for_another_channel_definition_is_out_of_date(demo_org, wizard):
    wizard.post("/console/wizard/channel/", SETUP)
    save_channel(wizard, demo_org.base_url)
    connection = wizard.tenant.salesforce
    connection.refresh_from_db()
    before = capabilities.fingerprint(connection)
    connection.authorization_context = "Other_Channel"
    connection.save()
    assert capabilities.fingerprint(connection) != before
    assert health_states(wizard)["capabilities"] == "warn"
    assert "Registered for another channel definition" in health_detail(wizard, "capabilities")
