"""A console token is renewed by every answer, so rights it recorded when the page opened are asked again
on each request: an admin who is removed, demoted or deactivated loses them at their next click, not
whenever they stop using the page."""

from __future__ import annotations

import pytest
from django.test import Client

from portal.console.session import ConsoleSession
from tenants.models import Membership

from .conftest import canvas_sign_in, console_headers, make_clean_tenant, page_token

pytestmark = pytest.mark.django_db


def _remove(membership: Membership) -> None:
    membership.delete()


def _demote(membership: Membership) -> None:
    membership.role = Membership.Role.AGENT
    membership.save()


def _forget_salesforce_id(membership: Membership) -> None:
    membership.salesforce_user_id = ""
    membership.save()


def _deactivate(membership: Membership) -> None:
    membership.user.is_active = False
    membership.user.save()


CANVAS_REVOCATIONS = [_remove, _demote, _forget_salesforce_id]


@pytest.mark.parametrize("revoke", CANVAS_REVOCATIONS, ids=lambda f: f.__name__.strip("_"))
def test_a_canvas_admin_whose_admin_rights_end_loses_the_wizard_at_the_next_request(demo_org, client, revoke):
    tenant = make_clean_tenant(demo_org.sandbox)
    token = canvas_sign_in(client, demo_org.sim)
    assert client.get("/console/wizard/", headers=console_headers(token)).status_code == 200

    revoke(tenant.memberships.get())
    for path in ("/console/wizard/", "/console/wizard/salesforce/", "/console/wizard/health/"):
        refused = client.get(path, headers=console_headers(token))
        assert refused.status_code == 403, path
        assert "Only an administrator" in refused.content.decode()
    posted = client.post(
        "/console/wizard/salesforce/", {"action": "generate"}, headers=console_headers(token)
    )
    assert posted.status_code == 403
    tenant.salesforce.refresh_from_db()
    assert not tenant.salesforce.private_key  # nothing changed

    # The renewed token no longer says admin: keeping the page busy does not keep the rights.
    renewed = client.get("/console/session/renew/", headers=console_headers(token))
    assert renewed.status_code == 204
    assert not ConsoleSession.from_token(renewed["X-Console-Token"]).is_admin


WEB_REVOCATIONS = [_remove, _demote, _deactivate]


@pytest.mark.parametrize("revoke", WEB_REVOCATIONS, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("path", ["/console/wizard/", "/console/history/", "/console/templates/"])
def test_a_site_users_token_ends_with_their_admin_rights(demo_org, revoke, path):
    tenant = make_clean_tenant(demo_org.sandbox)
    membership = tenant.memberships.get()
    browser = Client()
    browser.force_login(membership.user)
    token = page_token(browser.get("/console/wizard/"))
    assert ConsoleSession.from_token(token).via == "web"
    assert Client().get(path, headers=console_headers(token)).status_code == 200

    revoke(membership)
    refused = Client().get(path, headers=console_headers(token))  # the token alone, as session.js sends it
    assert refused.status_code == 403
    assert "access to this org has ended" in refused.content.decode()
    assert not refused.has_header("X-Console-Token")


def test_a_token_of_a_site_user_who_is_still_admin_keeps_working(demo_org):
    tenant = make_clean_tenant(demo_org.sandbox)
    browser = Client()
    browser.force_login(tenant.memberships.get().user)
    token = page_token(browser.get("/console/wizard/"))
    answer = Client().get("/console/wizard/", headers=console_headers(token))
    assert answer.status_code == 200
    assert ConsoleSession.from_token(answer["X-Console-Token"]).is_admin
