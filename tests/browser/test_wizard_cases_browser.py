"""The wizard's Cases step in headless Chromium, framed by the sandbox's Canvas launcher: a JSON setting that is
not a map is refused on its field; the integration user's access and the Case change events are checked live,
and while Case is not selected for Change Data Capture nothing is saved and the page says what to select;
once it is, the settings are saved with the closing text and the wizard goes on."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_ORG_ID
from tenants.certificates import generate_key_pair
from tenants.models import SalesforceConnection, Tenant
from tests.browser.test_wizard_browser import live, open_in_launcher  # noqa: F401 - fixture
from tests.console import conftest as console_support
from tests.console.conftest import (
    DEMO_CONSUMER_KEY,
    DEMO_INTEGRATION_USER,
    make_clean_tenant,
    upload_certificate,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
demo_org = console_support.demo_org  # fixture


def test_the_cases_step_checks_access_live_and_saves_the_settings(demo_org, live, page):  # noqa: F811
    sim, base = demo_org.sim, demo_org.base_url
    tenant = make_clean_tenant(demo_org.sandbox)
    private_key, certificate = generate_key_pair("Switchboard Cases test")
    SalesforceConnection.objects.filter(tenant=tenant).update(  # step 1 done: the connection signs in
        desk=SalesforceConnection.Desk.CASES,
        login_url=f"{base}/sim/core",
        instance_url=f"{base}/sim/core",
        consumer_key=DEMO_CONSUMER_KEY,
        integration_username=DEMO_INTEGRATION_USER,
        certificate=certificate,
    )
    connection = SalesforceConnection.objects.get(tenant=tenant)
    connection.private_key = private_key
    connection.save(update_fields=["private_key"])
    upload_certificate(sim, tenant)

    frame = open_in_launcher(page, base, f"{live.url}/console/canvas/wizard/")
    frame.locator("[data-step=channel] a").first.click()
    expect(frame.locator("#cases-form")).to_be_visible()
    frame.locator("#id_case_transcript").select_option("comment")
    frame.locator("#id_case_reopen_hours").fill("48")
    frame.locator("#id_origin_whatsapp").fill("WhatsApp")
    frame.locator("#id_case_status_texts").fill('["not", "a map"]')
    frame.locator("#confirm-cases").click()
    expect(frame.locator("#id_case_status_texts-error")).to_contain_text("JSON object")

    # Case not selected for Change Data Capture yet: checked live, named, nothing saved.
    frame.locator("#id_case_status_texts").fill('{"Working": "An agent is on it."}')
    frame.locator("#confirm-cases").click()
    expect(frame.locator("#cases-form")).to_contain_text("Change Data Capture")
    assert SalesforceConnection.objects.get(tenant=tenant).case_reopen_hours == 0

    assert (
        sim.post(f"/__sim/orgs/{DEMO_ORG_ID}/settings", json={"change_data_capture": ["Case"]}).status_code
        == 200
    )
    frame.locator("#id_closing_text").fill("Your case is closed. Thanks!")
    frame.locator("#confirm-cases").click()
    expect(frame.locator("#cases-result")).to_contain_text("Saved. Checked")
    frame.locator("#continue-provider").click()
    expect(frame.locator("#step-title")).to_contain_text("Provider")
    connection = SalesforceConnection.objects.get(tenant=tenant)
    assert (connection.case_transcript, connection.case_reopen_hours) == ("comment", 48)
    assert connection.case_origins == {"whatsapp": "WhatsApp"}
    assert connection.case_status_texts == {"Working": "An agent is on it."}
    assert Tenant.objects.get(pk=tenant.pk).closing_text == "Your case is closed. Thanks!"
