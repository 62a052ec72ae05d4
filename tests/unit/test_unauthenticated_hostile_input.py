"""The entry points anyone on the internet can post to (provider webhooks, the bot handover, the Canvas entry)
answer hostile credentials and envelopes with a 4xx that says what is wrong, never a 500, and store nothing.

HTTP header values arrive as latin-1 text (WSGI), so a header may carry any of the characters U+0080 to
U+00FF; a signed request's payload is base64 of whatever JSON the caller chose, parsed before its signature
can be checked (the org it names says which secret to check it with).
"""

from __future__ import annotations

import base64
import json

import pytest
from django.urls import resolve

from portal.api import webhooks
from relay.handover.models import HandoverEndpoint
from relay.inbound.auth import expected_signature
from relay.models import Message
from relay.untrusted import MAX_JSON_DEPTH
from tests.factories import make_account, make_tenant

pytestmark = pytest.mark.django_db

BODY = b"{}"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# (auth mode, headers): every credential header a mode reads, with non-ASCII text where the secret goes.
PROVIDER_CREDENTIALS = {
    "hmac, non-ASCII signature": ("hmac", {"X-Hub-Signature-256": "sha256=\u00e9" + "0" * 63}),
    "hmac, only non-ASCII": ("hmac", {"X-Hub-Signature-256": "\u00ff"}),
    "basic, non-ASCII base64": ("basic", {"Authorization": "Basic \u00e9\u00e9\u00e9\u00e9"}),
    "basic, latin-1 user name": ("basic", {"Authorization": "Basic " + b64("\u00e9:x".encode("latin-1"))}),
    "basic, not UTF-8": ("basic", {"Authorization": "Basic " + b64(b"\xff\xfe:\xff")}),
    "basic, non-ASCII password": ("basic", {"Authorization": "Basic " + b64("u:\u00e9".encode())}),
    "header, non-ASCII token": ("header", {"X-Switchboard-Token": "\u00e9\u00ff"}),
}


@pytest.mark.parametrize("case", PROVIDER_CREDENTIALS, ids=list(PROVIDER_CREDENTIALS))
def test_a_provider_webhook_with_non_ascii_credentials_is_a_401(client, case):
    auth, headers = PROVIDER_CREDENTIALS[case]
    account = make_account(make_tenant(welcome_text=""), webhook_auth=auth)
    response = client.post(account.webhook_path, data=BODY, content_type="application/json", headers=headers)
    assert response.status_code == 401, response.content
    assert response.json()["error"].startswith("authentication failed: ")
    assert Message.objects.count() == 0


def test_the_genuine_signature_still_passes_in_any_letter_case(client):
    account = make_account(make_tenant(welcome_text=""), webhook_auth="hmac")
    signature = expected_signature(str(account.webhook_secret), BODY).upper().replace("SHA256=", "sha256=")
    response = client.post(
        account.webhook_path,
        data=BODY,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature},
    )
    assert response.status_code != 401, response.content  # past authentication (the empty body is no webhook)


HANDOVER_CREDENTIALS = {
    "bearer, non-ASCII token": ("bearer", {"Authorization": "Bearer \u00e9\u00ff"}),
    "hmac, non-ASCII signature": ("hmac", {"X-Hub-Signature-256": "sha256=\u00e9"}),
    "header, non-ASCII token": ("header", {"X-Switchboard-Token": "\u00e9"}),
}


@pytest.mark.parametrize("case", HANDOVER_CREDENTIALS, ids=list(HANDOVER_CREDENTIALS))
def test_a_handover_with_non_ascii_credentials_is_a_401(client, case):
    auth, headers = HANDOVER_CREDENTIALS[case]
    endpoint, _ = HandoverEndpoint.issue(make_tenant(), auth=auth)
    response = client.post(endpoint.path, data=BODY, content_type="application/json", headers=headers)
    assert response.status_code == 401, response.content
    assert Message.objects.count() == 0


SIGNED_REQUEST_PAYLOADS = {
    "100,000 levels": ("[" * 100_000 + "]" * 100_000).encode(),
    "one level too deep": ('{"context": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}").encode(),
    "NaN": b'{"context": NaN}',
    "not UTF-8": b'{"context": "\xff"}',
}


@pytest.mark.parametrize("case", SIGNED_REQUEST_PAYLOADS, ids=list(SIGNED_REQUEST_PAYLOADS))
def test_a_canvas_payload_that_is_not_plain_json_is_a_400(client, case):
    response = client.post(
        "/console/canvas/", {"signed_request": "c2lnbmF0dXJl." + b64(SIGNED_REQUEST_PAYLOADS[case])}
    )
    assert response.status_code == 400, response.content[:300]
    assert "not readable JSON" in response.content.decode()


@pytest.mark.parametrize("header", ["t=1700000000,v1=\u00e9", "t=\u00b2,v1=00", "v1=00", "t=1700000000", ""])
def test_the_partner_signature_check_refuses_a_hostile_header(header):
    """portal.api.webhooks.verify is what docs/partner-api.md gives partners for their endpoints."""
    assert webhooks.verify("s3cret", header, b"{}", now=1_700_000_000) is False
    assert webhooks.verify("s3cret", webhooks.sign("s3cret", 1_700_000_000, b"{}"), b"{}", now=1_700_000_000)


class _StreamNotToRead:
    """A request body that fails the test if anything reads it."""

    def read(self, *args, **kwargs):
        raise AssertionError("the body was read before the credentials the headers carry were checked")

    readline = read


# (where, auth mode, headers): a caller whose headers alone fail the check, whatever body follows.
REFUSED_BY_THEIR_HEADERS = {
    "webhook, hmac, no signature": ("webhook", "hmac", {}),
    "webhook, basic, none": ("webhook", "basic", {}),
    "webhook, basic, wrong": ("webhook", "basic", {"Authorization": "Basic " + b64(b"someone:guess")}),
    "webhook, header, wrong": ("webhook", "header", {"X-Switchboard-Token": "guess"}),
    "handover, hmac, no signature": ("handover", "hmac", {}),
    "handover, bearer, wrong": ("handover", "bearer", {"Authorization": "Bearer guess"}),
    "handover, header, wrong": ("handover", "header", {"X-Switchboard-Token": "guess"}),
}


@pytest.mark.parametrize("case", REFUSED_BY_THEIR_HEADERS, ids=list(REFUSED_BY_THEIR_HEADERS))
def test_credentials_in_the_headers_are_checked_before_the_body_is_read(rf, case):
    """Up to WEBHOOK_MAX_BYTES (16 MiB) of anyone's body was read before a Basic, bearer or token credential
    that needs none of it was looked at: now a caller without them is refused with nothing read."""
    where, auth, headers = REFUSED_BY_THEIR_HEADERS[case]
    tenant = make_tenant(welcome_text="")
    if where == "webhook":
        path = make_account(tenant, webhook_auth=auth).webhook_path
    else:
        path = HandoverEndpoint.issue(tenant, auth=auth)[0].path
    request = rf.post(path, data=b"{" * 1000, content_type="application/json", headers=headers)
    request._stream = _StreamNotToRead()
    match = resolve(path)
    response = match.func(request, *match.args, **match.kwargs)
    assert response.status_code == 401, response.content
    assert json.loads(response.content)["error"].startswith("authentication failed: ")
    assert Message.objects.count() == 0
