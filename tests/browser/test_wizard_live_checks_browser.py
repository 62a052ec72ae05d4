"""The wizard's live checks with a real Celery worker: the page shows the check as queued, polls it, and the
result appears when the worker has asked Salesforce or the provider. The web request never does."""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from portal import livechecks
from portal.demo import DEMO_CONSUMER_KEY
from tenants.models import ProviderAccount
from tests.browser.test_wizard_browser import open_in_launcher
from tests.console import conftest as console_support
from tests.console.conftest import INFOBIP_KEY, make_clean_tenant, upload_certificate
from tests.e2e.conftest import celery_worker_process, real_worker  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
demo_org = console_support.demo_org  # fixture


@pytest.fixture
def live(settings, live_server, sandbox):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.SALESFORCE_PUBSUB_ENDPOINT = sandbox.world.config.grpc_target
    settings.SALESFORCE_PUBSUB_TLS = False
    return live_server


def ran_in_the_worker(tenant, kind: str) -> livechecks.Check:
    check = livechecks.latest(tenant, kind)
    assert check is not None and check.done, check
    assert check.ran_in and not check.ran_in.endswith(f":{os.getpid()}"), check.ran_in  # not this process
    return check


@pytest.mark.usefixtures("real_worker")
def test_the_checks_are_queued_and_their_results_appear(demo_org, live, page):
    cache.clear()
    sim, base = demo_org.sim, demo_org.base_url
    tenant = make_clean_tenant(demo_org.sandbox)
    frame = open_in_launcher(page, base, f"{live.url}/console/canvas/wizard/")
    frame.locator("#continue").click()
    frame.locator("#generate-key").click()
    expect(frame.locator("#download-certificate")).to_be_visible()
    upload_certificate(sim, tenant)

    # Step 1: "Test connection" queues the sign-in; the page shows it waiting, then Salesforce's answer.
    frame.locator("#id_consumer_key").fill("3MVG9wrongConsumerKey")
    frame.locator("#id_integration_username").fill("integration@acme.demo")
    frame.locator("#test-connection").click()
    expect(frame.locator("[data-check-kind=salesforce-login]")).to_be_visible()
    expect(frame.locator("#test-result")).to_contain_text("client identifier invalid", timeout=20_000)
    expect(frame.locator("#test-result")).to_have_attribute("data-ok", "false")
    assert ran_in_the_worker(tenant, "salesforce-login").ok is False

    # "Save and continue" with the right key: the step moves on once the worker's sign-in passed.
    frame.locator("#id_consumer_key").fill(DEMO_CONSUMER_KEY)
    frame.locator("#save-continue").click()
    expect(frame.locator("#step-title")).to_have_text("2. Channel", timeout=20_000)
    assert ran_in_the_worker(tenant, "salesforce-login").ok is True
    expect(frame.locator(".sb-step[data-step=salesforce]")).to_have_attribute("data-done", "true")

    # Step 3: the key is checked by the worker before anything is saved; then the secret shows, once.
    frame.locator(".sb-step[data-step=provider] a").click()
    expect(frame.locator("#step-title")).to_have_text("3. Provider account")
    frame.locator("#id_base_url").fill(f"{base}/sim/infobip")
    frame.locator("#id_api_key").fill("not-the-api-key")
    frame.locator("#save-provider").click()
    expect(frame.locator("[data-check-kind=provider-key]")).to_be_visible()
    expect(frame.locator("#provider-key-result")).to_contain_text("Infobip API key rejected", timeout=20_000)
    assert not ProviderAccount.objects.exists()
    frame.locator("#id_api_key").fill(INFOBIP_KEY)
    frame.locator("#save-provider").click()
    expect(frame.locator("#key-result")).to_contain_text("Infobip accepted the API key", timeout=20_000)
    assert not ProviderAccount.objects.exists()  # saved only when the admin saves the checked key
    frame.locator("#save-checked-provider").click()
    secret = frame.locator("#webhook-secret").input_value()
    account = ProviderAccount.objects.get(tenant=tenant)
    assert secret == str(account.webhook_secret) and account.api_key == INFOBIP_KEY
    assert not [c for c in page.context.cookies() if secret in c["value"]]
    expect(frame.locator("#save-checked-provider")).to_have_count(0)

    # Step 4: the provider's numbers are fetched by the worker; the page reloads itself when they are in.
    frame.locator("#continue-senders").click()
    expect(frame.locator(".sb-sender")).to_have_count(2, timeout=20_000)
    assert ran_in_the_worker(tenant, "list:senders").ok is True


@pytest.mark.usefixtures("real_worker")
def test_a_poll_that_gets_no_answer_asks_again_and_the_result_still_appears(demo_org, live, page):
    """A poll that failed (the network, a web worker restarting: a 503) used to stop the polling where it was:
    the page said "Queued" for ever though the worker had answered. It asks again, and says so meanwhile."""
    cache.clear()
    sim, base = demo_org.sim, demo_org.base_url
    tenant = make_clean_tenant(demo_org.sandbox)
    polls: list[str] = []

    def flaky(route):
        polls.append(route.request.url)
        if len(polls) == 1:
            route.abort("connectionreset")
        elif len(polls) == 2:
            route.fulfill(status=503, body="Service Unavailable", headers={"Retry-After": "1"})
        else:
            route.continue_()

    page.route("**/console/wizard/checks/**", flaky)
    frame = open_in_launcher(page, base, f"{live.url}/console/canvas/wizard/")
    frame.locator("#continue").click()
    frame.locator("#generate-key").click()
    expect(frame.locator("#download-certificate")).to_be_visible()
    upload_certificate(sim, tenant)
    frame.locator("#id_consumer_key").fill(DEMO_CONSUMER_KEY)
    frame.locator("#id_integration_username").fill("integration@acme.demo")
    frame.locator("#test-connection").click()
    expect(frame.locator("[data-check-kind=salesforce-login] .sb-poll-note")).to_contain_text("trying again")
    expect(frame.locator("#test-result")).to_contain_text("Connected.", timeout=30_000)
    assert len(polls) >= 3
    assert ran_in_the_worker(tenant, "salesforce-login").ok is True
