"""Snippets: what the admin pastes into Salesforce, and the Legacy Chat snippets pasted into Switchboard."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from portal.console import snippets

DEPLOYMENT_CODE = """<script type='text/javascript' src='https://c.la1-c2-ia4.salesforceliveagent.com/content/g/js/62.0/deployment.js'></script>
<script type='text/javascript'>
liveagent.init('https://d.la1-c2-ia4.salesforceliveagent.com/chat', '5728d000000TXyZ', '00D8d000000AcmE');
</script>"""
BUTTON_CODE = """<a id="liveagent_button_online_5738d000000AbCd" href="javascript://Chat" style="display: none;" onclick="liveagent.startChat('5738d000000AbCd')"><!-- Online Chat Content --></a><div id="liveagent_button_offline_5738d000000AbCd" style="display: none;"><!-- Offline Chat Content --></div><script type="text/javascript">
if (!window._laq) { window._laq = []; }
window._laq.push(function(){liveagent.showWhenOnline('5738d000000AbCd', document.getElementById('liveagent_button_online_5738d000000AbCd'));
});</script>"""  # noqa: E501 - as Salesforce Setup shows it


def test_the_legacy_chat_snippets_give_endpoint_org_deployment_and_button():
    parsed = snippets.parse_legacy_chat(DEPLOYMENT_CODE, BUTTON_CODE)
    assert parsed.chat_api_endpoint == "https://d.la1-c2-ia4.salesforceliveagent.com/chat/rest/"
    assert parsed.org_id == "00D8d000000AcmEEAS"
    assert parsed.deployment_id.startswith("5728d000000TXyZ") and len(parsed.deployment_id) == 18
    assert parsed.button_id.startswith("5738d000000AbCd") and len(parsed.button_id) == 18


def test_double_quotes_and_a_button_element_alone_are_understood():
    deployment = 'liveagent.init("https://d.la1-c1-fra.salesforceliveagent.com/chat/", "5728d000000TXyZ", "00D8d000000AcmE");'
    parsed = snippets.parse_legacy_chat(
        deployment, '<a id="liveagent_button_online_5738d000000AbCd">Chat</a>'
    )
    assert parsed.chat_api_endpoint == "https://d.la1-c1-fra.salesforceliveagent.com/chat/rest/"
    assert parsed.button_id.startswith("5738d000000AbCd")


@pytest.mark.parametrize(
    "deployment, button, field, words",
    [
        ("<script>nothing here</script>", BUTTON_CODE, "deployment_code", "not the Deployment Code"),
        (DEPLOYMENT_CODE, "<div>no button</div>", "button_code", "not the Chat Button Code"),
        (DEPLOYMENT_CODE.replace("5728d", "5738d"), BUTTON_CODE, "deployment_code", "starts with 572"),
        (
            DEPLOYMENT_CODE,
            BUTTON_CODE.replace("5738d000000AbCd", "5728d000000AbCd"),
            "button_code",
            "starts with 573",
        ),
        (DEPLOYMENT_CODE.replace("https://", "http://"), BUTTON_CODE, "deployment_code", "must use https://"),
    ],
)
def test_wrong_snippets_say_which_and_why(deployment, button, field, words):
    with pytest.raises(ValidationError) as caught:
        snippets.parse_legacy_chat(deployment, button)
    assert words in " ".join(caught.value.message_dict[field])


def test_embedding_snippets_name_the_canvas_app_and_the_page(settings):
    settings.PUBLIC_BASE_URL = "https://switchboard.example.com"
    aura = snippets.aura_component("wizard")
    assert (
        '<force:canvasApp developerName="Switchboard"' in aura
        and """parameters='{"page":"wizard"}'""" in aura
    )
    record = snippets.aura_component("templates", with_record=True)
    assert (
        "force:hasRecordId" in record
        and "v.recordId" in record
        and "{!'{&quot;page&quot;:&quot;templates&quot;,&quot;recordId&quot;:&quot;' + v.recordId + '&quot;}'}"
        in record
    )
    page = snippets.visualforce_page("wizard")
    assert "<apex:canvasApp" in page and "{page:'wizard'}" in page
    assert snippets.canvas_url() == "https://switchboard.example.com/console/canvas/"


@pytest.mark.django_db
def test_the_embed_page_shows_the_canvas_settings(client, settings):
    from tests.factories import make_tenant, make_tenant_admin

    settings.PUBLIC_BASE_URL = "https://switchboard.example.com"
    tenant = make_tenant("Acme")
    client.force_login(make_tenant_admin(tenant, "ada"))
    text = client.get("/console/wizard/embed/").content.decode()
    assert "https://switchboard.example.com/console/canvas/" in text
    assert "Signed Request (POST)" in text and "force:canvasApp" in text and "apex:canvasApp" in text
