"""A tenant admin reads the Pub/Sub listener's status of their tenant in the admin, in a real browser:
a token the listener cannot replace, and events Salesforce had purged before the listener read them."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from relay.models import ListenerCursor
from tests.factories import ORG_B, make_tenant, make_tenant_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOPIC = "/event/Switchboard_Interaction__e"


def test_tenant_admin_sees_the_listener_status_and_a_gap(live_server, page):
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

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")

    page.goto(f"{live_server.url}/admin/relay/listenercursor/")
    results = page.locator("#result_list")
    expect(results).to_contain_text("no new access token could be minted")
    expect(results).to_contain_text("may be lost")
    expect(results).not_to_contain_text("Globex's own trouble")

    page.locator("#result_list a").first.click()
    expect(page.locator("body")).to_contain_text("00000000000000ff")
    expect(page.locator(".field-gap")).to_contain_text("2026-01-01 10:00 UTC")
    expect(page.locator(".field-last_error")).to_contain_text("user hasn't approved")
    expect(page.locator(".field-subscribed_at")).to_be_visible()
