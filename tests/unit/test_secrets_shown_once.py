"""Secrets made in the admin (webhook credentials, API keys) are shown in the response that makes them and
never travel in a cookie: Django's messages cookie is only signed (base64), not encrypted, and the session
is stored where an operator reads it."""

from __future__ import annotations

import pytest
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest
from django.urls import reverse

from tenants.models import ApiKey, Partner, ProviderAccount, User
from tests.factories import make_account, make_tenant, make_tenant_admin

pytestmark = pytest.mark.django_db


def cookie_texts(client, response) -> list[str]:
    """Every cookie as sent, and decoded: the messages cookie's messages and the session's data."""
    texts = []
    for jar in (client.cookies, response.cookies):
        for name, morsel in jar.items():
            texts.append(morsel.value)
            if name == "messages":
                decoded = CookieStorage(HttpRequest())._decode(morsel.value) or []
                texts.extend(str(message) for message in decoded)
            if name == "sessionid":
                texts.append(repr(SessionStore(session_key=morsel.value).load()))
    return texts


def assert_shown_once(client, response, secret: str) -> None:
    assert response.status_code == 200, response.status_code
    body = response.content.decode()
    assert secret and secret in body, "the secret is in the response that makes it"
    assert "no-store" in response["Cache-Control"]
    for text in cookie_texts(client, response):
        assert secret not in text, "a secret in a cookie"
    following = client.get(response.context["next_url"], follow=True)  # "I have copied it – continue"
    assert following.status_code == 200
    assert secret not in following.content.decode()
    for text in cookie_texts(client, following):
        assert secret not in text


def account_form(tenant, **changes) -> dict:
    form = {
        "tenant": tenant.pk,
        "provider": "infobip",
        "name": "New",
        "base_url": "https://x1.api.infobip.com",
        "api_key": "new-key",
        "active": "on",
        "webhook_auth": "hmac",
    }
    return {**form, **changes}


@pytest.mark.parametrize("auth", ["hmac", "basic", "header"])
def test_a_new_accounts_webhook_secret_is_in_the_response_not_a_cookie(client, auth):
    acme = make_tenant("Acme")
    client.force_login(make_tenant_admin(acme, "ada"))
    response = client.post(
        reverse("admin:tenants_provideraccount_add"), account_form(acme, webhook_auth=auth, _continue="1")
    )
    account = ProviderAccount.objects.get(name="New")
    assert account.webhook_path in response.content.decode()
    if auth == "basic":
        assert account.webhook_username in response.content.decode()
    assert_shown_once(client, response, str(account.webhook_secret))


def test_a_changed_webhook_auth_shows_the_new_secret_once(client):
    acme = make_tenant("Acme")
    account = make_account(acme)
    client.force_login(make_tenant_admin(acme, "ada"))
    response = client.post(
        reverse("admin:tenants_provideraccount_change", args=[account.pk]),
        account_form(acme, name=account.name, base_url=account.base_url, api_key="", webhook_auth="header"),
    )
    account.refresh_from_db()
    assert_shown_once(client, response, str(account.webhook_secret))


def test_the_rotate_action_shows_every_new_secret_once(client):
    acme = make_tenant("Acme")
    first, second = make_account(acme, name="One"), make_account(acme, name="Two")
    client.force_login(make_tenant_admin(acme, "ada"))
    response = client.post(
        reverse("admin:tenants_provideraccount_changelist"),
        {"action": "rotate_webhook_credentials", "_selected_action": [first.pk, second.pk]},
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert str(first.webhook_secret) in response.content.decode()
    assert_shown_once(client, response, str(second.webhook_secret))


def test_a_new_api_key_is_in_the_response_not_a_cookie(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "correct-horse-battery"))
    partner = Partner.objects.create(name="Alpha", slug="alpha")
    response = client.post(reverse("admin:tenants_apikey_add"), {"name": "ci", "partner": partner.pk})
    body = response.content.decode()
    plaintext = body.split('<code class="secret-value">', 1)[1].split("<", 1)[0]
    assert ApiKey.authenticate(plaintext) is not None  # the real key, shown once
    assert_shown_once(client, response, plaintext)
