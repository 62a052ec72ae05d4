"""The wizard's Legacy Chat step checks the snippets live before saving them (a live check, run eagerly here):
a wrong id is named on the snippet that holds it and nothing is saved; right ones are saved and the answer says
whether the button is online."""

from __future__ import annotations

import re

import pytest

from portal import livechecks
from portal.celery import app as celery_app
from portal.demo import DEMO_ORG_ID
from tenants.models import SalesforceConnection
from tests.relay.livechat_snippets import setup_snippets

from .conftest import canvas_sign_in, make_clean_tenant
from .test_wizard import Wizard, live  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)

WRONG = {
    "button": lambda ids: "573000000000999",
    "endpoint": lambda ids: ids["endpoint"].replace("/sim/livechat/", "/sim/nothing/"),
}


@pytest.fixture
def chat(demo_org, live, client):  # noqa: F811 - the fixture
    tenant = make_clean_tenant(demo_org.sandbox)
    SalesforceConnection.objects.filter(tenant=tenant).update(desk=SalesforceConnection.Desk.LIVECHAT)
    state = demo_org.sim.get(f"/__sim/livechat/orgs/{DEMO_ORG_ID}").json()
    ids = {
        "endpoint": f"{demo_org.base_url}/sim/livechat/chat",
        "deployment": state["deployments"][0]["id"],
        "button": next(b["id"] for b in state["buttons"] if b["developerName"] == "Support_Chat"),
    }
    wizard = Wizard(client, canvas_sign_in(client, demo_org.sim))
    return tenant, wizard, ids


def confirm(wizard, endpoint, deployment, button, **texts):
    deployment_code, button_code = setup_snippets(endpoint, deployment[:15], DEMO_ORG_ID[:15], button[:15])
    return wizard.post(
        "/console/wizard/channel/",
        {"action": "confirm", "deployment_code": deployment_code, "button_code": button_code, **texts},
    )


@pytest.mark.parametrize(
    "wrong, snippet, words",
    [
        ("button", "button_code", "The org has no chat button 573000000000999"),
        ("endpoint", "deployment_code", "does not answer as a Chat API endpoint"),
    ],
)
def test_a_wrong_value_is_named_on_its_snippet_and_nothing_is_saved(chat, wrong, snippet, words):
    tenant, wizard, ids = chat
    bad = {**ids, wrong: WRONG[wrong](ids)}
    response = confirm(wizard, bad["endpoint"], bad["deployment"], bad["button"], welcome_text="Hello there")
    text = response.content.decode()
    assert response.status_code == 400
    error = re.search(rf'id="id_{snippet}-error" role="alert">([^<]*)<', text)
    assert error is not None and words in error.group(1)
    assert "Saved." not in text
    tenant.refresh_from_db()
    connection = SalesforceConnection.objects.get(tenant=tenant)
    saved = (connection.chat_api_endpoint, connection.chat_deployment_id, connection.chat_button_id)
    assert saved == ("", "", "")
    assert tenant.welcome_text != "Hello there"


@pytest.mark.parametrize("online", [True, False])
def test_right_snippets_are_saved_and_the_button_state_shown(chat, demo_org, online):
    tenant, wizard, ids = chat
    if not online:
        demo_org.sim.post(
            f"/__sim/livechat/orgs/{DEMO_ORG_ID}/agents/ada@acme.demo/presence", json={"online": False}
        )
    response = confirm(wizard, ids["endpoint"], ids["deployment"], ids["button"], welcome_text="Hello there")
    text = response.content.decode()
    assert response.status_code == 200
    assert f"Saved. Checked: button {'online' if online else 'offline'}" in text
    assert 'id="continue-provider"' in text
    connection = SalesforceConnection.objects.get(tenant=tenant)
    assert (connection.chat_api_endpoint, connection.chat_deployment_id, connection.chat_button_id) == (
        f"{ids['endpoint']}/rest/",
        ids["deployment"],
        ids["button"],
    )
    tenant.refresh_from_db()
    assert tenant.welcome_text == "Hello there"


@pytest.fixture
def queued_only(monkeypatch):
    """As in production: the check is queued (after commit) and the page polls it; the test then does what a
    worker does. The broker is kept out of it: a worker process of the e2e tests may share the broker and
    would otherwise run the check before the test looks at the waiting page."""
    queued: list[tuple] = []
    monkeypatch.setattr(livechecks.run_check, "delay", lambda *args, **kwargs: queued.append((args, kwargs)))
    celery_app.conf.task_always_eager = False
    yield queued
    celery_app.conf.task_always_eager = True


@pytest.mark.parametrize(
    "button, shown, saved",
    [
        (None, "Saved. Checked: button online", True),
        ("573000000000999", "Not saved: The org has no chat button 573000000000999", False),
    ],
)
def test_queued_the_page_polls_the_check_and_shows_its_answer(chat, queued_only, button, shown, saved):
    tenant, wizard, ids = chat
    response = confirm(wizard, ids["endpoint"], ids["deployment"], button or ids["button"])
    text = response.content.decode()
    assert response.status_code == 200 and 'data-check-kind="livechat-config"' in text
    assert SalesforceConnection.objects.get(tenant=tenant).chat_button_id == ""  # nothing saved yet
    check_id = re.search(r'id="check-([0-9a-f-]{36})"', text).group(1)
    # The page reloaded while the check waits still shows it polling.
    assert f'id="check-{check_id}"' in wizard.get("/console/wizard/channel/").content.decode()
    assert [args[0] for args, _ in queued_only] == [check_id]  # queued once, after commit
    livechecks.run_check.apply(args=[check_id])  # what a worker does with the queued task
    polled = wizard.get(f"/console/wizard/checks/{check_id}/").content.decode()
    assert shown in polled
    assert ('id="continue-provider"' in polled) is saved
    connection = SalesforceConnection.objects.get(tenant=tenant)
    assert (connection.chat_button_id == ids["button"]) is saved
