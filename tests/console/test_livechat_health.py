"""The wizard's health check of a Legacy Chat tenant names the wrong chat setting (relay/desks/livechat_check.py)."""

import pytest

from portal.console.wizard.health import ERROR, OK, _livechat
from tenants.models import SalesforceConnection
from tests.factories import make_tenant
from tests.sandbox.livechat_support import ORG_ID, REST, create_chat_org

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("wrong", "status", "words"),
    [
        (None, OK, "Chat button found (agents online)"),
        ("chat_api_endpoint", ERROR, "does not answer as a Chat API endpoint"),
        ("chat_button_id", ERROR, "has no chat button"),
    ],
)
def test_the_health_check_names_the_wrong_setting(sandbox, sim, wrong, status, words):
    ids = create_chat_org(sim)
    tenant = make_tenant("Chatty", org_id=ORG_ID)
    connection = SalesforceConnection(
        tenant=tenant,
        desk=SalesforceConnection.Desk.LIVECHAT,
        instance_url="https://chatty.my.salesforce.com",
        chat_api_endpoint=f"{sandbox.base_url}{REST}/",
        chat_deployment_id=ids["deployment"],
        chat_button_id=ids["buttons"]["Support_Chat"],
    )
    if wrong == "chat_api_endpoint":
        connection.chat_api_endpoint = f"{sandbox.base_url}/sim/core/chat/rest/"
    elif wrong == "chat_button_id":
        connection.chat_button_id = "5738d000000ZZZZ"
    check = _livechat(connection)
    assert check.state == status and words in check.detail


def test_an_org_without_legacy_chat_is_named(sandbox, sim):
    ids = create_chat_org(sim, legacy_chat_enabled=False)
    tenant = make_tenant("Chatty", org_id=ORG_ID)
    connection = SalesforceConnection(
        tenant=tenant,
        desk=SalesforceConnection.Desk.LIVECHAT,
        chat_api_endpoint=f"{sandbox.base_url}{REST}/",
        chat_deployment_id=ids["deployment"],
        chat_button_id="5738d000000AAAA",
    )
    check = _livechat(connection)
    assert check.state == ERROR and "does not serve the org" in check.detail and "2026-02-14" in check.detail
