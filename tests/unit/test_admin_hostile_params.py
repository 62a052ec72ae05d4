"""The admin's lists answer a NUL in a filter or search parameter as an invalid lookup (Django's "?e=1"
redirect), never a 500. On PostgreSQL such a value fails the query (text cannot hold NUL): CI runs these tests
there. The lists are read from the admin site, so a new tenant-scoped admin is covered too."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.views.main import ERROR_FLAG
from django.urls import reverse

from tenants.admin_scoping import TenantScopedAdmin
from tests.factories import make_account, make_sender, make_tenant, make_tenant_admin

pytestmark = pytest.mark.django_db

NUL = "a\x00"


def scoped_lists():
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, TenantScopedAdmin):
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            names = [name for name in model_admin.list_filter if isinstance(name, str)]
            yield url, names


SCOPED_LISTS = sorted(scoped_lists())


def test_the_scoped_lists_are_found():
    assert len(SCOPED_LISTS) >= 10
    assert any(url == "/admin/relay/message/" and "status" in names for url, names in SCOPED_LISTS)


@pytest.fixture
def admin_client(client):
    tenant = make_tenant()
    make_sender(make_account(tenant), "+447860011111")
    client.force_login(make_tenant_admin(tenant, "acme-admin"))
    return client


@pytest.mark.parametrize(("url", "names"), SCOPED_LISTS, ids=[url for url, _ in SCOPED_LISTS])
def test_a_nul_in_a_filter_or_search_is_an_invalid_lookup(admin_client, url, names):
    for params in [{"q": NUL}, {"o": NUL}, {NUL: "1"}, *({f"{name}__exact": NUL} for name in names)]:
        response = admin_client.get(url, params)
        assert response.status_code == 302, (params, response.status_code)
        assert response["Location"] == f"{url}?{ERROR_FLAG}=1", params


def test_the_list_still_filters(admin_client):
    response = admin_client.get("/admin/relay/message/", {"status__exact": "pending"})
    assert response.status_code == 200
