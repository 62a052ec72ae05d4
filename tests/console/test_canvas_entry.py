"""Canvas sign-in and the console session: signed requests shaped as Salesforce documents them (from the
sandbox's launcher), one use per signed request, a short-lived token carried in a header and refused from
another origin or for another record, framing rules, CSRF, the web path, and who counts as an admin."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time

import pytest
from django.core import signing
from django.test import Client
from django.utils.html import escape

from portal.console import canvas
from portal.console.entry import is_tenant_admin
from portal.console.session import ConsoleSession
from portal.demo import DEMO_CANVAS_SECRET, DEMO_ORG_ID
from relay.models import Conversation
from tenants.models import Membership, User
from tenants.validators import normalize_salesforce_id

from .conftest import (
    ADMIN_USERNAME,
    AGENT_USERNAME,
    canvas_open,
    canvas_sign_in,
    console_headers,
    launch,
    make_clean_tenant,
    page_token,
    sandbox_user_id,
)

pytestmark = pytest.mark.django_db

PAGE_MARKERS = {
    "wizard": "Switchboard setup",
    "templates": "Send a WhatsApp template",
    "history": "Conversation history",
}


def sign(envelope: dict, secret: str) -> str:
    encoded = base64.b64encode(json.dumps(envelope).encode()).decode()
    signature = base64.b64encode(
        hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest()
    ).decode()
    return f"{signature}.{encoded}"


def frame_ancestors(response) -> str:
    match = re.search(r"frame-ancestors ([^;]+)", response.get("Content-Security-Policy", ""))
    return match.group(1) if match else ""


def a_messaging_session(sandbox, org_id: str = DEMO_ORG_ID) -> str:
    """A MessagingSession record in the org, as the console's record page has."""

    def seed():
        org = sandbox.world.orgs.get(org_id)
        channel = org.records.first("MessagingChannel")
        end_user = org.records.insert(
            "MessagingEndUser", {"Name": "+385919998888", "MessagingChannelId": channel["Id"]}
        )
        fields = {"Name": "MS-0000042", "MessagingChannelId": channel["Id"], "Status": "Active",
                  "MessagingEndUserId": end_user["Id"]}  # fmt: skip
        return org.records.insert("MessagingSession", fields)["Id"]

    return sandbox.call(seed)


def no_token_anywhere_but_the_page(response, token: str) -> None:
    """The token is in the page (for its own htmx requests) and the renewal header; never in a URL."""
    assert not response.has_header("Location")
    text = response.content.decode()
    assert not re.search(r"[?&]st=", text)
    for url in re.findall(r'(?:href|action|hx-get|hx-post|src)="([^"]*)"', text):
        assert token not in url, url


# --- signed requests as Salesforce sends them -----------------------------------------------------------


@pytest.mark.parametrize("page", ["wizard", "templates", "history"])
def test_a_documented_signed_request_with_negative_issued_at_opens_each_page(demo_org, client, page):
    make_clean_tenant(demo_org.sandbox)
    record = a_messaging_session(demo_org.sandbox) if page != "wizard" else ""
    launched = launch(demo_org.sim, DEMO_ORG_ID, ADMIN_USERNAME, f"http://testserver/console/canvas/{page}/",
                      record=record)  # fmt: skip
    envelope = launched["envelope"]
    assert list(envelope) == ["context", "client", "algorithm", "userId", "issuedAt"]
    assert envelope["issuedAt"] < 0  # opaque, as real orgs send it: not a time
    response = client.post(f"/console/canvas/{page}/", {"signed_request": launched["signed_request"]})
    assert response.status_code == 200, response.content.decode()[:400]
    assert PAGE_MARKERS[page] in response.content.decode()
    # The page's own address, which session.js puts in the address bar (its forms post there).
    assert f'data-console-page="/console/{page}/"' in response.content.decode()
    token = page_token(response)
    session = ConsoleSession.from_token(token)
    assert session.user_id == envelope["context"]["user"]["userId"] and len(session.user_id) == 18
    assert session.record_id[:15] == record[:15]
    no_token_anywhere_but_the_page(response, token)


@pytest.mark.parametrize("issued_at", ["", "null", "absent", "-1555461611", "1400000000", "0"])
def test_issued_at_is_not_a_time_whatever_it_holds(demo_org, client, issued_at):
    make_clean_tenant(demo_org.sandbox)
    response = canvas_open(client, demo_org.sim, "wizard", issued_at=issued_at)
    assert response.status_code == 200
    assert "Switchboard setup" in response.content.decode()


def test_a_signed_request_is_accepted_once(demo_org, client):
    make_clean_tenant(demo_org.sandbox)
    launched = launch(demo_org.sim, DEMO_ORG_ID, ADMIN_USERNAME, "http://testserver/console/canvas/wizard/")
    first = client.post("/console/canvas/wizard/", {"signed_request": launched["signed_request"]})
    assert first.status_code == 200
    for target in ("/console/canvas/wizard/", "/console/canvas/history/"):  # replayed, to any page
        replayed = Client().post(target, {"signed_request": launched["signed_request"]})
        assert replayed.status_code == 403
        assert "already used" in replayed.content.decode()
        assert not replayed.has_header("X-Console-Token")
    # Salesforce signs a new request each time it opens the page: that one is welcome.
    assert canvas_open(client, demo_org.sim, "wizard").status_code == 200


def test_a_tampered_signed_request_does_not_use_up_the_genuine_one(demo_org, client):
    make_clean_tenant(demo_org.sandbox)
    launched = launch(demo_org.sim, DEMO_ORG_ID, ADMIN_USERNAME, "http://testserver/console/canvas/wizard/")
    signature, encoded = launched["signed_request"].split(".", 1)
    forged_body = base64.b64encode(
        json.dumps({**launched["envelope"], "userId": "005000000000001AAA"}).encode()
    ).decode()
    refused = client.post("/console/canvas/wizard/", {"signed_request": f"{signature}.{forged_body}"})
    assert refused.status_code == 403 and "The signature does not match" in refused.content.decode()
    assert (
        client.post("/console/canvas/wizard/", {"signed_request": launched["signed_request"]}).status_code
        == 200
    )


def test_a_tampered_signed_request_gets_the_clear_error_page(demo_org, client):
    make_clean_tenant(demo_org.sandbox)
    response = canvas_open(client, demo_org.sim, "wizard", tampered="1")
    assert response.status_code == 403
    text = response.content.decode()
    assert "Switchboard cannot open this page" in text
    assert "The signature does not match" in text
    assert not response.has_header("X-Console-Token")


@pytest.mark.parametrize(
    "algorithm, accepted", [("HMACSHA256", True), ("hmacsha256", True), (None, True), ("HMACSHA1", False),
                            ("none", False), (["HMACSHA256"], False)],
)  # fmt: skip
def test_only_hmac_sha256_is_accepted(demo_org, client, algorithm, accepted):
    make_clean_tenant(demo_org.sandbox)
    envelope = launch(demo_org.sim, DEMO_ORG_ID, ADMIN_USERNAME, "http://testserver/")["envelope"]
    envelope["algorithm"] = algorithm
    response = client.post("/console/canvas/wizard/", {"signed_request": sign(envelope, DEMO_CANVAS_SECRET)})
    assert response.status_code == (200 if accepted else 403)
    if not accepted:
        assert "Unsupported signing algorithm" in response.content.decode()


@pytest.mark.parametrize(
    "signed_request, words",
    [
        ("", "not a Canvas signed request"),
        ("not-a-signed-request", "not a Canvas signed request"),
        (".eyJhIjoxfQ", "not a Canvas signed request"),
        ("abc.!!!notbase64", "not readable JSON"),
        ("abc." + base64.b64encode(b"[1, 2]").decode(), "not an object"),
        ("abc." + base64.b64encode(b'{"context": []}').decode(), "names no organization"),
        ("abc." + base64.b64encode(b'{"context": {"organization": {"organizationId": "00Dx"}}}').decode(),
         "15 or 18 characters"),
    ],
)  # fmt: skip
def test_unreadable_requests_get_a_400_that_says_why(client, signed_request, words):
    response = client.post("/console/canvas/", {"signed_request": signed_request})
    assert response.status_code == 400
    assert words in response.content.decode()


def test_an_org_that_is_not_a_tenant_is_refused_as_a_wrong_signature_is(demo_org, client):
    """Told apart, the two would tell anyone with an org id whether that org uses Switchboard."""
    response = canvas_open(client, demo_org.sim, "wizard")
    assert response.status_code == 403
    assert escape(canvas.NOT_VERIFIED) in response.content.decode()
    assert "is not connected to Switchboard" in canvas.NOT_VERIFIED  # an admin setting up still reads why


# --- the page session -----------------------------------------------------------------------------------


def test_the_token_travels_in_a_header_never_in_the_url(demo_org, client):
    tenant = make_clean_tenant(demo_org.sandbox)
    token = canvas_sign_in(client, demo_org.sim)
    session = ConsoleSession.from_token(token)
    assert session.tenant_id == tenant.pk and session.is_admin and session.via == "canvas"
    assert session.user_name == "Avery Admin"

    response = client.get("/console/wizard/", headers=console_headers(token))
    assert response.status_code == 200 and "Switchboard setup" in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    no_token_anywhere_but_the_page(response, token)
    in_the_url = Client().get("/console/wizard/", {"st": token})
    assert in_the_url.status_code == 403  # a token in a query string is ignored
    assert "session has expired or is missing" in in_the_url.content.decode()


def test_every_answer_renews_the_token_and_the_renewal_endpoint_does_only_that(demo_org, client):
    make_clean_tenant(demo_org.sandbox)
    token = canvas_sign_in(client, demo_org.sim)
    renewed = client.get("/console/session/renew/", headers=console_headers(token))
    assert renewed.status_code == 204
    fresh = renewed["X-Console-Token"]
    assert ConsoleSession.from_token(fresh) == ConsoleSession.from_token(token)
    assert client.post("/console/session/renew/", headers=console_headers(fresh)).status_code == 405


def test_a_token_older_than_its_lifetime_is_refused(demo_org, client, monkeypatch):
    make_clean_tenant(demo_org.sandbox)
    session = ConsoleSession.from_token(canvas_sign_in(client, demo_org.sim))
    issued = time.time() - 16 * 60  # the lifetime is 15 minutes, renewed by use
    monkeypatch.setattr(signing.time, "time", lambda: issued)
    old = session.token()
    monkeypatch.undo()
    response = client.get("/console/wizard/", headers=console_headers(old))
    assert response.status_code == 403 and "session has expired" in response.content.decode()
    forged = client.get("/console/wizard/", headers=console_headers(session.token()[:-3] + "xyz"))
    assert forged.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"},
    ],
)
def test_a_token_replayed_from_another_origin_is_refused(demo_org, client, headers):
    tenant = make_clean_tenant(demo_org.sandbox)
    token = canvas_sign_in(client, demo_org.sim)
    read = client.get("/console/wizard/", headers={"X-Console-Token": token, **headers})
    assert read.status_code == 403
    assert "came from another site" in read.content.decode()
    # A form posted from another site, with the token in its body: refused, nothing changes.
    form = {"st": token, "instance_url": "https://evil.my.salesforce.com", "environment": "production",
            "desk": "messaging", "consumer_key": "3MVGx", "integration_username": "i@evil.example",
            "action": "test"}  # fmt: skip
    posted = client.post("/console/wizard/salesforce/", form, headers=headers)
    assert posted.status_code == 403
    tenant.salesforce.refresh_from_db()
    assert tenant.salesforce.instance_url == ""


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin"},
        {"Origin": "http://testserver"},
        {"Referer": "http://testserver/console/wizard/"},
        {},  # not a browser: the token alone authenticates
    ],
)
def test_the_same_origin_is_welcome(demo_org, client, headers):
    make_clean_tenant(demo_org.sandbox)
    token = canvas_sign_in(client, demo_org.sim)
    assert client.get("/console/wizard/", headers={"X-Console-Token": token, **headers}).status_code == 200


@pytest.mark.parametrize("page", ["templates", "history"])
def test_a_token_for_one_record_is_refused_for_another(demo_org, client, page):
    make_clean_tenant(demo_org.sandbox)
    record = a_messaging_session(demo_org.sandbox)
    other = a_messaging_session(demo_org.sandbox)
    opened = canvas_open(client, demo_org.sim, page, user=AGENT_USERNAME, record=record)
    assert opened.status_code == 200
    token = page_token(opened)
    url = f"/console/{page}/"
    same = client.get(url, {"id": record[:15]}, headers=console_headers(token))
    assert same.status_code == 200
    for asked in (other, other[:15], record[:14] + "X", "not-an-id"):
        refused = client.get(url, {"id": asked}, headers=console_headers(token))
        assert refused.status_code == 404, asked
        assert "cannot be pointed at another" in refused.content.decode()


def test_history_fragments_follow_the_token_record_not_the_url(demo_org, client):
    tenant = make_clean_tenant(demo_org.sandbox)
    record = a_messaging_session(demo_org.sandbox)
    other = a_messaging_session(demo_org.sandbox)
    token = page_token(canvas_open(client, demo_org.sim, "history", user=AGENT_USERNAME, record=record))
    from tests.factories import make_account, make_sender

    sender = make_sender(make_account(tenant), "+385919990000")
    Conversation.objects.create(tenant=tenant, sender=sender, customer="+385919990001",
                                messaging_session_id=other)  # fmt: skip
    part = client.get("/console/history/part/", {"tab": "timeline"}, headers=console_headers(token))
    assert part.status_code == 200 and "+385919990001" not in part.content.decode()
    refused = client.get("/console/history/part/", {"id": other}, headers=console_headers(token))
    assert refused.status_code == 404


def test_another_tenants_session_by_id_is_404_in_both_panels(demo_org, client):
    from tests.factories import ORG_B, make_account, make_sender, make_tenant

    tenant = make_clean_tenant(demo_org.sandbox)
    globex = make_tenant("Globex", ORG_B)
    globex_session = normalize_salesforce_id("0Mw8d00000Glbx1")
    Conversation.objects.create(tenant=globex, sender=make_sender(make_account(globex), "+385919990000"),
                                customer="+385919990001", messaging_session_id=globex_session)  # fmt: skip
    opened = canvas_open(client, demo_org.sim, "history", user=AGENT_USERNAME)  # no record: a utility bar
    assert opened.status_code == 200 and "Open this panel on a Messaging Session" in opened.content.decode()
    token = page_token(opened)
    for url in ("/console/history/", "/console/templates/"):
        response = client.get(url, {"id": globex_session}, headers=console_headers(token))
        assert response.status_code == 404, url
        assert "+385919990001" not in response.content.decode()
    # The tenant's own conversation by id is shown, and the page's token is then bound to it.
    mine = normalize_salesforce_id("0Mw8d00000Acme1")
    Conversation.objects.create(tenant=tenant, sender=make_sender(make_account(tenant), "+385919990002"),
                                customer="+385919990003", messaging_session_id=mine[:15])  # fmt: skip
    shown = client.get("/console/history/", {"id": mine}, headers=console_headers(token))
    assert shown.status_code == 200 and "+385919990003" in shown.content.decode()
    assert ConsoleSession.from_token(shown["X-Console-Token"]).record_id == mine


# --- framing, admins, CSRF, the web path -----------------------------------------------------------------


def test_my_domain_not_saved_yet_the_orgs_instance_url_may_frame_the_page(demo_org, client):
    make_clean_tenant(demo_org.sandbox)
    response = canvas_open(client, demo_org.sim, "wizard")
    assert frame_ancestors(response).split() == ["'self'", demo_org.base_url]
    assert "X-Frame-Options" not in response


def test_frame_ancestors_follow_the_saved_my_domain(demo_org, client):
    tenant = make_clean_tenant(demo_org.sandbox)
    tenant.salesforce.instance_url = "https://acme.my.salesforce.com"
    tenant.salesforce.save()
    token = canvas_sign_in(client, demo_org.sim)
    sources = frame_ancestors(client.get("/console/wizard/", headers=console_headers(token))).split()
    assert "https://acme.my.salesforce.com" in sources
    assert "https://acme.lightning.force.com" in sources
    assert "*" not in sources


def test_a_user_who_is_not_a_tenant_admin_cannot_open_the_wizard(demo_org, client):
    make_clean_tenant(demo_org.sandbox)
    response = canvas_open(client, demo_org.sim, "wizard", user=AGENT_USERNAME)
    assert response.status_code == 403
    text = response.content.decode()
    assert "Only an administrator of this org" in text
    assert sandbox_user_id(demo_org.sandbox, DEMO_ORG_ID, AGENT_USERNAME) in text  # what to grant


def swapcase_one_letter(value: str) -> str:
    index = next(i for i, ch in enumerate(value[3:15], start=3) if ch.isalpha())
    return value[:index] + value[index].swapcase() + value[index + 1 :]


@pytest.mark.parametrize(
    "stored, admin",
    [
        (lambda uid: uid, True),  # the 18-character id
        (lambda uid: uid[:15], True),  # its 15-character form: normalized with the checksum
        (lambda uid: swapcase_one_letter(uid)[:15], False),  # another user: ids are case-sensitive
        (lambda uid: normalize_salesforce_id(swapcase_one_letter(uid)[:15]), False),
        (lambda uid: "", False),
    ],
)
def test_admin_status_needs_the_exact_user_id(demo_org, client, stored, admin):
    tenant = make_clean_tenant(demo_org.sandbox)
    user_id = sandbox_user_id(demo_org.sandbox, DEMO_ORG_ID, ADMIN_USERNAME)
    Membership.objects.filter(tenant=tenant).update(salesforce_user_id=stored(user_id))
    assert is_tenant_admin(tenant, user_id) is admin
    response = canvas_open(client, demo_org.sim, "wizard")
    assert response.status_code == (200 if admin else 403)


def test_a_15_character_user_id_in_the_request_is_normalized_once(demo_org, client):
    tenant = make_clean_tenant(demo_org.sandbox)
    envelope = launch(demo_org.sim, DEMO_ORG_ID, ADMIN_USERNAME, "http://testserver/")["envelope"]
    user_id = envelope["context"]["user"]["userId"]
    envelope["context"]["user"]["userId"] = user_id[:15]
    response = client.post("/console/canvas/wizard/", {"signed_request": sign(envelope, DEMO_CANVAS_SECRET)})
    assert response.status_code == 200
    assert ConsoleSession.from_token(page_token(response)).user_id == user_id
    assert is_tenant_admin(tenant, user_id[:15]) is False  # the check itself takes 18 characters only


def test_every_other_page_refuses_framing(client, live_server):
    for url in ("/admin/login/", "/healthz"):
        response = client.get(url)
        assert response["X-Frame-Options"] == "DENY", url


def test_csrf_stays_on_outside_the_signed_token(demo_org):
    tenant = make_clean_tenant(demo_org.sandbox)
    browser = Client(enforce_csrf_checks=True)
    assert browser.post("/admin/login/", {"username": "avery", "password": "x"}).status_code == 403

    # The web wizard: a signed-in tenant admin, authenticated by the session cookie.
    browser.force_login(tenant.memberships.get().user)
    page = browser.get("/console/wizard/salesforce/")
    assert page.status_code == 200
    form = {"instance_url": "https://acme.my.salesforce.com", "environment": "production",
            "desk": "messaging", "consumer_key": "3MVGx", "integration_username": "i@acme.demo",
            "action": "test"}  # fmt: skip
    refused = browser.post("/console/wizard/salesforce/", form)
    assert refused.status_code == 403  # the cookie alone is not enough to change anything
    tenant.salesforce.refresh_from_db()
    assert tenant.salesforce.instance_url == ""
    token = re.search(r'name="st" value="([^"]+)"', page.content.decode()).group(1)
    accepted = browser.post("/console/wizard/salesforce/", {**form, "st": token},
                            headers={"Origin": "http://testserver"})  # fmt: skip
    assert accepted.status_code == 200
    tenant.salesforce.refresh_from_db()
    assert tenant.salesforce.instance_url == "https://acme.my.salesforce.com"


def test_the_web_wizard_needs_a_signed_in_tenant_admin(demo_org, client):
    tenant = make_clean_tenant(demo_org.sandbox)
    assert client.get("/console/wizard/").status_code == 403
    client.force_login(tenant.memberships.get().user)
    response = client.get("/console/wizard/")
    assert response.status_code == 200
    assert "Acme" in response.content.decode()
    token = page_token(response)
    assert ConsoleSession.from_token(token).via == "web"
    no_token_anywhere_but_the_page(response, token)
    assert not User.objects.filter(username="web").exists()
