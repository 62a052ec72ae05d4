"""The wizard's live checks are its tenant's alone: another tenant's admin who learns a check's id (they are
random, but ids end up in pages, logs and screenshots) can neither poll it, nor see its result, nor finish
the provider step with it and so save the API key sealed in it."""

from __future__ import annotations

import uuid

import pytest

from portal import livechecks
from portal.console.wizard import checks
from tenants.models import ProviderAccount
from tests.factories import ORG_B, make_tenant, make_tenant_admin

from .conftest import canvas_sign_in, console_headers, make_clean_tenant

pytestmark = pytest.mark.django_db

SEALED_KEY = "acme-infobip-key-sealed-in-the-check"


def a_finished_check(tenant, kind: str) -> livechecks.Check:
    params = {"form": {"provider": "infobip", "name": "Acme Infobip", "base_url": "https://a1.api.infobip.com",
                       "webhook_auth": "hmac"}}  # fmt: skip
    check = livechecks.Check(
        id=str(uuid.uuid4()),
        tenant_id=tenant.pk,
        kind=kind,
        state=livechecks.DONE,
        ok=True,
        message="Infobip accepted the API key: acme-only words",
        params=params,
        sealed=livechecks._seal({"api_key": SEALED_KEY, "new": True}),
        created_at="2026-01-01T00:00:00+00:00",
        data={"checks": [{"name": "acme-only", "state": "ok", "detail": "acme-only detail"}]},
    )
    livechecks._save(check)
    return check


@pytest.fixture
def two_admins(demo_org, client):
    """Acme's check, and a console session of Globex's admin (a site user: the web wizard)."""
    acme = make_clean_tenant(demo_org.sandbox)
    canvas_sign_in(client, demo_org.sim)  # Acme's admin exists and can sign in; not used below
    globex = make_tenant("Globex", ORG_B)
    client.force_login(make_tenant_admin(globex, "gil"))
    return acme, globex, client


@pytest.mark.parametrize(
    "kind", [checks.PROVIDER_KEY, checks.HEALTH, checks.SALESFORCE_LOGIN, checks.TEST_MESSAGE]
)
def test_another_tenants_check_is_not_found_when_polled(two_admins, kind):
    acme, _globex, client = two_admins
    check = a_finished_check(acme, kind)
    for then in ("", "senders"):
        response = client.get(f"/console/wizard/checks/{check.id}/", {"then": then} if then else {})
        assert response.status_code == 404
        assert "acme-only" not in response.content.decode() and "HX-Location" not in response


def test_another_tenants_key_check_cannot_finish_the_provider_step(two_admins):
    acme, globex, client = two_admins
    check = a_finished_check(acme, checks.PROVIDER_KEY)
    response = client.post("/console/wizard/provider/", {"action": "finish", "check": check.id})
    assert response.status_code == 400
    assert "enter the API key again" in response.content.decode()
    assert not ProviderAccount.objects.filter(tenant=globex).exists()
    still = livechecks.get(acme, check.id)
    assert still is not None and livechecks.secrets_of(still)["api_key"] == SEALED_KEY  # not consumed


@pytest.mark.parametrize("check_id", ["", "not-a-uuid", "../../admin", str(uuid.uuid4()), "0" * 5000])
def test_an_unknown_or_malformed_check_id_is_a_plain_404(two_admins, check_id):
    _acme, _globex, client = two_admins
    if check_id:
        assert client.get(f"/console/wizard/checks/{check_id}/").status_code == 404
    finish = client.post("/console/wizard/provider/", {"action": "finish", "check": check_id})
    assert finish.status_code == 400


def test_the_polled_check_of_ones_own_tenant_is_shown(demo_org, client):
    acme = make_clean_tenant(demo_org.sandbox)
    token = canvas_sign_in(client, demo_org.sim)
    check = a_finished_check(acme, checks.HEALTH)
    response = client.get(f"/console/wizard/checks/{check.id}/", headers=console_headers(token))
    assert response.status_code == 200 and "acme-only" in response.content.decode()


def test_save_the_account_twice_saves_once_and_then_says_why(demo_org, client):
    """A double click on "Save the account" (or a second tab): the first saves with the sealed key and shows
    the webhook secret once; the second finds the key used up and asks for it again (a 400, not a 500)."""
    acme = make_clean_tenant(demo_org.sandbox)
    token = canvas_sign_in(client, demo_org.sim)
    check = a_finished_check(acme, checks.PROVIDER_KEY)
    first = client.post("/console/wizard/provider/", {"st": token, "action": "finish", "check": check.id})
    assert first.status_code == 200
    account = ProviderAccount.objects.get(tenant=acme)
    secret = str(account.webhook_secret)
    assert secret in first.content.decode() and str(account.api_key) == SEALED_KEY
    again = client.post("/console/wizard/provider/", {"st": token, "action": "finish", "check": check.id})
    assert again.status_code == 400
    assert "enter the API key again" in again.content.decode() and secret not in again.content.decode()
    account.refresh_from_db()
    assert str(account.webhook_secret) == secret and ProviderAccount.objects.filter(tenant=acme).count() == 1
