"""A tenant admin sets the Cases desk's settings in the admin, in a real browser: a status-text map that is not
a JSON object of texts is refused on its field and nothing is saved; a right one is saved."""

import pytest
from playwright.sync_api import expect

from tenants.models import SalesforceConnection
from tests.factories import make_tenant, make_tenant_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_tenant_admin_sets_the_cases_settings(live_server, browser):
    acme = make_tenant("Acme")
    connection = SalesforceConnection.objects.create(
        tenant=acme, instance_url="https://acme.my.salesforce.com", desk="cases"
    )
    make_tenant_admin(acme, "ada", password="correct-horse-battery")

    page = browser.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/tenants/salesforceconnection/{connection.pk}/change/")
    page.get_by_text("Cases (docs/cases.md)").click()  # a collapsed fieldset
    page.fill("#id_case_status_texts", '{"Working": 3}')
    page.fill("#id_case_reopen_hours", "24")
    page.click("input[name=_save]")
    expect(page.locator(".field-case_status_texts .errorlist")).to_contain_text("must be a text")
    assert SalesforceConnection.objects.get(pk=connection.pk).case_reopen_hours == 0

    page.fill("#id_case_status_texts", '{"Working": "An agent is on it."}')
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("changed successfully")
    saved = SalesforceConnection.objects.get(pk=connection.pk)
    assert (saved.case_status_texts, saved.case_reopen_hours) == ({"Working": "An agent is on it."}, 24)
    page.close()
