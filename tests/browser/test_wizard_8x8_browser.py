"""Step 3 of the wizard with an 8x8 account, clicked through in headless Chromium inside the Canvas frame:
the region fills the base URL, the sub-account and account id are asked for, a wrong key is refused with
8x8's words, HMAC is refused (8x8 signs nothing), and the saved account shows the webhook URL and the
Authorization value to give 8x8; step 4 then takes the channels by id."""

from __future__ import annotations

import base64

import pytest
from playwright.sync_api import expect

from tenants.models import ProviderAccount, Sender
from tests.browser.test_wizard_browser import live, open_in_launcher  # noqa: F401 - fixture
from tests.console import conftest as console_support
from tests.console.conftest import make_clean_tenant
from tests.relay.eightbyeight_support import ACCOUNT_ID, KEY, SUB, VIBER, WA, simulator_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
demo_org = console_support.demo_org  # fixture


def test_step_3_with_an_8x8_account(demo_org, live, page, settings):  # noqa: F811
    sim, base = demo_org.sim, demo_org.base_url
    simulator_account(sim)
    tenant = make_clean_tenant(demo_org.sandbox)
    frame = open_in_launcher(page, base, f"{live.url}/console/canvas/wizard/")
    frame.locator(".sb-step[data-step=provider] a").click()
    expect(frame.locator("#step-title")).to_have_text("3. Provider account")

    frame.locator("#id_provider").select_option(label="8x8")
    frame.locator("#id_name").fill("Acme 8x8")
    frame.locator("#id_api_key").fill(KEY)
    frame.locator("#save-provider").click()
    # Neither a base URL nor a region, no sub-account, no account id, HMAC: each field says what is wrong.
    expect(frame.locator("#id_base_url-error")).to_contain_text("Choose the region.")
    expect(frame.locator("#id_subaccount_id-error")).to_contain_text("Enter the sub-account id.")
    expect(frame.locator("#id_provider_account_id-error")).to_contain_text("Enter the account id.")
    expect(frame.locator("#id_webhook_auth-error")).to_contain_text("HTTP Basic credentials")
    assert not ProviderAccount.objects.exists()

    frame.locator("#id_base_url").fill(f"{base}/sim/8x8")
    frame.locator("#id_api_key").fill("not-the-key")
    frame.locator("#id_subaccount_id").fill(SUB)
    frame.locator("#id_provider_account_id").fill(ACCOUNT_ID)
    frame.locator("#id_webhook_auth").select_option(value="basic")
    frame.locator("#save-provider").click()
    expect(frame.locator("#id_api_key-error")).to_contain_text("8x8 refused the credentials")
    assert not ProviderAccount.objects.exists()

    frame.locator("#id_api_key").fill(KEY)
    frame.locator("#save-provider").click()
    expect(frame.locator("#webhook-authorization")).to_be_visible()
    account = ProviderAccount.objects.get(tenant=tenant)
    assert (account.provider, account.subaccount_id, account.provider_account_id) == ("8x8", SUB, ACCOUNT_ID)
    value = frame.locator("#webhook-authorization").input_value()
    secret = frame.locator("#webhook-secret").input_value()
    assert value == "Basic " + base64.b64encode(f"{account.webhook_username}:{secret}".encode()).decode()
    assert frame.locator("#webhook-url").input_value() == f"{live.url}{account.webhook_path}"

    # 4. 8x8 lists no channels: the admin adds each by its channel id.
    frame.locator("#continue-senders").click()
    for channel, channel_id in (("whatsapp", WA), ("viber", VIBER)):
        frame.locator("#id_extra_channel").select_option(value=channel)
        frame.locator("#id_extra_address").fill(channel_id.upper())
        if frame.locator("#id_extra_feeds").count():
            frame.locator("#id_extra_feeds").select_option(index=1)
        frame.locator("#save-senders").click()
        expect(frame.locator("#step-title")).not_to_have_text("4. Senders", timeout=10000)
        if channel == "whatsapp":
            frame.locator(".sb-step[data-step=senders] a").click()
    assert set(Sender.objects.filter(account=account).values_list("channel", "address")) >= {
        ("whatsapp", WA),
        ("viber", VIBER),
    }
