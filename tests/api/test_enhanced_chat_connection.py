"""The Salesforce connection resource and Enhanced Chat: the deployment's API Name (form checked, nothing changed
by a bad value) and the SCRT URL, and the live ``check`` action, which asks the deployment for a guest's token and
names a wrong value by its field."""

from __future__ import annotations

import pytest

from portal.demo import DEMO_ORG_ID
from tenants.models import SalesforceConnection

from .conftest import api
from .test_configuration import finished_check

pytestmark = pytest.mark.django_db
DEPLOYMENT = "Partner_Chat"


@pytest.fixture
def enhanced(wired, sim, sandbox):
    tenant, key = wired
    response = sim.post(
        f"/__sim/enhancedchat/orgs/{DEMO_ORG_ID}/deployments",
        json={"developer_name": DEPLOYMENT, "queue": "Support"},
    )
    assert response.status_code == 201, response.text
    return tenant, api(key), f"{sandbox.base_url}/sim/scrt"


def url(connection_id: int, action: str = "") -> str:
    return f"/api/v1/salesforce-connections/{connection_id}/" + (f"{action}/" if action else "")


def test_the_settings_are_saved_and_checked_live(enhanced):
    tenant, client, scrt = enhanced
    body = {"desk": "enhanced_chat", "scrt_url": scrt, "es_developer_name": DEPLOYMENT}
    response = client.patch(url(tenant.salesforce.pk), body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["es_developer_name"] == DEPLOYMENT
    check = finished_check(client, client.post(url(tenant.salesforce.pk, "check")))
    assert check["ok"] is True and DEPLOYMENT in check["message"]


@pytest.mark.parametrize("name", ["1Chat", "Two__Underscores", "Trailing_", "has space", "x" * 81, "Ünïcode"])
def test_a_malformed_api_name_is_refused_with_its_field_and_changes_nothing(enhanced, name):
    tenant, client, scrt = enhanced
    response = client.patch(
        url(tenant.salesforce.pk), {"desk": "enhanced_chat", "es_developer_name": name}, format="json"
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["fields"]) == ["es_developer_name"]
    connection = SalesforceConnection.objects.get(tenant=tenant)
    assert (connection.desk, connection.es_developer_name) == ("messaging", "")


def test_a_deployment_the_org_does_not_have_is_named(enhanced):
    tenant, client, scrt = enhanced
    body = {"desk": "enhanced_chat", "scrt_url": scrt, "es_developer_name": "Not_There"}
    assert client.patch(url(tenant.salesforce.pk), body, format="json").status_code == 200
    check = finished_check(client, client.post(url(tenant.salesforce.pk, "check")))
    assert check["ok"] is False and check["code"] == "wrong_es_developer_name"
    assert "Not_There" in check["message"]


def test_a_scrt_url_off_salesforces_domains_is_refused(enhanced):
    tenant, client, scrt = enhanced
    body = {
        "desk": "enhanced_chat",
        "scrt_url": "https://collector.example.com",
        "es_developer_name": DEPLOYMENT,
    }
    response = client.patch(url(tenant.salesforce.pk), body, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["scrt_url"]
    assert SalesforceConnection.objects.get(tenant=tenant).es_developer_name == ""
