"""The org a JWT bearer login reached, read from the identity URL of Salesforce's token response ("id":
"https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P" in Salesforce's own example), must be the
tenant's; anything else in that field is not judged, never a crash."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from relay.salesforce.auth import LoginRefused, _check_org

pytestmark = pytest.mark.unit

DOCUMENTED = "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P"


def connection(org_id: str) -> SimpleNamespace:
    return SimpleNamespace(tenant=SimpleNamespace(org_id=org_id))


@pytest.mark.parametrize(
    "identity_url, org_id",
    [
        (DOCUMENTED, "00Dx0000000BV7z"),
        (DOCUMENTED, "00Dx0000000BV7zEAG"),  # the tenant's id in 18 characters
        ("https://acme.my.salesforce.com/id/00Dx0000000BV7zEAG/005x00000012Q9PAAY", "00Dx0000000BV7z"),
    ],
)
def test_the_tenants_own_org_passes(identity_url, org_id):
    _check_org(connection(org_id), identity_url)


def test_another_org_is_refused_naming_both():
    with pytest.raises(LoginRefused) as refused:
        _check_org(connection("00D5e000000OthR"), DOCUMENTED)
    assert refused.value.code == "wrong_org" and not refused.value.permanent
    assert "00Dx0000000BV7z" in refused.value.message and "00D5e000000OthR" in refused.value.message


@pytest.mark.parametrize(
    "identity_url",
    [
        None,
        "",
        42,
        ["/id/00Dx0000000BV7z/005"],
        "not a url",
        "http://169.254.169.254/id/\x00/",
        "/id/00D" + "x" * 100_000 + "/005",
        "https://login.salesforce.com/id/00dx0000000BV7z/005x00000012Q9P",
    ],
)
def test_an_identity_url_that_names_no_org_is_not_judged(identity_url):
    _check_org(connection("00D5e000000OthR"), identity_url)


def test_a_tenant_without_an_org_id_is_not_judged():
    _check_org(connection(""), DOCUMENTED)
