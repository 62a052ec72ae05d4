"""A superuser reads the Pub/Sub listener's status of each tenant in the admin, in a real browser: a token
the listener cannot replace, and events Salesforce had purged before the listener read them. Listener
cursors are the listener's own bookkeeping: a tenant admin does not see them in the admin (the wizard's
health check, "Event subscription", tells them the same trouble)."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from relay.models import ListenerCursor
from tenants.models import User
from tests.factories import ORG_B, make_tenant, make_tenant_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOPIC = "/event/Switchboard_Interaction__e"


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_be_visible()


def test_a_superuser_sees_the_listener_status_and_a_gap_a_tenant_admin_does_not(live_server, browser):
    acme = make_tenant("Acme")
    ListenerCursor.objects.create(
        tenant=acme,
        topic=TOPIC,
        replay_id=bytes.fromhex("00000000000000ff"),
        subscribed_at=timezone.now(),
        last_error="Pub/Sub UNAUTHENTICATED: ...; no new access token could be minted: user hasn't approved",
        gap="Agent messages published between 2026-01-01 10:00 UTC and 2026-01-04 12:00 UTC may be lost",
        gap_at=timezone.now(),
    )
    globex = make_tenant("Globex", ORG_B)
    ListenerCursor.objects.create(tenant=globex, topic=TOPIC, last_error="Globex's own trouble")
    make_tenant_admin(acme, "ada", password="correct-horse-battery")
    User.objects.create_superuser("root", password="correct-horse-battery")

    tenant_admin = browser.new_page()
    sign_in(tenant_admin, live_server, "ada")
    expect(tenant_admin.locator("#content-main")).not_to_contain_text("Listener cursors")
    assert tenant_admin.goto(f"{live_server.url}/admin/relay/listenercursor/").status == 403
    tenant_admin.close()

    page = browser.new_page()
    sign_in(page, live_server, "root")
    page.goto(f"{live_server.url}/admin/relay/listenercursor/")
    results = page.locator("#result_list")
    expect(results).to_contain_text("no new access token could be minted")
    expect(results).to_contain_text("may be lost")
    expect(results).to_contain_text("Globex's own trouble")  # a superuser sees every tenant's

    page.locator("#result_list a", has_text="Acme").first.click()
    expect(page.locator("body")).to_contain_text("00000000000000ff")
    expect(page.locator(".field-gap")).to_contain_text("2026-01-01 10:00 UTC")
    expect(page.locator(".field-last_error")).to_contain_text("user hasn't approved")
    expect(page.locator(".field-subscribed_at")).to_be_visible()
    expect(page.locator("input[name=_save], .deletelink")).to_have_count(0)  # read-only: Close only
    page.close()
