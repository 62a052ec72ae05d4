"""A Salesforce connection's URLs name Salesforce (or a host the operator lists): the JWT assertion and the
access token go nowhere else, whoever edits the connection (a tenant admin, a partner, the wizard)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tenants.validators import validate_salesforce_url

SALESFORCE = [
    "https://login.salesforce.com",
    "https://test.salesforce.com",
    "https://acme.my.salesforce.com",
    "https://acme--uat.sandbox.my.salesforce.com",
    "https://acme.my.salesforce-scrt.com",
    "https://d.la1-c2-ia4.salesforceliveagent.com/chat/rest/",
    "https://acme.lightning.force.com",
]
FOREIGN = [
    "https://attacker.example.com",
    "https://salesforce.com.attacker.example",
    "https://my-salesforce.com",
    "https://acme.my.salesforce.com.evil.net",
    "https://evilsalesforce.com",
]


@pytest.mark.parametrize("url", SALESFORCE)
def test_salesforce_domains_are_accepted(url, settings):
    settings.EGRESS_ALLOWED_HOSTS = []
    try:
        validate_salesforce_url(url)
    except ValidationError as exc:  # not resolvable offline is fine; only the domain rule is under test
        assert exc.code != "not_salesforce", exc


@pytest.mark.parametrize("url", FOREIGN)
def test_other_hosts_are_refused_with_the_reason(url, settings):
    settings.EGRESS_ALLOWED_HOSTS = []
    with pytest.raises(ValidationError) as raised:
        validate_salesforce_url(url)
    assert raised.value.code in ("not_salesforce", "url_not_public")


def test_a_host_the_operator_lists_is_accepted(settings):
    settings.EGRESS_ALLOWED_HOSTS = ["127.0.0.1"]
    validate_salesforce_url("http://127.0.0.1:8100/sim/core")


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["login_url", "instance_url", "scrt_url", "chat_api_endpoint"])
def test_every_salesforce_url_of_the_connection_is_checked(field, settings):
    from tenants.models import SalesforceConnection
    from tests.factories import make_tenant

    settings.EGRESS_ALLOWED_HOSTS = []
    connection = SalesforceConnection(tenant=make_tenant(), instance_url="https://acme.my.salesforce.com")
    setattr(connection, field, "https://collector.example.com")
    with pytest.raises(ValidationError) as raised:
        connection.full_clean()
    assert field in raised.value.message_dict
