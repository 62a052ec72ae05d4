"""URLs the server will call are refused when saved if the egress guard would refuse them, with the reason.

The admin (model validation), the setup wizard's forms and the partner API's serializers all use these
validators; tests/api/test_egress_urls.py goes through the API.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from portal.console.wizard.steps.provider import ProviderForm
from tenants.models import ProviderAccount, SalesforceConnection
from tenants.validators import (
    validate_api_origin,
    validate_browser_url,
    validate_endpoint_url,
    validate_https_url,
)
from tests.factories import make_tenant

VALIDATORS = [validate_https_url, validate_endpoint_url, validate_api_origin]


@pytest.fixture
def nothing_listed(settings):
    settings.EGRESS_ALLOWED_HOSTS = []


def message(validator, url) -> str:
    with pytest.raises(ValidationError) as caught:
        validator(url)
    return caught.value.messages[0]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        # the issue's own examples
        ("https://169.254.169.254/", "169.254.169.254 is a cloud metadata address"),
        ("https://10.0.0.5/", "10.0.0.5 is a private address"),
        ("http://127.0.0.1:6379/", "must use https://"),
        ("https://127.0.0.1:6379/", "127.0.0.1 is a loopback address"),
        # the other classes and forms
        ("https://localhost/", "localhost is this machine"),
        ("https://api.localhost/", "api.localhost is this machine"),
        ("https://[::1]/", "loopback"),
        ("https://[::ffff:169.254.169.254]/", "cloud metadata address (IPv4-mapped form of 169.254.169.254)"),
        ("https://[2002:a9fe:a9fe::]/", "6to4 form of 169.254.169.254"),
        ("https://[64:ff9b::a00:5]/", "NAT64 form of 10.0.0.5"),
        ("https://[fe80::1]/", "link-local"),
        ("https://100.64.1.1/", "carrier-grade NAT"),
        ("https://239.1.1.1/", "multicast"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://240.1.2.3/", "reserved"),
        ("https://[fd00:ec2::254]/", "cloud metadata"),
    ],
)
@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda v: v.__name__)
def test_local_private_and_metadata_urls_are_refused_with_the_reason(nothing_listed, validator, url, says):
    text = message(validator, url)
    assert says in text
    assert "EGRESS_ALLOWED_HOSTS" in text


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://admin:pw@acme.my.salesforce.com", "user name or password"),
        ("https://acme.my.salesforce.com@169.254.169.254/", "user name or password"),
        ("https://acme.my.salesforce.com/#", "#fragment"),
        ("https://acme.my.salesforce.com/x#y", "#fragment"),
        ("gopher://acme.my.salesforce.com/", "Enter a full URL"),
        ("file:///etc/passwd", "Enter a full URL"),
        ("http://acme.my.salesforce.com", "must use https://"),
    ],
)
@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda v: v.__name__)
def test_url_tricks_are_refused(validator, url, says):
    assert says in message(validator, url)


@pytest.mark.parametrize("validator", [validate_https_url, validate_api_origin], ids=lambda v: v.__name__)
def test_a_base_url_has_no_query(validator):
    assert "?query" in message(validator, "https://acme.my.salesforce.com/?a=b")


def test_an_endpoint_may_have_a_query_but_not_a_fragment():
    validate_endpoint_url("https://hooks.example.com/switchboard?tenant=7")
    assert "#fragment" in message(validate_endpoint_url, "https://hooks.example.com/x?a#")


@pytest.mark.parametrize(
    "url",
    [
        "https://abcd12.api.infobip.com/whatsapp/1",
        "https://abcd12.api.infobip.com/ccaas/",
        "https://abcd12.api.infobip.com/x#",
    ],
)
def test_the_provider_api_base_url_is_a_bare_origin(nothing_listed, url):
    text = message(validate_api_origin, url)
    assert "API base URL only" in text or "#fragment" in text
    validate_api_origin("https://abcd12.api.infobip.com")
    validate_api_origin("https://abcd12.api.infobip.com/")


def test_listed_hosts_may_use_http_local_addresses_and_a_path(settings):
    settings.EGRESS_ALLOWED_HOSTS = ["127.0.0.1:8100", "[::1]"]
    validate_api_origin("http://127.0.0.1:8100/sim/infobip")
    validate_https_url("http://[::1]:9000/sim/core")
    assert "must use https://" in message(validate_https_url, "http://127.0.0.1:8101/sim/core")  # other port
    assert "localhost is this machine" in message(validate_https_url, "https://localhost:8100/")  # other name


def test_a_browser_page_url_is_not_an_egress_destination():
    """The console's framing origins are where a browser is, not where the server calls: no egress rules."""
    validate_browser_url("https://acme.lightning.force.com/lightning/r/Case/500/view?ws=1")
    validate_browser_url("http://localhost:8100/__sim/canvas")


@pytest.mark.django_db
def test_the_admin_refuses_them_through_model_validation(nothing_listed):
    tenant = make_tenant()
    account = ProviderAccount(
        tenant=tenant, name="x", base_url="https://abcd12.api.infobip.com/x#", api_key="k", webhook_key="wk"
    )
    with pytest.raises(ValidationError) as caught:
        account.full_clean()
    assert "#fragment" in caught.value.message_dict["base_url"][0]
    connection = SalesforceConnection(
        tenant=tenant, instance_url="https://10.0.0.5", login_url="https://169.254.169.254/"
    )
    with pytest.raises(ValidationError) as caught:
        connection.full_clean()
    assert "private address" in caught.value.message_dict["instance_url"][0]
    assert "cloud metadata" in caught.value.message_dict["login_url"][0]


def test_the_wizard_provider_form_refuses_them(nothing_listed):
    form = ProviderForm(
        data={
            "provider": "infobip",
            "name": "Acme",
            "base_url": "https://[::ffff:10.0.0.5]/",
            "api_key": "k",
            "webhook_auth": "hmac",
        }
    )
    assert not form.is_valid()
    assert "private address (IPv4-mapped form of 10.0.0.5)" in form.errors["base_url"][0]
