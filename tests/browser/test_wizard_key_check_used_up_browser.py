"""The wizard's provider step when the checked key is no longer there to save (another tab or a double click
saved it, or the check expired): "Save the account" shows why and asks for the key again, in the step's
error banner, and saves nothing."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from portal import livechecks
from tenants.models import ProviderAccount
from tests.browser.test_wizard_browser import open_in_launcher
from tests.console import conftest as console_support
from tests.console.conftest import INFOBIP_KEY, make_clean_tenant
from tests.e2e.conftest import celery_worker_process, real_worker  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
demo_org = console_support.demo_org  # fixture


@pytest.fixture
def live(settings, live_server):
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server


@pytest.mark.usefixtures("real_worker")
def test_saving_a_used_up_key_check_says_why_and_saves_nothing(demo_org, live, page):
    cache.clear()
    tenant = make_clean_tenant(demo_org.sandbox)
    frame = open_in_launcher(page, demo_org.base_url, f"{live.url}/console/canvas/wizard/")
    frame.locator(".sb-step[data-step=provider] a").click()
    expect(frame.locator("#step-title")).to_have_text("3. Provider account")
    frame.locator("#id_base_url").fill(f"{demo_org.base_url}/sim/infobip")
    frame.locator("#id_api_key").fill(INFOBIP_KEY)
    frame.locator("#save-provider").click()
    expect(frame.locator("#key-result")).to_contain_text("Infobip accepted the API key", timeout=20_000)

    check = livechecks.latest(tenant, "provider-key")
    assert check is not None and check.sealed
    livechecks.consume_secrets(check)  # what the first of two clicks, or another tab, did

    frame.locator("#save-checked-provider").click()
    expect(frame.locator("#form-error")).to_contain_text("enter the API key again")
    expect(frame.locator("#step-title")).to_have_text("3. Provider account")
    assert not ProviderAccount.objects.filter(tenant=tenant).exists()
