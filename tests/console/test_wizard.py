"""The setup wizard, step by step, against the sandbox (Salesforce and Infobip) and a live server that
receives the provider's webhooks."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from portal.console.models import SetupProgress
from portal.demo import DEMO_CONSUMER_KEY, DEMO_INTEGRATION_USER, DEMO_ORG_ID
from relay.models import Message
from tenants.models import ProviderAccount, RoutingRule, Sender

from .conftest import (
    INFOBIP_KEY,
    SECOND_ORG_ID,
    SECOND_SECRET,
    canvas_sign_in,
    demo_fixture,
    make_clean_tenant,
    upload_certificate,
)

pytestmark = pytest.mark.django_db(transaction=True)

WHATSAPP_CHANNEL = "6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a01"
SMS_CHANNEL = "6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a02"
VIBER_CHANNEL = "6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a03"
CUSTOMER = "+385919998888"


class Wizard:
    """A Django test client signed in through Canvas, posting the wizard's forms with its token."""

    def __init__(self, client: Client, token: str) -> None:
        self.client, self.token = client, token

    def get(self, path: str, **params):
        return self.client.get(path, params, headers={"X-Console-Token": self.token})

    def post(self, path: str, data: dict):
        return self.client.post(path, {"st": self.token, **data})


def salesforce_form(sandbox_url: str, **changes) -> dict:
    form = {
        "instance_url": f"{sandbox_url}/sim/core",
        "environment": "production",
        "desk": "messaging",
        "consumer_key": DEMO_CONSUMER_KEY,
        "integration_username": DEMO_INTEGRATION_USER,
        "action": "continue",
    }
    return {**form, **changes}


def provider_form(sandbox_url: str, **changes) -> dict:
    form = {
        "provider": "infobip",
        "name": "Acme Infobip",
        "base_url": f"{sandbox_url}/sim/infobip",
        "api_key": INFOBIP_KEY,
        "webhook_auth": "hmac",
        "action": "save",
    }
    return {**form, **changes}


def wait_for(predicate, *, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def live(settings, live_server, pubsub_at_sandbox):
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server


def setup_salesforce(wizard: Wizard, tenant, sim, sandbox_url: str) -> None:
    assert wizard.post("/console/wizard/salesforce/", {"action": "generate"}).status_code == 302
    upload_certificate(sim, tenant)
    response = wizard.post("/console/wizard/salesforce/", salesforce_form(sandbox_url))
    assert response.status_code == 302 and "/console/wizard/channel/" in response["Location"]


def test_every_step_against_the_sandbox_ends_with_a_delivered_test_message(demo_org, live, client):
    sim, base = demo_org.sim, demo_org.base_url
    tenant = make_clean_tenant(demo_org.sandbox)
    wizard = Wizard(client, canvas_sign_in(client, sim))
    home = wizard.get("/console/wizard/").content.decode()
    assert home.count(">To do<") == 6

    # 1. Key pair, certificate download, then a wrong consumer key gets Salesforce's own words.
    assert wizard.post("/console/wizard/salesforce/", {"action": "generate"}).status_code == 302
    certificate = wizard.get("/console/wizard/certificate/")
    assert certificate.status_code == 200 and b"BEGIN CERTIFICATE" in certificate.content
    assert "attachment" in certificate["Content-Disposition"]
    upload_certificate(sim, tenant)
    wrong = wizard.post("/console/wizard/salesforce/", salesforce_form(base, consumer_key="3MVG9wrongKey"))
    assert wrong.status_code == 200
    assert "Salesforce refused the login: client identifier invalid" in wrong.content.decode()
    tenant.salesforce.refresh_from_db()
    assert tenant.salesforce.consumer_key == "3MVG9wrongKey"  # saved as it goes, but not verified
    assert not SetupProgress.of(tenant).salesforce_verified_for
    unapproved = wizard.post(
        "/console/wizard/salesforce/", salesforce_form(base, integration_username="ada@acme.demo")
    )
    assert "user hasn&#x27;t approved this consumer" in unapproved.content.decode()
    ok = wizard.post("/console/wizard/salesforce/", salesforce_form(base))
    assert ok.status_code == 302

    # 2. Tooling setup: the demo org has the event and the channel definition, not the vendor info.
    setup = wizard.post("/console/wizard/channel/", {"action": "setup", "authorization_context": "Switchboard_Messaging",
                                                     "platform_event": "Switchboard_Interaction__e"})  # fmt: skip
    text = setup.content.decode()
    rows = dict(re.findall(r'data-name="([^"]+)" data-created="(true|false)"', text))
    assert rows == {
        "Switchboard_Interaction__e": "false",
        "Switchboard_Interaction__e.EventType__c": "false",
        "Switchboard_Interaction__e.Payload__c": "false",
        "Switchboard": "true",
        "Switchboard_Messaging": "false",
    }
    assert "Acme_WhatsApp" not in text and "Acme WhatsApp" in text or "Acme_WhatsApp" in text
    bad_scrt = wizard.post("/console/wizard/channel/", {"action": "save", "channel": WHATSAPP_CHANNEL,
                                                        "scrt_url": "http://scrt.example.com"})  # fmt: skip
    assert bad_scrt.status_code == 400 and "must use https://" in bad_scrt.content.decode()
    saved = wizard.post("/console/wizard/channel/", {"action": "save", "channel": WHATSAPP_CHANNEL,
                                                     "scrt_url": f"{base}/sim/scrt", "welcome_text": "Hi there",
                                                     "closing_text": "Bye", "no_agent_text": "Busy"})  # fmt: skip
    assert saved.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.welcome_text, tenant.closing_text, tenant.no_agent_text) == ("Hi there", "Bye", "Busy")

    # 3. A bad API key is refused with Infobip's words and writes nothing.
    bad = wizard.post("/console/wizard/provider/", provider_form(base, api_key="not-the-key"))
    assert bad.status_code == 400
    assert "Infobip API key rejected" in bad.content.decode()
    assert not ProviderAccount.objects.exists()
    created = wizard.post("/console/wizard/provider/", provider_form(base))
    assert created.status_code == 200
    account = ProviderAccount.objects.get(tenant=tenant)
    secret = str(account.webhook_secret)
    page = created.content.decode()
    assert secret in page and f"{live.url}/webhooks/infobip/{account.webhook_key}/" in page
    assert secret not in wizard.get("/console/wizard/provider/").content.decode()  # shown once
    configured = sim.patch(
        "/__sim/infobip/accounts/demo-account-key",
        json={"webhook_url": f"{live.url}{account.webhook_path}", "auth": {"type": "HMAC", "secret": secret}},
    )
    assert configured.status_code == 200, configured.text

    # 4. Senders fetched live (Infobip lists numbers, not Viber names: that one is added by hand).
    senders_page = wizard.get("/console/wizard/senders/").content.decode()
    values = re.findall(r'data-sender="([^"]+)"', senders_page)
    assert values == ["whatsapp:+447860099299", "sms:+447491163443"]
    missing_channel = wizard.post(
        "/console/wizard/senders/", {"action": "save", "use-0": "on", "channel-0": ""}
    )
    assert missing_channel.status_code == 400 and not Sender.objects.exists()
    bad_number = wizard.post("/console/wizard/senders/", {"action": "save", "use-0": "on", "channel-0": WHATSAPP_CHANNEL,
                                                          "extra_channel": "sms", "extra_address": "+4478",
                                                          "extra_feeds": SMS_CHANNEL})  # fmt: skip
    assert bad_number.status_code == 400 and "not a valid sender number" in bad_number.content.decode()
    assert not Sender.objects.exists()
    response = wizard.post("/console/wizard/senders/", {"action": "save", "use-0": "on", "channel-0": WHATSAPP_CHANNEL,
                                                        "use-1": "on", "channel-1": SMS_CHANNEL,
                                                        "extra_channel": "viber", "extra_address": "AcmeViber",
                                                        "extra_feeds": VIBER_CHANNEL})  # fmt: skip
    assert response.status_code == 302
    assert {
        (s.channel, s.address, s.channel_address_identifier) for s in Sender.objects.filter(enabled=True)
    } == {
        ("whatsapp", "+447860099299", WHATSAPP_CHANNEL),
        ("sms", "+447491163443", SMS_CHANNEL),
        ("viber", "AcmeViber", VIBER_CHANNEL),
    }
    again = re.findall(r'data-sender="([^"]+)"', wizard.get("/console/wizard/senders/").content.decode())
    assert again == ["whatsapp:+447860099299", "sms:+447491163443", "viber:AcmeViber"]

    # 5. Routing from the org's lists: WhatsApp to the Support queue with Ada as fallback, sticky.
    routing = wizard.get("/console/wizard/routing/").content.decode()
    queue = re.search(r'value="queue:(00G\w+)">Support<', routing).group(1)
    ada = re.search(r'value="agent:(005\w+)">Ada Agent', routing).group(1)
    flow = re.search(r'value="flow:(300\w+)">Route messaging sessions', routing)
    assert flow, "routing flows come from the org"
    whatsapp, sms = Sender.objects.get(channel="whatsapp"), Sender.objects.get(channel="sms")
    viber = Sender.objects.get(channel="viber")
    same = wizard.post("/console/wizard/routing/", {
        "action": "save", f"s{whatsapp.pk}-target": f"queue:{queue}", f"s{whatsapp.pk}-fallback": f"queue:{queue}",
        f"s{sms.pk}-target": "channel:", f"s{viber.pk}-target": "channel:",
    })  # fmt: skip
    assert same.status_code == 400 and "The fallback is the same as the target." in same.content.decode()
    assert not RoutingRule.objects.exists()
    response = wizard.post("/console/wizard/routing/", {
        "action": "save",
        f"s{whatsapp.pk}-target": f"queue:{queue}", f"s{whatsapp.pk}-fallback": f"agent:{ada}",
        f"s{whatsapp.pk}-sticky": "on",
        f"s{sms.pk}-target": "channel:", f"s{sms.pk}-fallback": "",
        f"s{viber.pk}-target": f"flow:{flow.group(1)}",
    })  # fmt: skip
    assert response.status_code == 302
    rule = RoutingRule.objects.get(sender=whatsapp)
    assert (rule.target_type, rule.target_id, rule.target_label) == ("queue", queue, "Support")
    assert (rule.fallback_type, rule.fallback_id, rule.sticky_agent) == ("agent", ada, True)
    assert RoutingRule.objects.get(sender=sms).target_type == "channel"

    # 6. Health check, then a test message through the whole loop.
    health = wizard.get("/console/wizard/health/").content.decode()
    states = dict(re.findall(r'data-check="([^"]+)" data-state="(\w+)"', health))
    assert states == {
        "token": "ok",
        "subscription": "warn",  # GetTopic works; no relay_listen process runs in this test
        "capabilities": "ok",  # registered when the channel was saved with its SCRT host
        "provider": "ok",
        "webhook": "ok",
        f"sender-{whatsapp.pk}": "ok",
        f"sender-{sms.pk}": "ok",
        f"sender-{viber.pk}": "warn",  # Infobip's API cannot confirm a Viber service name
    }
    sent = wizard.post("/console/wizard/summary/", {"sender": str(sms.pk), "number": CUSTOMER})
    assert sent.status_code == 200
    message = Message.objects.get(tenant=tenant, content__system="wizard-test")

    def delivered():
        fragment = wizard.get(f"/console/wizard/test-message/{message.pk}/").content.decode()
        return 'data-status="delivered"' in fragment or 'data-status="read"' in fragment

    wait_for(delivered, what="the test message's delivery report")
    received = sim.get(
        "/__sim/infobip/messages", params={"customer": CUSTOMER.lstrip("+"), "direction": "OUTBOUND"}
    )
    assert any("Switchboard test message" in str(m) for m in received.json())
    assert wizard.get("/console/wizard/").content.decode().count(">Done<") == 6


def test_a_repeat_of_the_channel_setup_creates_nothing_twice(demo_org, live, client):
    demo_org.sandbox.call(demo_org.sandbox.world.reset)
    demo_org.sandbox.call(demo_org.sandbox.world.load_fixture, demo_fixture(bare=True))
    tenant = make_clean_tenant(demo_org.sandbox)
    wizard = Wizard(client, canvas_sign_in(client, demo_org.sim))
    setup_salesforce(wizard, tenant, demo_org.sim, demo_org.base_url)
    body = {"action": "setup", "authorization_context": "Acme_Channel", "platform_event": "Acme_Event__e"}
    first = dict(
        re.findall(
            r'data-name="([^"]+)" data-created="(true|false)"',
            wizard.post("/console/wizard/channel/", body).content.decode(),
        )
    )
    assert set(first.values()) == {"true"} and len(first) == 5
    second = dict(
        re.findall(
            r'data-name="([^"]+)" data-created="(true|false)"',
            wizard.post("/console/wizard/channel/", body).content.decode(),
        )
    )
    assert set(second.values()) == {"false"} and second.keys() == first.keys()
    definition = demo_org.sandbox.call(
        lambda: demo_org.sandbox.world.orgs.get(DEMO_ORG_ID).records.first(
            "ConversationChannelDefinition", DeveloperName="Acme_Channel"
        )
    )
    assert definition["CustomPlatformEvent"] == "Acme_Event__e"
    assert definition["CustomEventPayloadField"] == "Acme_Event__e.Payload__c"
    tenant.salesforce.refresh_from_db()
    assert (tenant.salesforce.authorization_context, tenant.salesforce.platform_event) == (
        "Acme_Channel",
        "Acme_Event__e",
    )


def test_legacy_chat_snippets_are_read_and_confirmed(demo_org, live, client):
    tenant = make_clean_tenant(demo_org.sandbox)
    wizard = Wizard(client, canvas_sign_in(client, demo_org.sim))
    assert wizard.post("/console/wizard/salesforce/", {"action": "generate"}).status_code == 302
    upload_certificate(demo_org.sim, tenant)
    assert (
        wizard.post(
            "/console/wizard/salesforce/", salesforce_form(demo_org.base_url, desk="livechat")
        ).status_code
        == 302
    )
    ids = demo_org.sandbox.call(lambda: {
        "deployment": demo_org.sandbox.world.orgs.get(DEMO_ORG_ID).records.first("LiveChatDeployment")["Id"],
        "button": demo_org.sandbox.world.orgs.get(DEMO_ORG_ID).records.first("LiveChatButton")["Id"],
    })  # fmt: skip
    endpoint = f"{demo_org.base_url}/sim/livechat/chat"
    deployment_code = (
        "<script type='text/javascript' src='https://c.la1-c2-ia4.salesforceliveagent.com/content/g/js/62.0/deployment.js'></script>\n"
        "<script type='text/javascript'>\n"
        f"liveagent.init('{endpoint}', '{ids['deployment'][:15]}', '{DEMO_ORG_ID[:15]}');\n</script>"
    )
    button_code = (
        f'<a id="liveagent_button_online_{ids["button"][:15]}" href="javascript://Chat" style="display: none;" '
        f"onclick=\"liveagent.startChat('{ids['button'][:15]}')\"><!-- Online Chat Content --></a>"
    )
    garbage = wizard.post(
        "/console/wizard/channel/", {"action": "read", "deployment_code": "hello", "button_code": button_code}
    )
    assert garbage.status_code == 400 and "This is not the Deployment Code" in garbage.content.decode()
    read = wizard.post(
        "/console/wizard/channel/",
        {"action": "read", "deployment_code": deployment_code, "button_code": button_code},
    )
    text = read.content.decode()
    assert read.status_code == 200 and "Is this right?" in text
    assert f"{endpoint}/rest/" in text and ids["deployment"] in text and ids["button"] in text
    tenant.salesforce.refresh_from_db()
    assert tenant.salesforce.chat_button_id == ""  # nothing saved before the admin confirms
    confirmed = wizard.post(
        "/console/wizard/channel/",
        {"action": "confirm", "deployment_code": deployment_code, "button_code": button_code},
    )
    assert confirmed.status_code == 200 and "Saved. Checked: button" in confirmed.content.decode()
    tenant.salesforce.refresh_from_db()
    assert tenant.salesforce.chat_api_endpoint == f"{endpoint}/rest/"
    assert (tenant.salesforce.chat_deployment_id, tenant.salesforce.chat_button_id) == (
        ids["deployment"],
        ids["button"],
    )


def test_a_second_tenants_wizard_never_shows_the_first_tenants_data(demo_org, live, client):
    sim, base = demo_org.sim, demo_org.base_url
    acme = make_clean_tenant(demo_org.sandbox)
    acme_wizard = Wizard(client, canvas_sign_in(client, sim))
    setup_salesforce(acme_wizard, acme, sim, base)
    acme_wizard.post("/console/wizard/channel/", {"action": "setup", "authorization_context": "Switchboard_Messaging",
                                                  "platform_event": "Switchboard_Interaction__e"})  # fmt: skip
    saved = acme_wizard.post("/console/wizard/channel/", {"action": "save", "channel": WHATSAPP_CHANNEL,
                                                          "scrt_url": f"{base}/sim/scrt", "welcome_text": "Acme says hi"})  # fmt: skip
    assert saved.status_code == 302
    acme_wizard.get("/console/wizard/routing/")  # caches Acme's queues
    assert (
        acme_wizard.post(
            "/console/wizard/provider/", provider_form(base, name="Acme secret account")
        ).status_code
        == 200
    )
    acme_wizard.post(
        "/console/wizard/senders/", {"action": "save", "use-0": "on", "channel-0": WHATSAPP_CHANNEL}
    )
    acme_sender = Sender.objects.get(tenant=acme)
    message = Message.objects.create(
        tenant=acme, conversation=acme_sender.conversations.create(tenant=acme, customer=CUSTOMER),
        direction="out", sequence=1, kind="text", text="x", content={"system": "wizard-test"}, provider="infobip",
        expires_at="2099-01-01T00:00:00Z",
    )  # fmt: skip

    globex = make_clean_tenant(demo_org.sandbox, org_id=SECOND_ORG_ID, name="Globex", secret=SECOND_SECRET,
                               admin="admin@globex.demo", site_username="gil")  # fmt: skip
    other = Client()
    globex_wizard = Wizard(other, canvas_sign_in(other, sim, SECOND_ORG_ID, "admin@globex.demo"))
    pages = (
        "".join(
            globex_wizard.get(f"/console/wizard/{slug}/").content.decode()
            for slug in ("salesforce", "channel", "provider", "senders", "routing", "summary")
        )
        + globex_wizard.get("/console/wizard/").content.decode()
    )
    for acme_value in ("Acme secret account", "Acme says hi", WHATSAPP_CHANNEL, "+447860099299", DEMO_CONSUMER_KEY,
                       DEMO_INTEGRATION_USER, "Support", acme.org_id):  # fmt: skip
        assert acme_value not in pages, acme_value
    assert "Globex" in pages
    assert globex_wizard.get(f"/console/wizard/test-message/{message.pk}/").status_code == 404
    assert (
        globex_wizard.get("/console/wizard/certificate/").status_code == 404
    )  # Acme's certificate is not Globex's
    # Globex connected to its own org sees its own queues, never Acme's cached list.
    globex_wizard.post("/console/wizard/salesforce/", {"action": "generate"})
    upload_certificate(sim, globex, consumer_key="3MVG9globexConsumerKey", secret=SECOND_SECRET,
                       integration="integration@globex.demo")  # fmt: skip
    assert globex_wizard.post("/console/wizard/salesforce/", salesforce_form(
        base, consumer_key="3MVG9globexConsumerKey", integration_username="integration@globex.demo")).status_code == 302  # fmt: skip
    assert globex.salesforce.tenant_id != acme.pk
    health = globex_wizard.get("/console/wizard/health/").content.decode()
    assert "Acme" not in health
