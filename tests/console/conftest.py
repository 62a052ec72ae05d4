"""Console tests: a tenant with nothing configured but its org id and Canvas secret, the demo org and the
demo Infobip account in the sandbox, and Canvas sign-in through the sandbox's launcher."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from portal.demo import DEMO_CANVAS_SECRET, DEMO_CONSUMER_KEY, DEMO_INTEGRATION_USER, DEMO_ORG_ID
from tenants.models import Membership, SalesforceConnection, Tenant, User

ROOT = Path(__file__).resolve().parents[2]
DEMO_FIXTURE = json.loads((ROOT / "sandbox" / "fixtures" / "demo.json").read_text())
ADMIN_USERNAME = "admin@acme.demo"
AGENT_USERNAME = "ada@acme.demo"
INFOBIP_KEY = "demo-infobip-api-key"
SECOND_ORG_ID = "00D8d000000GlbX"
SECOND_SECRET = "globex-canvas-consumer-secret"


def demo_fixture(*, second_org: bool = True, bare: bool = False) -> dict:
    """The demo fixture, optionally with a second org (another tenant) and/or without any BYOC setup."""
    fixture = copy.deepcopy(DEMO_FIXTURE)
    org = fixture["orgs"][0]
    if bare:  # nothing created yet: the wizard's Tooling setup creates it all
        for key in ("platform_events", "channel_definitions", "messaging_channels"):
            org[key] = []
    if second_org:
        other = copy.deepcopy(DEMO_FIXTURE["orgs"][0])
        other.update(org_id=SECOND_ORG_ID, name="Globex Support", my_domain="globex")
        other["users"] = [
            {"username": "integration@globex.demo", "name": "Globex Integration"},
            {"username": "admin@globex.demo", "name": "Gil Admin"},
        ]
        other["connected_apps"] = [
            {
                "consumer_key": "3MVG9globexConsumerKey",
                "consumer_secret": SECOND_SECRET,
                "preauthorized": ["integration@globex.demo"],
            }
        ]
        other["queues"] = [{"name": "Globex Billing", "developer_name": "Globex_Billing"}]
        for channel in other["messaging_channels"]:
            channel["queue"] = "Globex_Billing"
            channel["channel_address_identifier"] = channel["channel_address_identifier"].replace(
                "6f1c", "9a9a"
            )
        other.pop("livechat", None)
        other.pop("enhanced_chat", None)  # its deployment routes to the demo org's Support queue
        fixture["orgs"].append(other)
    return fixture


def sandbox_user_id(sandbox, org_id: str, username: str) -> str:
    return sandbox.call(lambda: sandbox.world.orgs.get(org_id).user_by_username(username)["Id"])


def make_clean_tenant(sandbox, *, org_id=DEMO_ORG_ID, name="Acme", secret=DEMO_CANVAS_SECRET,
                      admin=ADMIN_USERNAME, site_username="avery") -> Tenant:  # fmt: skip
    """What a superuser creates: the tenant (org id), its Canvas consumer secret, and its admin, who is
    recognised inside Salesforce by their Salesforce user id. Nothing else."""
    tenant = Tenant(name=name, slug=name.lower(), org_id=org_id)
    tenant.full_clean()
    tenant.save()
    SalesforceConnection.objects.create(tenant=tenant, canvas_consumer_secret=secret)
    user = User.objects.create_user(username=site_username, password="correct-horse-battery", is_staff=True)
    Membership.objects.create(
        user=user,
        tenant=tenant,
        role=Membership.Role.ADMIN,
        salesforce_user_id=sandbox_user_id(sandbox, org_id, admin),
    )
    return tenant


def upload_certificate(sim, tenant: Tenant, *, consumer_key=DEMO_CONSUMER_KEY, secret=DEMO_CANVAS_SECRET,
                       integration=DEMO_INTEGRATION_USER, canvas_url="") -> None:  # fmt: skip
    """What the admin does in Salesforce with the certificate the wizard generated."""
    tenant.salesforce.refresh_from_db()
    response = sim.post(
        f"/__sim/orgs/{tenant.org_id}/connected-apps",
        json={
            "consumer_key": consumer_key,
            "consumer_secret": secret,
            "certificate_pem": tenant.salesforce.certificate,
            "preauthorized": [integration],
            "canvas_url": canvas_url,
        },
    )
    assert response.status_code in (200, 201), response.text


def launch(sim, org_id: str, user: str, url: str, **params) -> dict:
    """The sandbox's Canvas launcher: the signed request Salesforce would post."""
    response = sim.get(
        "/__sim/canvas/launch", params={"org": org_id, "user": user, "url": url, "format": "json", **params}
    )
    assert response.status_code == 200, response.text
    return response.json()


def canvas_open(client, sim, page: str = "wizard", org_id: str = DEMO_ORG_ID, user: str = ADMIN_USERNAME,
                **params):  # fmt: skip
    """Post the launcher's signed request to the page's Canvas URL, as Salesforce does; the response."""
    launched = launch(sim, org_id, user, f"http://testserver/console/canvas/{page}/", **params)
    return client.post(f"/console/canvas/{page}/", {"signed_request": launched["signed_request"]})


def canvas_sign_in(client, sim, org_id: str = DEMO_ORG_ID, user: str = ADMIN_USERNAME) -> str:
    """Open the wizard through Canvas; return the console token the page carries (never in a URL)."""
    response = canvas_open(client, sim, "wizard", org_id, user)
    assert response.status_code == 200, response.content.decode()[:500]
    assert not response.has_header("Location")
    return page_token(response)


def page_token(response) -> str:
    """The console token a page hands its htmx requests (body hx-headers), or its error page's renewal."""
    match = re.search(r'"X-Console-Token": "([^"]+)"', response.content.decode())
    if match:
        return match.group(1)
    assert response.has_header("X-Console-Token"), response.content.decode()[:500]
    return response["X-Console-Token"]


def console_headers(token: str, **extra) -> dict:
    """What session.js sends with each htmx request from one of our pages."""
    return {"X-Console-Token": token, "Sec-Fetch-Site": "same-origin", **extra}


@pytest.fixture
def demo_org(sandbox, sim):
    """The demo org and Infobip account (plus a second org) in the sandbox."""
    sandbox.call(sandbox.world.load_fixture, demo_fixture())
    return SimpleNamespace(sandbox=sandbox, sim=sim, org_id=DEMO_ORG_ID, base_url=sandbox.base_url)


@pytest.fixture
def pubsub_at_sandbox(settings, sandbox):
    settings.SALESFORCE_PUBSUB_ENDPOINT = sandbox.world.config.grpc_target
    settings.SALESFORCE_PUBSUB_TLS = False
