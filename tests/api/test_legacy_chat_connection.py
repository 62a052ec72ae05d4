"""The Salesforce connection resource and Legacy Chat: the three settings or the two pasted snippets, their
form validated with field-level errors that change nothing, and the live ``check`` action (202 and
/api/v1/checks/<id>/) that says whether the button is online or names the wrong value; tenant and partner
boundaries."""

from __future__ import annotations

import pytest

from portal.demo import DEMO_ORG_ID
from tenants.models import ApiKey, Partner, SalesforceConnection
from tests.relay.livechat_snippets import setup_snippets

from .conftest import api
from .test_configuration import finished_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(wired, sim, sandbox):
    """The demo tenant on the Legacy Chat desk, and the sandbox org's real chat ids."""
    tenant, key = wired
    state = sim.get(f"/__sim/livechat/orgs/{DEMO_ORG_ID}").json()
    ids = {
        "endpoint": f"{sandbox.base_url}/sim/livechat/chat",
        "deployment": state["deployments"][0]["id"],
        "button": next(b["id"] for b in state["buttons"] if b["developerName"] == "Support_Chat"),
    }
    return tenant, api(key), ids


def url(connection_id: int, action: str = "") -> str:
    return f"/api/v1/salesforce-connections/{connection_id}/" + (f"{action}/" if action else "")


def saved_chat(tenant) -> tuple[str, str, str, str]:
    c = SalesforceConnection.objects.get(tenant=tenant)
    return c.desk, c.chat_api_endpoint, c.chat_deployment_id, c.chat_button_id


def test_the_three_settings_are_saved_normalized(chat):
    tenant, client, ids = chat
    response = client.patch(
        url(tenant.salesforce.pk),
        {
            "desk": "livechat",
            "chat_api_endpoint": ids["endpoint"],
            "chat_deployment_id": ids["deployment"][:15],
            "chat_button_id": ids["button"][:15],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["chat_api_endpoint"] == f"{ids['endpoint']}/rest/"
    assert (body["chat_deployment_id"], body["chat_button_id"]) == (ids["deployment"], ids["button"])
    assert saved_chat(tenant) == ("livechat", f"{ids['endpoint']}/rest/", ids["deployment"], ids["button"])


def test_the_pasted_snippets_are_read_into_the_settings(chat):
    tenant, client, ids = chat
    deployment_code, button_code = setup_snippets(
        ids["endpoint"], ids["deployment"][:15], DEMO_ORG_ID[:15], ids["button"][:15]
    )
    response = client.patch(
        url(tenant.salesforce.pk),
        {"desk": "livechat", "deployment_code": deployment_code, "button_code": button_code},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert "deployment_code" not in response.json() and "button_code" not in response.json()
    assert saved_chat(tenant) == ("livechat", f"{ids['endpoint']}/rest/", ids["deployment"], ids["button"])


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"chat_deployment_id": "573000000000001"}, "chat_deployment_id", "id starts with 572"),
        ({"chat_deployment_id": "5720000000"}, "chat_deployment_id", "15 or 18 characters"),
        ({"chat_button_id": "572000000000001"}, "chat_button_id", "id starts with 573"),
        ({"chat_button_id": "573-00000000001"}, "chat_button_id", "only letters and digits"),
        ({"chat_api_endpoint": "ftp://chat.example.com/chat"}, "chat_api_endpoint", ""),
        ({"chat_api_endpoint": "https://10.0.0.1/chat"}, "chat_api_endpoint", ""),
        ({"deployment_code": "hello", "button_code": "liveagent.startChat('573000000000001')"},
         "deployment_code", "not the Deployment Code"),
        ({"deployment_code": "x"}, "button_code", "together"),
        ({"button_code": "x"}, "deployment_code", "together"),
        ({"deployment_code": "OTHER_ORG", "button_code": "BUTTON"}, "deployment_code", "but the tenant is the org"),
        ({"deployment_code": "RIGHT", "button_code": "BUTTON", "chat_button_id": "573000000000001"},
         "chat_button_id", "not both"),
    ],
)  # fmt: skip
def test_a_malformed_value_is_refused_by_field_and_nothing_changes(chat, body, field, words):
    tenant, client, ids = chat
    before = saved_chat(tenant)
    right, button = setup_snippets(ids["endpoint"], ids["deployment"], DEMO_ORG_ID, ids["button"])
    other_org, _ = setup_snippets(ids["endpoint"], ids["deployment"], "00D8d000000ZZZZ", ids["button"])
    swap = {"RIGHT": right, "BUTTON": button, "OTHER_ORG": other_org}
    body = {name: swap.get(value, value) for name, value in body.items()}
    response = client.patch(url(tenant.salesforce.pk), {"desk": "livechat", **body}, format="json")
    assert response.status_code == 400, response.content
    fields = response.json()["error"]["fields"]
    assert list(fields) == [field] and words in " ".join(fields[field]), fields
    assert saved_chat(tenant) == before


@pytest.mark.parametrize("online", [True, False])
def test_the_check_says_whether_the_button_is_online(chat, sim, online):
    tenant, client, ids = chat
    SalesforceConnection.objects.filter(tenant=tenant).update(
        desk="livechat",
        chat_api_endpoint=f"{ids['endpoint']}/rest/",
        chat_deployment_id=ids["deployment"],
        chat_button_id=ids["button"],
    )
    if not online:
        sim.post(f"/__sim/livechat/orgs/{DEMO_ORG_ID}/agents/ada@acme.demo/presence", json={"online": False})
    check = finished_check(client, client.post(url(tenant.salesforce.pk, "check")))
    assert check["ok"] is True and check["kind"] == "livechat-config" and check["tenant"] == tenant.pk
    assert f"Checked: button {'online' if online else 'offline'}" in check["message"]


@pytest.mark.parametrize(
    "change, code, words",
    [
        ({"chat_button_id": "5738d000000ZZZZAAA"}, "wrong_button_id", "has no chat button 5738d000000ZZZZAAA"),
        ({"chat_api_endpoint": "/sim/core/chat/rest/"}, "wrong_chat_api_endpoint", "does not answer as a Chat API"),
        ({"chat_button_id": ""}, "incomplete", "button_id"),
        ({"desk": "messaging"}, "desk", "Legacy Chat desk"),
    ],
)  # fmt: skip
def test_the_check_names_the_wrong_value(chat, sandbox, change, code, words):
    tenant, client, ids = chat
    values = {
        "desk": "livechat",
        "chat_api_endpoint": f"{ids['endpoint']}/rest/",
        "chat_deployment_id": ids["deployment"],
        "chat_button_id": ids["button"],
    }
    values.update(change)
    if values["chat_api_endpoint"].startswith("/"):
        values["chat_api_endpoint"] = sandbox.base_url + values["chat_api_endpoint"]
    SalesforceConnection.objects.filter(tenant=tenant).update(**values)
    check = finished_check(client, client.post(url(tenant.salesforce.pk, "check")))
    assert check["ok"] is False and check["code"] == code
    assert words in check["message"]


def test_the_check_stays_inside_the_partner_and_the_tenant(world):
    """Another partner's key and another tenant's key of the same partner find no such connection (404) and
    start no check; the check's own resource is found only with a key of its tenant."""
    connection = world.a1.connection
    SalesforceConnection.objects.filter(pk=connection.pk).update(desk="livechat")
    assert api(world.key_b).post(url(connection.pk, "check")).status_code == 404
    assert api(world.a2.key).post(url(connection.pk, "check")).status_code == 404
    assert (
        api(world.key_b).patch(url(connection.pk), {"chat_button_id": "573000000000001"}).status_code == 404
    )
    response = api(world.a1.key).post(url(connection.pk, "check"))
    assert response.status_code == 202, response.content
    check_url = response.json()["url"]
    assert api(world.a1.key).get(check_url).status_code == 200
    assert api(world.key_a).get(check_url).status_code == 200  # the tenant's partner
    assert api(world.key_b).get(check_url).status_code == 404
    assert api(world.a2.key).get(check_url).status_code == 404
    _, outsider = ApiKey.issue(name="outsider", partner=Partner.objects.create(name="Out", slug="out"))
    assert api(outsider).post(url(connection.pk, "check")).status_code == 404
