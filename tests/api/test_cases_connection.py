"""The Salesforce connection resource and the Cases desk: its settings (JSON maps and the queue id checked on
their fields, nothing changed by a bad value) and the live ``check`` action, which says what the integration user
lacks (Case not selected for Change Data Capture) and passes once it has it."""

from __future__ import annotations

import pytest

from portal.demo import DEMO_ORG_ID
from tenants.models import SalesforceConnection

from .conftest import api
from .test_configuration import finished_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def cases(wired, pubsub_at_sandbox):
    tenant, key = wired
    return tenant, api(key)


@pytest.fixture
def pubsub_at_sandbox(settings, sandbox):
    settings.SALESFORCE_PUBSUB_ENDPOINT = sandbox.world.config.grpc_target
    settings.SALESFORCE_PUBSUB_TLS = False


def url(connection_id: int, action: str = "") -> str:
    return f"/api/v1/salesforce-connections/{connection_id}/" + (f"{action}/" if action else "")


def test_the_settings_are_saved_and_checked_live(cases, sim):
    tenant, client = cases
    body = {
        "desk": "cases",
        "case_transcript": "comment",
        "case_reopen_hours": 12,
        "case_origins": {"whatsapp": "WhatsApp"},
        "case_status_texts": {"Working": "On it."},
        "case_field_mapping": {"Brand__c": "{sender_name}"},
    }
    response = client.patch(url(tenant.salesforce.pk), body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["case_status_texts"] == {"Working": "On it."}

    check = finished_check(client, client.post(url(tenant.salesforce.pk, "check")))
    assert check["ok"] is False and check["code"] == "missing_access"
    assert "Change Data Capture" in check["message"]

    assert (
        sim.post(f"/__sim/orgs/{DEMO_ORG_ID}/settings", json={"change_data_capture": ["Case"]}).status_code
        == 200
    )
    check = finished_check(client, client.post(url(tenant.salesforce.pk, "check")))
    assert check["ok"] is True, check


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("case_status_texts", ["Working"]),
        ("case_status_texts", {"Working": 3}),
        ("case_origins", {"telegram": "Telegram"}),
        ("case_field_mapping", {"Subject": "mine"}),
        ("case_field_mapping", {"bad name!": "x"}),
        ("case_default_queue_id", "00580000000abcd"),
        ("case_transcript", "email"),
        ("case_reopen_hours", -1),
    ],
)
def test_a_bad_setting_is_refused_with_its_field_and_changes_nothing(cases, field, value):
    tenant, client = cases
    response = client.patch(url(tenant.salesforce.pk), {"desk": "cases", field: value}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["fields"]) == [field]
    assert SalesforceConnection.objects.get(tenant=tenant).desk == "messaging"
