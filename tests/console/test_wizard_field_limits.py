"""A value longer than the column it is saved to is a form error on the page, never a database error (a 500): every
console form's text field named after a bounded column of the model it is saved to is bounded the same way."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.test import Client

import portal.console
from tenants.models import Membership, ProviderAccount, SalesforceConnection, Sender, Tenant, User

SAVED_TO = (Tenant, SalesforceConnection, ProviderAccount, Sender)


def console_forms() -> list[type[forms.BaseForm]]:
    found = []
    for module_info in pkgutil.walk_packages(portal.console.__path__, "portal.console."):
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, forms.BaseForm)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return found


def test_every_console_text_field_is_bounded_by_the_column_it_is_saved_to():
    unbounded = []
    for form in console_forms():
        for name, field in form.base_fields.items():
            if not isinstance(field, forms.CharField):
                continue
            for model in SAVED_TO:
                try:
                    column = model._meta.get_field(name)
                except FieldDoesNotExist:
                    continue
                limit = getattr(column, "max_length", None)
                if limit and (field.max_length is None or field.max_length > limit):
                    unbounded.append(
                        f"{form.__module__}.{form.__name__}.{name} (column {model.__name__}: {limit})"
                    )
    assert console_forms(), "no console form found: the test looks in the wrong place"
    assert not unbounded, unbounded


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["instance_url", "login_url"])
def test_an_over_long_salesforce_url_is_a_form_error_and_changes_nothing(field):
    tenant = Tenant.objects.create(name="Acme", slug="acme", org_id="00D8d000000AcmEAAS")
    SalesforceConnection.objects.create(tenant=tenant, instance_url="https://acme.my.salesforce.com")
    user = User.objects.create_user(username="avery", password="x-correct-horse", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.ADMIN)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    form = {
        "instance_url": "https://acme.my.salesforce.com",
        "environment": "production",
        "desk": "messaging",
        "consumer_key": "3MVG9key",
        "integration_username": "int@acme.demo",
        "login_url": "",
        field: "https://acme.my.salesforce.com/" + "a" * 250,
    }
    response = client.post("/console/wizard/salesforce/", form)
    assert response.status_code == 400
    assert "at most 200 characters" in response.content.decode()
    assert SalesforceConnection.objects.get(tenant=tenant).instance_url == "https://acme.my.salesforce.com"
