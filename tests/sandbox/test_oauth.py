"""OAuth 2.0 JWT bearer flow on the login and My Domain hosts, and the token test hooks."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from sandbox.salesforce.ids import to15

from . import core_support
from .core_support import (
    AGENT,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    INACTIVE,
    INTEGRATION,
    JWT_BEARER,
    ORG_ID,
    SANDBOX_ORG_ID,
    UNAPPROVED,
    V,
    assert_conforms,
    assertion,
    auth,
    create_org,
    keypair,
    mint_token,
    token_request,
)

core_org = core_support.core_org  # fixture


def test_jwt_bearer_issues_a_token_in_salesforce_shape(sandbox, sim, core_org):
    response = token_request(sim, assertion())
    assert response.status_code == 200
    assert_conforms(response, "oauth-token")
    body = response.json()
    assert set(body) == {
        "access_token",
        "signature",
        "scope",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
    }
    org_part, _, secret_part = body["access_token"].partition("!")
    assert org_part == to15(core_org) and len(org_part) == 15 and secret_part
    assert body["instance_url"] == f"{sandbox.base_url}/sim/core"
    user = sandbox.call(lambda: sandbox.world.orgs.get(core_org).user_by_username(INTEGRATION))
    assert body["id"] == f"{sandbox.base_url}/sim/login/id/{core_org}/{user['Id']}"
    assert body["token_type"] == "Bearer"
    assert "interaction_api" in body["scope"].split() and "api" in body["scope"].split()
    assert body["issued_at"].isdigit() and len(body["issued_at"]) == 13  # milliseconds
    expected = hmac.new(CONSUMER_SECRET.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256)
    assert body["signature"] == base64.b64encode(expected.digest()).decode()
    assert response.headers["cache-control"].endswith("private")


def test_token_works_on_the_core_host(sim, core_org):
    token = mint_token(sim)
    assert sim.get(f"{V}/limits", headers=auth(token)).status_code == 200


def test_my_domain_token_endpoint_also_requires_the_login_audience(sandbox, sim, core_org):
    ok = token_request(sim, assertion(), host="core")
    assert ok.status_code == 200
    assert ok.json()["id"].startswith(f"{sandbox.base_url}/sim/core/id/")
    wrong = token_request(sim, assertion(aud=f"{sandbox.base_url}/sim/core"), host="core")
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_grant", "error_description": "audience is invalid"}


def test_sandbox_org_needs_the_test_audience(sim):
    create_org(sim, SANDBOX_ORG_ID, is_sandbox=True)
    key = f"{CONSUMER_KEY}-{SANDBOX_ORG_ID}"
    wrong = token_request(sim, assertion(iss=key))
    assert wrong.json() == {"error": "invalid_grant", "error_description": "audience is invalid"}
    right = token_request(sim, assertion(iss=key, aud="https://test.salesforce.com"))
    assert right.status_code == 200


def test_username_is_case_insensitive(sim, core_org):
    assert token_request(sim, assertion(sub=INTEGRATION.upper())).status_code == 200


def test_audience_may_be_a_list(sim, core_org):
    assert (
        token_request(sim, assertion(aud=["https://example.com", "https://login.salesforce.com"])).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("claims", "error", "description"),
    [
        ({"iss": "3MVG9unknown"}, "invalid_client_id", "client identifier invalid"),
        ({"aud": "https://login.salesforce.com/"}, "invalid_grant", "audience is invalid"),
        ({"aud": "https://acme.my.salesforce.com"}, "invalid_grant", "audience is invalid"),
        ({"exp_in": -120}, "invalid_grant", "expired authorization code"),
        ({"exp_in": 3600}, "invalid_grant", "invalid assertion"),
        ({"sub": UNAPPROVED}, "invalid_grant", "user hasn't approved this consumer"),
        ({"sub": "nobody@acme.test"}, "invalid_grant", "user hasn't approved this consumer"),
        ({"sub": INACTIVE}, "invalid_grant", "inactive user"),
        ({"key": keypair("other")[0]}, "invalid_grant", "invalid assertion"),
        ({"algorithm": "HS256"}, "invalid_grant", "invalid assertion"),
    ],
)
def test_assertion_errors_use_salesforce_bodies(sim, core_org, claims, error, description):
    response = token_request(sim, assertion(**claims))
    assert response.status_code == 400
    assert response.json() == {"error": error, "error_description": description}
    assert_conforms(response, "oauth-token")


def test_exp_in_milliseconds_is_rejected(sim, core_org):
    import time

    response = token_request(sim, assertion(exp=int(time.time() * 1000)))
    assert response.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}


def test_garbage_or_missing_assertion_is_invalid(sim, core_org):
    for value in ("not-a-jwt", ""):
        response = token_request(sim, value)
        assert response.status_code == 400
        assert response.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}


def test_no_certificate_uploaded_means_invalid_assertion(sim):
    create_org(sim, upload_cert=False)
    response = token_request(sim, assertion())
    assert response.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}


@pytest.mark.parametrize("grant_type", ["password", "", "urn:ietf:params:oauth:grant-type:saml2-bearer"])
def test_unsupported_grant_type(sim, core_org, grant_type):
    response = sim.post("/sim/login/services/oauth2/token", data={"grant_type": grant_type})
    assert response.status_code == 400
    assert response.json() == {
        "error": "unsupported_grant_type",
        "error_description": "grant type not supported",
    }


def test_json_body_is_not_a_token_request(sim, core_org):
    response = sim.post(
        "/sim/login/services/oauth2/token", json={"grant_type": JWT_BEARER, "assertion": assertion()}
    )
    assert response.json() == {
        "error": "unsupported_grant_type",
        "error_description": "grant type not supported",
    }


@pytest.mark.parametrize(
    ("form", "body"),
    [
        ({"grant_type": "refresh_token", "refresh_token": "x", "client_id": "nope"},
         {"error": "invalid_client_id", "error_description": "client identifier invalid"}),
        ({"grant_type": "refresh_token", "refresh_token": "x", "client_id": CONSUMER_KEY},
         {"error": "invalid_grant", "error_description": "expired access/refresh token"}),
        ({"grant_type": "client_credentials", "client_id": CONSUMER_KEY, "client_secret": CONSUMER_SECRET},
         {"error": "invalid_grant", "error_description": "no client credentials user enabled"}),
    ],
)  # fmt: skip
def test_other_grants_fail_like_salesforce(sim, core_org, form, body):
    response = sim.post("/sim/login/services/oauth2/token", data=form)
    assert response.status_code == 400
    assert response.json() == body


# --- test hooks --------------------------------------------------------------------------------


def test_expired_token_is_refused_and_a_fresh_one_works(sim, core_org):
    token = mint_token(sim)
    hooked = sim.post(f"/__sim/orgs/{core_org}/tokens/expire", json={"access_token": token})
    assert hooked.status_code == 200 and hooked.json()[0]["valid"] is False
    refused = sim.get(f"{V}/limits", headers=auth(token))
    assert refused.status_code == 401
    assert refused.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert sim.get(f"{V}/limits", headers=auth(mint_token(sim))).status_code == 200


def test_revoke_without_token_revokes_every_token_of_the_org(sim, core_org):
    first, second = mint_token(sim), mint_token(sim, sub=AGENT)
    assert sim.post(f"/__sim/orgs/{core_org}/tokens/revoke", json={}).status_code == 200
    for token in (first, second):
        assert sim.get(f"{V}/limits", headers=auth(token)).status_code == 401


def test_scopes_hook_changes_what_the_token_may_do(sandbox, sim, core_org):
    token = mint_token(sim)
    changed = sim.post(
        f"/__sim/orgs/{core_org}/tokens/scopes", json={"access_token": token, "scopes": ["api"]}
    )
    assert changed.json()[0]["scopes"] == ["api"]
    found = sandbox.call(lambda: sandbox.world.orgs.authenticate(token))
    assert found is not None and not found[1].has_scope("interaction_api")
    sim.post(
        f"/__sim/orgs/{core_org}/tokens/scopes", json={"access_token": token, "scopes": ["interaction_api"]}
    )
    refused = sim.get(f"{V}/limits", headers=auth(token))
    assert refused.status_code == 401
    assert refused.json() == [
        {"message": "This session is not valid for use with the REST API", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_unknown_token_in_hook_is_404(sim, core_org):
    assert sim.post(f"/__sim/orgs/{core_org}/tokens/expire", json={"access_token": "nope"}).status_code == 404
    assert sim.post(f"/__sim/orgs/{core_org}/tokens/scopes", json={"scopes": "api"}).status_code == 400


def test_preauthorize_and_unauthorize_users(sim, core_org):
    base = f"/__sim/orgs/{core_org}/connected-apps/{CONSUMER_KEY}/preauthorized"
    assert token_request(sim, assertion(sub=UNAPPROVED)).status_code == 400
    assert UNAPPROVED in sim.post(base, json={"username": UNAPPROVED}).json()["preauthorized"]
    assert token_request(sim, assertion(sub=UNAPPROVED)).status_code == 200
    assert INTEGRATION not in sim.delete(f"{base}/{INTEGRATION}").json()["preauthorized"]
    response = token_request(sim, assertion())
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "user hasn't approved this consumer",
    }


def test_certificate_upload_replaces_the_key(sim, core_org):
    other_key, other_cert = keypair("rotated")
    url = f"/__sim/orgs/{core_org}/connected-apps/{CONSUMER_KEY}/certificate"
    assert sim.post(url, json={"certificate_pem": other_cert}).status_code == 200
    assert token_request(sim, assertion()).status_code == 400
    assert token_request(sim, assertion(key=other_key)).status_code == 200


def test_certificate_upload_refuses_garbage(sim, core_org):
    url = f"/__sim/orgs/{core_org}/connected-apps/{CONSUMER_KEY}/certificate"
    assert sim.post(url, json={"certificate_pem": "-----BEGIN CERTIFICATE-----\nxx\n"}).status_code == 400
    assert sim.post(f"/__sim/orgs/{core_org}/connected-apps/nope/certificate", json={}).status_code == 404
    assert token_request(sim, assertion()).status_code == 200  # the old certificate still stands


def test_mint_token_hook_issues_a_usable_token(sim, core_org):
    minted = sim.post(f"/__sim/orgs/{core_org}/tokens", json={"username": AGENT, "scopes": ["api"]})
    assert minted.status_code == 201
    token = minted.json()["access_token"]
    assert token.startswith(ORG_ID + "!")
    assert sim.get(f"{V}/limits", headers=auth(token)).status_code == 200
    listed = sim.get(f"/__sim/orgs/{core_org}/tokens").json()
    assert [t["username"] for t in listed] == [AGENT]
    assert sim.post(f"/__sim/orgs/{core_org}/tokens", json={"username": "nobody"}).status_code == 400
