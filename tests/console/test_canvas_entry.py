"""Canvas sign-in: signed requests from the sandbox's launcher, framing rules, CSRF, the web path."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time

import pytest
from django.test import Client

from portal.console.session import ConsoleSession
from portal.demo import DEMO_CANVAS_SECRET, DEMO_ORG_ID

from .conftest import ADMIN_USERNAME, AGENT_USERNAME, canvas_sign_in, launch, make_clean_tenant

pytestmark = pytest.mark.django_db


def sign(envelope: dict, secret: str) -> str:
    encoded = base64.b64encode(json.dumps(envelope).encode()).decode()
    signature = base64.b64encode(
        hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest()
    ).decode()
    return f"{signature}.{encoded}"


def frame_ancestors(response) -> str:
    match = re.search(r"frame-ancestors ([^;]+)", response.get("Content-Security-Policy", ""))
    return match.group(1) if match else ""


def test_a_genuine_signed_request_opens_the_wizard_framed_only_by_the_org(demo_org, client):
    tenant = make_clean_tenant(demo_org.sandbox)
    token = canvas_sign_in(client, demo_org.sim)
    session = ConsoleSession.from_token(token)
    assert session.tenant_id == tenant.pk and session.is_admin and session.via == "canvas"
    assert session.user_name == "Avery Admin"

    response = client.get("/console/wizard/", {"st": token})
    assert response.status_code == 200
    assert "Switchboard setup" in response.content.decode()
    # My Domain is not saved yet: the org's instance URL from the verified request may frame the page.
    sources = frame_ancestors(response).split()
    assert sources == ["'self'", demo_org.base_url]
    assert "X-Frame-Options" not in response


def test_frame_ancestors_follow_the_saved_my_domain(demo_org, client):
    tenant = make_clean_tenant(demo_org.sandbox)
    tenant.salesforce.instance_url = "https://acme.my.salesforce.com"
    tenant.salesforce.save()
    token = canvas_sign_in(client, demo_org.sim)
    sources = frame_ancestors(client.get("/console/wizard/", {"st": token})).split()
    assert "https://acme.my.salesforce.com" in sources
    assert "https://acme.lightning.force.com" in sources
    assert "*" not in sources


def test_a_tampered_signed_request_gets_the_clear_error_page(demo_org, client):
    make_clean_tenant(demo_org.sandbox)
    launched = launch(
        demo_org.sim, DEMO_ORG_ID, ADMIN_USERNAME, "http://testserver/console/canvas/wizard/", tampered="1"
    )
    response = client.post("/console/canvas/wizard/", {"signed_request": launched["signed_request"]})
    assert response.status_code == 403
    text = response.content.decode()
    assert "Switchboard cannot open this page" in text
    assert "The signature does not match" in text
    assert "st=" not in response.get("Location", "")


def test_an_expired_signed_request_is_refused(demo_org, client):
    make_clean_tenant(demo_org.sandbox)
    envelope = launch(demo_org.sim, DEMO_ORG_ID, ADMIN_USERNAME, "http://testserver/console/canvas/")[
        "envelope"
    ]
    envelope["issuedAt"] = int(time.time()) - 3600
    response = client.post("/console/canvas/", {"signed_request": sign(envelope, DEMO_CANVAS_SECRET)})
    assert response.status_code == 403
    assert "has expired" in response.content.decode()


@pytest.mark.parametrize(
    "signed_request, status, words",
    [
        ("", 400, "could not be read"),
        ("not-a-signed-request", 400, "could not be read"),
        ("abc.!!!notbase64", 400, "could not be read"),
    ],
)
def test_unreadable_requests_get_the_error_page(client, signed_request, status, words):
    response = client.post("/console/canvas/", {"signed_request": signed_request})
    assert response.status_code == status
    assert words in response.content.decode()


def test_an_org_that_is_not_a_tenant_is_refused(demo_org, client):
    launched = launch(demo_org.sim, DEMO_ORG_ID, ADMIN_USERNAME, "http://testserver/console/canvas/")
    response = client.post("/console/canvas/", {"signed_request": launched["signed_request"]})
    assert response.status_code == 403
    assert "is not connected to Switchboard" in response.content.decode()


def test_a_user_who_is_not_a_tenant_admin_cannot_open_the_wizard(demo_org, client):
    make_clean_tenant(demo_org.sandbox)
    token = canvas_sign_in(client, demo_org.sim, user=AGENT_USERNAME)
    response = client.get("/console/wizard/", {"st": token})
    assert response.status_code == 403
    text = response.content.decode()
    assert "Only an administrator of this org" in text
    assert ConsoleSession.from_token(token).user_id in text  # what the superuser needs to grant access


def test_a_forged_token_is_refused(demo_org, client):
    make_clean_tenant(demo_org.sandbox)
    token = canvas_sign_in(client, demo_org.sim)
    response = client.get("/console/wizard/", {"st": token[:-3] + "xyz"})
    assert response.status_code == 403
    assert "session has expired or is missing" in response.content.decode()


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
    accepted = browser.post("/console/wizard/salesforce/", {**form, "st": token})
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
    token = re.search(r'name="st" value="([^"]+)"|st=([^"&]+)', response.content.decode())
    assert token, "the page hands the signed token to its links and forms"
