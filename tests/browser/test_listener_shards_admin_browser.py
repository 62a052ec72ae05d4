"""A superuser sees, in a real browser, which relay_listen processes run and which tenants each holds (the leases
of relay/salesforce/shards.py): a live process, one whose heartbeat stopped, and a lease nobody holds. A tenant
admin does not see these pages (every tenant's bookkeeping)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from relay.salesforce.shard_models import ListenerLease, ListenerProcess
from tenants.models import User
from tests.browser.test_listener_admin_browser import sign_in
from tests.factories import ORG_B, make_tenant, make_tenant_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_superuser_sees_who_holds_which_tenant(live_server, browser):
    now = timezone.now()
    acme, globex = make_tenant("Acme"), make_tenant("Globex", ORG_B)
    initech = make_tenant("Initech", "00D8d000000InTc")
    ListenerProcess.objects.create(
        holder="web-1:4242:aa11", host="web-1", pid=4242, started_at=now, heartbeat_at=now,
        expires_at=now + timedelta(minutes=10), tenants=2,
    )  # fmt: skip
    ListenerProcess.objects.create(
        holder="web-2:77:bb22", host="web-2", pid=77, started_at=now, heartbeat_at=now - timedelta(minutes=1),
        expires_at=now - timedelta(seconds=50), tenants=0,
    )  # fmt: skip
    ListenerLease.objects.create(
        tenant=acme, holder="web-1:4242:aa11", since=now, expires_at=now + timedelta(minutes=10)
    )
    ListenerLease.objects.create(
        tenant=globex, holder="web-1:4242:aa11", since=now, expires_at=now + timedelta(minutes=10)
    )
    ListenerLease.objects.create(
        tenant=initech, holder="web-2:77:bb22", since=now, expires_at=now - timedelta(seconds=50)
    )
    make_tenant_admin(acme, "ada", password="correct-horse-battery")
    User.objects.create_superuser("root", password="correct-horse-battery")

    tenant_admin = browser.new_page()
    sign_in(tenant_admin, live_server, "ada")
    expect(tenant_admin.locator("#content-main")).not_to_contain_text("Listener processes")
    assert tenant_admin.goto(f"{live_server.url}/admin/relay/listenerprocess/").status == 403
    assert tenant_admin.goto(f"{live_server.url}/admin/relay/listenerlease/").status == 403
    tenant_admin.close()

    page = browser.new_page()
    sign_in(page, live_server, "root")
    page.locator("#content-main a", has_text="Listener processs").or_(
        page.locator("#content-main a", has_text="Listener processes")
    ).first.click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    live = rows.filter(has_text="web-1:4242:aa11")
    expect(live).to_contain_text("live")
    expect(rows.filter(has_text="web-2:77:bb22")).to_contain_text("no heartbeat")

    live.locator("a", has_text="2 tenants").click()  # → the leases that process holds
    leases = page.locator("#result_list tbody tr")
    expect(leases).to_have_count(2)
    expect(page.locator("#result_list")).to_contain_text("Acme")
    expect(page.locator("#result_list")).to_contain_text("Globex")
    expect(page.locator("#result_list")).not_to_contain_text("Initech")

    page.goto(f"{live_server.url}/admin/relay/listenerlease/?held=no")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("Initech")
    expect(page.locator("#result_list")).to_contain_text("nobody (the next live listener takes it)")
    page.locator("#result_list a", has_text="Initech").click()
    expect(page.locator(".field-holder_shown")).to_contain_text("nobody")
    expect(page.locator("input[name=_save], .deletelink")).to_have_count(0)  # read-only
    page.close()
