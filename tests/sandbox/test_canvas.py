"""Canvas launcher: signed requests as Salesforce makes them, the echo app, and the page in Chromium."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from sandbox.salesforce import canvas

from . import core_support
from .core_support import (
    AGENT,
    CONSUMER_SECRET,
    V,
    auth,
)

core_org = core_support.core_org  # fixture


def launch_json(sim, **params):
    response = sim.get("/__sim/canvas/launch", params={"format": "json", **params})
    assert response.status_code == 200, response.text
    return response.json()


def seed_session(sandbox, org_id) -> str:
    def seed():
        org = sandbox.world.orgs.get(org_id)
        channel = org.records.first("MessagingChannel")
        user = org.records.insert(
            "MessagingEndUser", {"Name": "+447700900123", "MessagingChannelId": channel["Id"]}
        )
        return org.records.insert(
            "MessagingSession",
            {"Name": "MS-0000001", "MessagingChannelId": channel["Id"], "MessagingEndUserId": user["Id"],
             "Status": "Active"},
        )["Id"]  # fmt: skip

    return sandbox.call(seed)


def test_signed_request_matches_the_sdk_algorithm(sandbox, sim, core_org):
    session_id = seed_session(sandbox, core_org)
    launched = launch_json(
        sim, org=core_org, user=AGENT, url="https://portal.example.com/canvas/#x", record=session_id
    )
    assert launched["action"] == "https://portal.example.com/canvas/"  # the fragment is stripped
    signature, encoded = launched["signed_request"].split(".", 1)
    # SignedRequest.java: HMAC-SHA256 over the base64 envelope text, keyed with the consumer secret.
    expected = hmac.new(CONSUMER_SECRET.encode(), encoded.encode(), hashlib.sha256).digest()
    assert base64.b64decode(signature) == expected
    envelope = json.loads(base64.b64decode(encoded))
    assert envelope == launched["envelope"]
    assert envelope["algorithm"] == "HMACSHA256"
    # issuedAt is "for internal use only": real orgs send opaque negative 32-bit numbers, not a time.
    assert isinstance(envelope["issuedAt"], int) and -(2**31) <= envelope["issuedAt"] < 0
    # The guide's example order: context, client, algorithm, userId, issuedAt.
    assert list(envelope) == ["context", "client", "algorithm", "userId", "issuedAt"]
    context = envelope["context"]
    assert context["organization"]["organizationId"] == core_org and len(core_org) == 18
    assert context["user"]["userName"] == AGENT and context["user"]["fullName"] == "Ada Lovelace"
    assert envelope["userId"] == context["user"]["userId"]
    assert context["environment"]["displayLocation"] == "Aura"
    assert context["environment"]["parameters"] == {}  # the record is in environment.record, not here
    assert context["environment"]["record"]["Id"] == session_id
    assert context["environment"]["record"]["attributes"]["type"] == "MessagingSession"
    assert context["application"]["authType"] == "SIGNED_REQUEST"
    assert envelope["client"]["instanceUrl"] == f"{sandbox.base_url}/sim/core"
    # The oauthToken is a real sandbox token for that user.
    token = envelope["client"]["oauthToken"]
    me = sim.get(f"{V}/query", params={"q": "SELECT Username FROM User WHERE Id = '" + envelope["userId"] + "'"},
                 headers=auth(token))  # fmt: skip
    assert me.status_code == 200 and me.json()["records"][0]["Username"] == AGENT


def test_verify_accepts_the_genuine_and_refuses_the_tampered(sim, core_org):
    genuine = launch_json(sim, org=core_org, user=AGENT)["signed_request"]
    assert canvas.verify(genuine, CONSUMER_SECRET)["context"]["user"]["userName"] == AGENT
    tampered = launch_json(sim, org=core_org, user=AGENT, tampered="1")["signed_request"]
    with pytest.raises(canvas.CanvasError, match="tampered"):
        canvas.verify(tampered, CONSUMER_SECRET)
    with pytest.raises(canvas.CanvasError):
        canvas.verify("no-dot-here", CONSUMER_SECRET)


@pytest.mark.parametrize(("option", "expected"), [("null", None), ("-1555461611", -1555461611)])
def test_issued_at_can_be_null_or_given(sim, core_org, option, expected):
    envelope = launch_json(sim, org=core_org, user=AGENT, issued_at=option)["envelope"]
    assert envelope["issuedAt"] == expected


def test_issued_at_can_be_absent(sim, core_org):
    assert "issuedAt" not in launch_json(sim, org=core_org, user=AGENT, issued_at="absent")["envelope"]


def test_parameters_and_location_pass_through(sim, core_org):
    envelope = launch_json(
        sim, org=core_org, user=AGENT, location="ServiceDesk", params='{"panel":"templates"}'
    )["envelope"]
    assert envelope["context"]["environment"]["displayLocation"] == "ServiceDesk"
    assert envelope["context"]["environment"]["parameters"] == {"panel": "templates"}


def test_echo_verifies_with_the_consumer_secret(sim, core_org):
    genuine = launch_json(sim, org=core_org, user=AGENT)["signed_request"]
    ok = sim.post(
        "/__sim/canvas/echo", data={"signed_request": genuine}, headers={"accept": "application/json"}
    )
    assert ok.status_code == 200
    assert ok.json()["verified"] is True and ok.json()["token_valid"] is True
    tampered = launch_json(sim, org=core_org, user=AGENT, tampered="1")["signed_request"]
    bad = sim.post(
        "/__sim/canvas/echo", data={"signed_request": tampered}, headers={"accept": "application/json"}
    )
    assert bad.status_code == 403
    assert bad.json()["verified"] is False and "tampered" in bad.json()["error"]
    garbage = sim.post(
        "/__sim/canvas/echo", data={"signed_request": "x"}, headers={"accept": "application/json"}
    )
    assert garbage.status_code == 403


@pytest.mark.parametrize(
    ("params", "status"),
    [({"org": "00D000000000000"}, 404), ({"user": "nobody@acme.test"}, 400), ({"record": "0Mw000000000000"}, 400),
     ({"params": "[1]"}, 400)],
)  # fmt: skip
def test_launch_errors(sim, core_org, params, status):
    response = sim.get(
        "/__sim/canvas/launch", params={"org": core_org, "user": AGENT, "format": "json", **params}
    )
    assert response.status_code == status
    assert "error" in response.json()


def test_launch_returns_an_auto_submitting_form(sim, core_org):
    response = sim.get(
        "/__sim/canvas/launch", params={"tenant": core_org, "user": AGENT, "url": "https://x.test/c"}
    )
    assert response.status_code == 200
    assert 'action="https://x.test/c"' in response.text and 'name="signed_request"' in response.text
    assert ".submit()" in response.text


@pytest.mark.browser
def test_launcher_page_posts_a_verified_signed_request(sandbox, sim, core_org, page):
    session_id = seed_session(sandbox, core_org)
    page.goto(f"{sandbox.base_url}/__sim/canvas?org={core_org}")
    page.select_option("#user-select", AGENT)
    page.fill("#target-url", f"{sandbox.base_url}/__sim/canvas/echo")
    page.fill("#record-id", session_id)
    page.select_option("#location-select", "ServiceDesk")
    page.click("#launch-button")
    frame = page.frame_locator("#canvas-frame")
    verification = frame.locator("#verification")
    verification.wait_for()
    assert verification.get_attribute("data-verified") == "true"
    assert frame.locator("#org-id").inner_text() == core_org
    assert frame.locator("#user-name").inner_text() == AGENT
    assert frame.locator("#record-id").inner_text() == session_id
    assert frame.locator("#display-location").inner_text() == "ServiceDesk"
    assert frame.locator("#token-valid").inner_text() == "valid"

    page.click("label[for=tampered]")  # SLDS draws the checkbox; the label takes the click
    assert page.is_checked("#tampered")
    page.click("#launch-button")
    frame.locator("#verification[data-verified='false']").wait_for()
    assert "tampered" in frame.locator("#verification").inner_text()


@pytest.mark.browser
def test_launcher_switches_org_and_lists_its_users(sandbox, sim, core_org, page):
    from .core_support import OTHER_ORG_ID, create_org

    other = create_org(sim, OTHER_ORG_ID)
    page.goto(f"{sandbox.base_url}/__sim/canvas?org={core_org}")
    page.select_option("#org-select", other)
    page.wait_for_url(f"**/__sim/canvas?org={other}")
    assert page.locator("input[name=org]").get_attribute("value") == other
    assert AGENT in page.locator("#user-select").inner_text()
