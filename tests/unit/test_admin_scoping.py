"""Two tenants whose admins cannot see or change each other's rows; secrets never rendered back."""

import pytest
from django.urls import reverse

from tenants.models import ProviderAccount, Sender
from tests.factories import ORG_B, make_account, make_sender, make_tenant, make_tenant_admin

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenants():
    acme, globex = make_tenant("Acme"), make_tenant("Globex", ORG_B)
    acme_account, globex_account = (
        make_account(acme, api_key="acme-api-key"),
        make_account(globex, api_key="globex-api-key"),
    )
    return {
        "acme": acme,
        "globex": globex,
        "acme_account": acme_account,
        "globex_account": globex_account,
        "acme_sender": make_sender(acme_account, "+447860099299"),
        "globex_sender": make_sender(globex_account, "+385919998888"),
        "acme_admin": make_tenant_admin(acme, "ada"),
    }


def test_tenant_admin_lists_only_their_rows(client, two_tenants):
    client.force_login(two_tenants["acme_admin"])
    for url in (
        "tenants_provideraccount_changelist",
        "tenants_sender_changelist",
        "tenants_tenant_changelist",
    ):
        body = client.get(reverse(f"admin:{url}")).content.decode()
        assert "Acme" in body or "+447860099299" in body
        assert "Globex" not in body and "+385919998888" not in body


@pytest.mark.parametrize("obj", ["globex_account", "globex_sender", "globex"])
def test_tenant_admin_cannot_open_another_tenants_row(client, two_tenants, obj):
    client.force_login(two_tenants["acme_admin"])
    target = two_tenants[obj]
    url = reverse(f"admin:tenants_{target._meta.model_name}_change", args=[target.pk])
    response = client.get(url, follow=True)
    assert "Globex" not in response.content.decode()
    assert response.redirect_chain or response.status_code in (302, 403, 404)


def test_tenant_admin_cannot_move_a_sender_into_another_tenant(client, two_tenants):
    client.force_login(two_tenants["acme_admin"])
    sender = two_tenants["acme_sender"]
    response = client.post(
        reverse("admin:tenants_sender_change", args=[sender.pk]),
        {
            "tenant": two_tenants["globex"].pk,
            "account": two_tenants["globex_account"].pk,
            "channel": "whatsapp",
            "address": "+447860099299",
            "enabled": "on",
        },
    )
    assert response.status_code == 200  # the form is shown again with errors
    assert "Select a valid choice" in response.content.decode()
    sender.refresh_from_db()
    assert sender.tenant == two_tenants["acme"] and sender.account == two_tenants["acme_account"]


def test_secrets_are_never_rendered_back(client, two_tenants):
    client.force_login(two_tenants["acme_admin"])
    account = two_tenants["acme_account"]
    body = client.get(reverse("admin:tenants_provideraccount_change", args=[account.pk])).content.decode()
    assert "acme-api-key" not in body
    assert account.webhook_secret not in body
    assert "Set – leave empty to keep it." in body


def test_saving_with_an_empty_secret_keeps_the_old_one(client, two_tenants):
    client.force_login(two_tenants["acme_admin"])
    account = two_tenants["acme_account"]
    response = client.post(
        reverse("admin:tenants_provideraccount_change", args=[account.pk]),
        {
            "tenant": account.tenant_id,
            "provider": "infobip",
            "name": "Renamed",
            "base_url": account.base_url,
            "api_key": "",
            "active": "on",
            "webhook_auth": account.webhook_auth,
        },
    )
    assert response.status_code == 302
    account = ProviderAccount.objects.get(pk=account.pk)
    assert account.name == "Renamed" and account.api_key == "acme-api-key"


def test_new_account_shows_webhook_credentials_once(client, two_tenants):
    client.force_login(two_tenants["acme_admin"])
    response = client.post(
        reverse("admin:tenants_provideraccount_add"),
        {
            "tenant": two_tenants["acme"].pk,
            "provider": "infobip",
            "name": "New",
            "base_url": "https://x1.api.infobip.com",
            "api_key": "new-key",
            "active": "on",
            "webhook_auth": "hmac",
        },
        follow=True,
    )
    account = ProviderAccount.objects.get(name="New")
    body = response.content.decode()
    assert account.webhook_secret in body and account.webhook_path in body
    again = client.get(reverse("admin:tenants_provideraccount_change", args=[account.pk])).content.decode()
    assert account.webhook_secret not in again


def test_bad_number_in_admin_gets_a_field_error_and_writes_nothing(client, two_tenants):
    client.force_login(two_tenants["acme_admin"])
    before = Sender.objects.count()
    response = client.post(
        reverse("admin:tenants_sender_add"),
        {
            "tenant": two_tenants["acme"].pk,
            "account": two_tenants["acme_account"].pk,
            "channel": "whatsapp",
            "address": "12",
        },
    )
    assert response.status_code == 200
    assert (
        "not a valid sender number" in response.content.decode()
        or "not an international" in response.content.decode()
    )
    assert Sender.objects.count() == before


def test_superuser_sees_both_tenants(admin_client, two_tenants):
    body = admin_client.get(reverse("admin:tenants_sender_changelist")).content.decode()
    assert "+447860099299" in body and "+385919998888" in body


@pytest.mark.parametrize("model", ["relay_livechatsession", "relay_enhancedchatsession"])
def test_chat_sessions_are_read_only_even_for_a_superuser(admin_client, model):
    changelist = admin_client.get(reverse(f"admin:{model}_changelist"))
    assert changelist.status_code == 200
    assert reverse(f"admin:{model}_add") not in changelist.content.decode()
    assert "delete_selected" not in changelist.content.decode()
    assert admin_client.get(reverse(f"admin:{model}_add")).status_code == 403
